"""The paired translation term (docs/caae.md, "Paired translation"): partners of the same
identity and target class, the term's gradient, and that it is off by default."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clifer_jax.caae import config as C
from clifer_jax.caae import train as T
from test_caae_train import TINY


def faces(identities=6, per_class=2, seed=0):
    """Faces that are an identity's brightness plus an expression's band: [N, 32, 32, 1]
    uint8, labels, identities. Every identity shows every expression `per_class` times
    (slight noise)."""
    rng = np.random.default_rng(seed)
    who = np.broadcast_to(np.linspace(10, 120, identities)[:, None, None, None], (identities, 32, 32, 1))
    what = np.zeros((6, 32, 32, 1))
    for c in range(6):
        what[c, 4 * c:4 * c + 6, :, 0] = 120.0                   # a band per expression
    x, y, u = [], [], []
    for i in range(identities):
        for c in range(6):
            for _ in range(per_class):
                x.append(who[i] + what[c] + rng.normal(0, 3, (32, 32, 1)))
                y.append(c)
                u.append(i)
    return np.clip(x, 0, 255).astype(np.uint8), np.asarray(y, np.int32), np.asarray(u, np.int32)


def test_partners_share_the_identity_and_show_the_target():
    _, y, u = faces()
    keep = ~((u == 2) & (y == 4))                                  # identity 2 never shows class 4
    y, u = y[keep], u[keep]
    table = T.PairTable(u * 10, y, 6)                              # identity labels need not be 0..n-1
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(y), 500)
    targets = rng.integers(0, 6, 500)
    partner, has = table.partners(idx, targets, rng)
    assert np.all(u[partner][has] == u[idx][has]) and np.all(y[partner][has] == targets[has])
    assert np.array_equal(~has, (u[idx] == 2) & (targets == 4))
    assert len(set(partner[(u[idx] == 0) & (targets == 1)].tolist())) == 2   # both faces drawn


def test_step_conditions_are_the_steps_own():
    """The host draws partners for the c' the jitted step translates to."""
    key, y = jax.random.key(5), jnp.arange(8) % 6
    k_c, _ = jax.random.split(key)
    np.testing.assert_array_equal(T.step_conditions(key, y, 6), T._other_condition(k_c, y, 6))


def test_the_paired_term_is_zero_at_the_partner_and_falls_when_descended():
    """The pixel and latent terms are 0 when the translation is the partner face, count only
    rows that have a partner, and Adam steps on the term alone move G(E(x_a), c') to x_b."""
    import optax

    cfg = TINY.replace(paired_weight=1.0, paired_latent_weight=1.0)
    x, y, u = faces(per_class=1)
    params = T.CAAEState.create(cfg, jax.random.key(0), 10).ae_params
    idx = np.arange(0, len(y), 3)
    targets = (y[idx] + 1) % 6
    partner, has = T.PairTable(u, y, 6).partners(idx, targets, np.random.default_rng(0))
    xb = jnp.asarray(x[idx], jnp.float32) / 127.5 - 1.0
    pair = jnp.asarray(x[partner], jnp.float32) / 127.5 - 1.0
    mask = jnp.asarray(has)
    assert [float(v) for v in T._paired_terms(cfg, params, pair, pair, mask)] == [0.0, 0.0]
    shifted = pair.at[0].add(0.5)
    pixel, _ = T._paired_terms(cfg, params, shifted, pair, mask)
    assert float(pixel) == pytest.approx(0.5 / len(idx), rel=1e-5)
    assert float(T._paired_terms(cfg, params, shifted, pair, mask.at[0].set(False))[0]) == 0.0

    def loss(p):
        trans = T._forward_ae(cfg, p, xb, jnp.asarray(y[idx]), jnp.asarray(targets))[2]
        return T._paired_terms(cfg, p, trans, pair, mask)[0]

    opt = optax.adam(3e-3)
    state = opt.init(params)
    first = float(loss(params))
    step = jax.jit(lambda p, s: (lambda g: (optax.apply_updates(p, opt.update(g, s, p)[0]),
                                             opt.update(g, s, p)[1]))(jax.grad(loss)(p)))
    for _ in range(40):
        params, state = step(params, state)
    assert float(loss(params)) < 0.5 * first


def test_training_reports_the_paired_terms_only_when_on():
    x, y, u = faces(per_class=1)
    _, hist = T.train(TINY.replace(paired_weight=1.0, paired_latent_weight=0.1, epochs=1), x, y,
                      progress=False, identities=u)
    assert hist[0]["paired_l1"] > 0 and hist[0]["paired_z"] > 0
    _, plain = T.train(TINY.replace(epochs=1), x, y, progress=False)
    assert "paired_l1" not in plain[0]


def test_pairs_need_identities_and_weights_are_checked():
    x, y, _ = faces()
    with pytest.raises(ValueError, match="needs each face's identity"):
        T.train(TINY.replace(paired_weight=1.0), x, y, progress=False)
    with pytest.raises(ValueError, match="paired_weight"):
        C.cpu().replace(paired_weight=-1.0)
    assert C.paper().paired_weight == 0 and C.cpu().paired_weight == 0
