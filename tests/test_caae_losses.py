"""CAAE losses against small NumPy references."""

import jax
import jax.numpy as jnp
import numpy as np

from clifer_jax.caae import losses


def _rng():
    return np.random.default_rng(0)


def test_l1_matches_numpy():
    a, b = _rng().normal(size=(2, 3, 4, 5, 1)).astype(np.float32)
    np.testing.assert_allclose(losses.l1_loss(a, b), np.mean(np.abs(a - b)), rtol=1e-6)


def test_total_variation_matches_numpy_loops():
    x = _rng().normal(size=(2, 5, 4, 3)).astype(np.float32)
    b, h, w, c = x.shape
    sy = sum((x[n, i + 1, j, k] - x[n, i, j, k]) ** 2 for n in range(b) for i in range(h - 1)
             for j in range(w) for k in range(c))
    sx = sum((x[n, i, j + 1, k] - x[n, i, j, k]) ** 2 for n in range(b) for i in range(h)
             for j in range(w - 1) for k in range(c))
    ref = (0.5 * sy / h + 0.5 * sx / w) / b
    np.testing.assert_allclose(losses.total_variation(jnp.asarray(x)), ref, rtol=1e-5)
    assert float(losses.total_variation(jnp.ones((2, 4, 4, 1)))) == 0.0


def test_adversarial_losses_match_numpy():
    r, f = _rng().normal(size=(2, 7)).astype(np.float32)
    sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    ref_d = -np.mean(np.log(sig(r))) - np.mean(np.log(1 - sig(f)))
    np.testing.assert_allclose(losses.d_loss(r, f), ref_d, rtol=1e-5)
    np.testing.assert_allclose(losses.g_loss(f), -np.mean(np.log(sig(f))), rtol=1e-5)


def test_class_loss_matches_numpy():
    logits = _rng().normal(size=(4, 6)).astype(np.float32)
    y = np.array([0, 5, 2, 2])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(losses.class_loss(logits, y), -np.mean(np.log(p[np.arange(4), y])), rtol=1e-5)


def test_identity_loss_zero_on_equal_and_grad_flows_only_to_second():
    feats = lambda x: (x * 2.0, jnp.mean(x, axis=(1, 2)))  # noqa: E731
    x = jnp.asarray(_rng().normal(size=(2, 4, 4, 1)), jnp.float32)
    assert float(losses.identity_loss(feats, x, x)) == 0.0
    y = x + 0.5
    np.testing.assert_allclose(losses.identity_loss(feats, x, y), (1.0 + 0.5) / 2, rtol=1e-6)
    gx = jax.grad(lambda a: losses.identity_loss(feats, a, y))(x)
    assert float(jnp.max(jnp.abs(gx))) == 0.0

