"""CLIFER's step: imagination in the memories' feature space, and the imagination set in
the reference's order (docs/design.md, "The CLIFER step")."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from clifer_jax import clifer, features, gdm
from clifer_jax.classes import INDEX
import gwr_jit

pytestmark = pytest.mark.filterwarnings("ignore:.*memory full")

D, L, C = 4, 6, 6


def _state_and_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (L, D)).astype(np.float32)
    y = np.full(L, INDEX["Neutral"], np.int32)
    mask = np.ones(L, bool)
    mask[-1] = False
    cfg = gdm.GDMConfig(dim=D, capacity=32, semantic_capacity=16, epochs=2)
    state = gdm.init(cfg, x, y, mask)
    state = gdm.learn_class(cfg, state, x, y, mask)
    return cfg, state, x, mask


P = gdm.GDMParams().cast("float32")     # the memories' numbers, as the entry points pass them


def _transform():
    return features.FeatureTransform(mean=jnp.array([0.5, -1.0, 2.0, 0.0]), std=jnp.array([0.1, 3.0, 0.5, 2.0]))


def test_identity_imagination_returns_the_bmus_under_a_nontrivial_transform():
    cfg, state, x, mask = _state_and_data()
    imagine = features.in_feature_space(lambda p, z, c: z)          # a perfect "keep the face" CAAE
    tf = _transform()
    samples, labels, valid = clifer.imagination_set_unchecked(cfg, P, state, x, mask, imagine, (None, tf))
    bmu = gwr_jit.predict_unchecked(cfg.episodic, P.episodic, state.episodic, x).weights[:, 0]
    block = np.asarray(samples[: L * (1 + C)]).reshape(L, 1 + C, D)
    for k in range(1 + C):
        np.testing.assert_allclose(block[:, k], bmu, rtol=1e-5, atol=1e-5)


def test_imagination_maps_latents_back_into_feature_space():
    """G and E work on latents: the imagined latent P[c] must reach the memories as
    forward(P[c]); the old path handed the memories P[c] itself."""
    cfg, state, x, mask = _state_and_data()
    protos = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (C, D)), jnp.float32)
    seen = []

    def latent_imagine(p, z, c):
        seen.append(z)
        return protos[c]

    tf = _transform()
    imagine = features.in_feature_space(latent_imagine)
    samples, labels, _ = clifer.imagination_set_unchecked(cfg, P, state, x, mask, imagine, (None, tf))
    block = np.asarray(samples[: L * (1 + C)]).reshape(L, 1 + C, D)
    block_labels = np.asarray(labels[: L * (1 + C)]).reshape(L, 1 + C)
    for k in range(1, 1 + C):
        want = np.asarray(tf.forward(protos[block_labels[:, k]]))
        np.testing.assert_allclose(block[:, k], want, rtol=1e-5, atol=1e-5)
    bmu = gwr_jit.predict_unchecked(cfg.episodic, P.episodic, state.episodic, x).weights[:, 0]
    np.testing.assert_allclose(np.asarray(seen[0])[:: C], np.asarray(tf.inverse(bmu)), rtol=1e-5, atol=1e-5)


def _tagging_imagine(params, v, c):
    return v + 100.0 * (c[:, None] + 1).astype(v.dtype)


@pytest.mark.parametrize("times", [1, 2])
def test_imagination_set_in_the_reference_order(times):
    cfg, state, x, mask = _state_and_data()
    ccfg = clifer.CLIFERConfig(times=times)
    samples, labels, valid = map(np.asarray, clifer.imagination_set_unchecked(cfg, P, state, x, mask, _tagging_imagine,
                                                                              clifer_config=ccfg))
    bmu = gwr_jit.predict_unchecked(cfg.episodic, P.episodic, state.episodic, x)
    v, v_lab = np.asarray(bmu.weights[:, 0]), np.asarray(bmu.labels[:, 0])
    ref_classes = [INDEX[n] for n in ("Anger", "Fear", "Happiness", "Sadness", "Surprise", "Neutral")]
    want_s, want_l, want_v = [], [], []
    for _ in range(times):                        # the reference: for each BMU, v then c in its order
        for i in range(L):
            want_s.append(v[i]); want_l.append(v_lab[i]); want_v.append(mask[i])
            for c in ref_classes:
                want_s.append(v[i] + 100.0 * (c + 1)); want_l.append(c); want_v.append(mask[i])
    ep = state.episodic
    created = np.argsort(~np.asarray(ep.active), kind="stable")
    if hasattr(ep, "created"):                    # creation stamps: walk nodes as they were made
        created = np.lexsort((np.asarray(ep.created), ~np.asarray(ep.active)))
    hist = np.asarray(ep.label_hist[0])
    for j in created:
        want_s.append(np.asarray(ep.weights[j, 0])); want_l.append(hist[j].argmax()); want_v.append(bool(ep.active[j]))
    n = len(want_s)
    assert samples.shape == (n, D)
    np.testing.assert_array_equal(valid, np.array(want_v))
    np.testing.assert_array_equal(labels[valid], np.array(want_l)[np.array(want_v)])
    np.testing.assert_allclose(samples[valid], np.array(want_s)[np.array(want_v)], rtol=1e-6, atol=1e-4)


def test_block_order_stays_available():
    cfg, state, x, mask = _state_and_data()
    samples, labels, valid = clifer.imagination_set_unchecked(cfg, P, state, x, mask, _tagging_imagine,
                                                              clifer_config=clifer.CLIFERConfig(order="blocks"))
    labels = np.asarray(labels)
    assert np.all(labels[L:L * (1 + C)].reshape(C, L) == np.array(clifer.REFERENCE_CLASS_ORDER)[:, None])


def _scaled_imagine(params, v, c):
    """A traced-parameter imagination: v moved along a class direction scaled by params."""
    return v + params["scale"] * jax.nn.one_hot(c % D, D, dtype=v.dtype)


_KERNEL = jax.jit(clifer.learn_class_unchecked, static_argnames=("config", "imagine", "clifer_config"))


def test_validated_learn_class_equals_the_kernel():
    """`clifer.learn_class` (checked, jitted) gives the state `learn_class_unchecked` gives
    on the same inputs (the kernel jitted on its own: the entry point adds nothing but
    checks and the cast of params); so do the oracle and "none" imaginations."""
    cfg, state, x, mask = _state_and_data()
    y = np.full(L, INDEX["Happiness"], np.int32)
    ip = {"scale": jnp.float32(0.5)}
    cases = [
        (dict(imagine=_scaled_imagine, imagine_params=ip), {}),
        (dict(clifer_config=clifer.CLIFERConfig(imagination="none")), {}),
        (dict(clifer_config=clifer.CLIFERConfig(imagination="oracle", times=2)),
         {"table": np.random.default_rng(2).normal(0, 1, (L, C, D)).astype(np.float32)}),
    ]
    for kw, extra in cases:
        got = clifer.learn_class(cfg, state, x, y, mask, **kw, **extra)
        extra = {k: jnp.asarray(v) for k, v in extra.items()}
        want = _KERNEL(cfg, P, state, jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask), **kw, **extra)
        assert int(got.episodic.num_nodes) > int(state.episodic.num_nodes)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # params are the memories' numbers: GDMParams() by default, others change the result
    other = gdm.GDMParams(episodic=gdm.GDMParams().episodic.replace(activity_threshold=0.9))
    a = clifer.learn_class(cfg, state, x, y, mask, imagine=_scaled_imagine, imagine_params=ip,
                           params=gdm.GDMParams())
    b = clifer.learn_class(cfg, state, x, y, mask, imagine=_scaled_imagine, imagine_params=ip, params=other)
    assert int(b.episodic.num_nodes) > int(a.episodic.num_nodes)


def test_validated_learn_class_refuses_bad_imagination_and_arguments():
    cfg, state, x, mask = _state_and_data()
    y = np.full(L, INDEX["Happiness"], np.int32)
    wrong_shape = lambda p, v, c: v[:, :2]                  # noqa: E731
    with pytest.raises(ValueError, match=r"imagine must return floats \[B, D\] = \[3, 4\].*\[3, 2\]"):
        clifer.learn_class(cfg, state, x, y, mask, imagine=wrong_shape)
    with pytest.raises(ValueError, match="imagine must return floats"):
        clifer.learn_class(cfg, state, x, y, mask, imagine=lambda p, v, c: c)    # ints [B]
    with pytest.raises(TypeError, match="imagine"):
        clifer.learn_class(cfg, state, x, y, mask, imagine="not a function")
    with pytest.raises(TypeError, match="imagine"):
        clifer.learn_class(cfg, state, x, y, mask)                               # "caae" needs one
    with pytest.raises(TypeError, match="failed when traced"):
        clifer.learn_class(cfg, state, x, y, mask, imagine=lambda v, c: v)       # the old signature
    with pytest.raises(ValueError, match=r"table \[L, C, D\]"):
        clifer.learn_class(cfg, state, x, y, mask, clifer_config=clifer.CLIFERConfig(imagination="oracle"))
    with pytest.raises(TypeError, match="config must be a GDMConfig"):
        clifer.learn_class(state, cfg, x, y, mask, imagine=_tagging_imagine)    # swapped arguments
    with pytest.raises(TypeError, match="clifer_config"):
        clifer.learn_class(cfg, state, x, y, mask, imagine=_tagging_imagine, clifer_config="reference")
    with pytest.raises(ValueError, match=r"labels of valid samples must lie in \[0, 6\)"):
        clifer.learn_class(cfg, state, x, y + 10, mask, imagine=_tagging_imagine)
    with pytest.raises(ValueError, match="does not match config"):
        clifer.learn_class(cfg.replace(capacity=64), state, x, y, mask, imagine=_tagging_imagine)


def test_clifer_config_and_transform_errors():
    with pytest.raises(ValueError, match="order"):
        clifer.CLIFERConfig(order="shuffled")
    with pytest.raises(ValueError, match="times"):
        clifer.CLIFERConfig(times=0)
    with pytest.raises(ValueError, match="unknown feature transform"):
        features.fit(np.zeros((4, 3)), "whiten")
    with pytest.raises(ValueError, match="NaN"):
        features.fit(np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="positive"):
        features.FeatureTransform.from_dict({"mean": [0.0, 0.0], "std": [1.0, 0.0]})


def test_transform_fit_roundtrip(tmp_path):
    z = np.random.default_rng(0).normal(2.0, 3.0, (200, 5)).astype(np.float32)
    tf = features.fit(z, "pool")
    f = np.asarray(tf.forward(z))
    np.testing.assert_allclose(f.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(f.std(0), 1, atol=1e-3)
    np.testing.assert_allclose(np.asarray(tf.inverse(tf.forward(z))), z, rtol=1e-5, atol=1e-4)
    features.save(tmp_path / "t.json", tf, "pool")
    back, kind = features.load(tmp_path / "t.json")
    assert kind == "pool"
    np.testing.assert_array_equal(np.asarray(back.mean), np.asarray(tf.mean))
    ident = features.fit(z, "none")
    np.testing.assert_array_equal(np.asarray(ident.forward(z)), z)
