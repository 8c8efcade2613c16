"""The traced hyperparameters (GWRParams, GDMParams): same results as the config's values,
one compilation for many values, vmappable over values, bad values refused (docs/gwr.md)."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from clifer_jax import gdm, gwr
import gwr_jit

pytestmark = pytest.mark.filterwarnings("ignore:GWR network full")

CFG = gwr.GWRConfig(dim=3, capacity=16, max_age=5, activity_threshold=0.6, habituation_threshold=0.8,
                    num_heads=2, num_classes=3, max_degree=4, context=1)


def _stream(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(0, 1.0, (n, CFG.dim)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, CFG.num_classes, (n, CFG.num_heads)).astype(np.int32))
    return x, y, jnp.ones((n,), bool)


def _train(cfg, params, x, y, v):
    state = gwr.init_unchecked(cfg, x[:2], y[:2], params)
    return gwr_jit.train_unchecked(cfg, state, x, y, v, epochs=2, params=params)


@pytest.mark.parametrize("regulated", [False, True])
def test_params_equal_config_values(regulated):
    """Training with params from a config matches training with the config's constants; a
    changed value in params matches the config with that value."""
    x, y, v = _stream()
    for cfg in (CFG.replace(regulated=regulated),
                CFG.replace(regulated=regulated, activity_threshold=0.3, tau_b=0.2, beta=0.5)):
        base = CFG.replace(regulated=regulated)
        a = _train(cfg, None, x, y, v)
        b = _train(base, cfg.params(), x, y, v)   # base's statics, cfg's numbers
        np.testing.assert_array_equal(np.asarray(a.active), np.asarray(b.active))
        np.testing.assert_array_equal(np.asarray(a.edges), np.asarray(b.edges))
        np.testing.assert_allclose(np.asarray(a.weights), np.asarray(b.weights), rtol=1e-5, atol=1e-6)
        pa, pb = gwr.predict(cfg, a, x), gwr.predict(base, b, x, cfg.params())
        np.testing.assert_array_equal(np.asarray(pa.bmu), np.asarray(pb.bmu))


def test_new_values_do_not_recompile():
    x, y, v = _stream()
    state = gwr.init_unchecked(CFG, x[:2], y[:2])
    traces = []

    @jax.jit
    def run(params):
        traces.append(1)                          # runs once per trace
        return gwr_jit.train_unchecked(CFG, state, x, y, v, params=params).num_nodes

    counts = [int(run(CFG.replace(activity_threshold=a).params())) for a in (0.2, 0.5, 0.8)]
    assert len(traces) == 1
    assert counts[0] <= counts[1] <= counts[2] and counts[0] < counts[2]   # a_T takes effect


def test_vmap_over_params_equals_separate_runs():
    x, y, v = _stream()
    values = [0.3, 0.6, 0.9]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *[CFG.replace(activity_threshold=a).params()
                                                      for a in values])
    batch = jax.vmap(lambda p: _train(CFG, p, x, y, v))(stacked)
    for i, a in enumerate(values):
        one = _train(CFG.replace(activity_threshold=a), None, x, y, v)
        assert int(batch.num_nodes[i]) == int(one.num_nodes)
        np.testing.assert_allclose(np.asarray(batch.weights[i]), np.asarray(one.weights),
                                   rtol=1e-5, atol=1e-6)


def test_bad_params_refused():
    x, y, v = _stream()
    state = gwr.init(CFG, x[:2], y[:2])
    with pytest.raises(ValueError, match="activity_threshold"):
        gwr.train(CFG, state, x, y, params=CFG.params().replace(activity_threshold=jnp.float32(1.5)))
    with pytest.raises(ValueError, match="max_age"):
        gwr.train(CFG, state, x, y, params=CFG.params().replace(max_age=jnp.int32(0)))
    with pytest.raises(TypeError, match="GWRParams"):
        gwr.train(CFG, state, x, y, params={"beta": 0.5})
    with pytest.raises(TypeError, match="GDMParams"):
        cfg = gdm.reference_config(dim=3, episodic_capacity=8)
        gdm.init(cfg, np.zeros((4, 3), np.float32), np.zeros(4, np.int32), params=CFG.params())


def test_gdm_params_match_config():
    cfg = gdm.reference_config(dim=3, episodic_capacity=16, num_classes=3, batch_size=4, epochs=2,
                               replay=True)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (2, 8, 3)).astype(np.float32)
    y = np.stack([np.zeros(8, np.int32), np.ones(8, np.int32)])
    changed = cfg.replace(episodic=cfg.episodic.replace(activity_threshold=0.7))
    params = changed.params()
    a = gdm.init(changed, x[0], y[0])
    b = gdm.init(cfg, x[0], y[0], params=params)
    for c in range(2):
        a = gdm.learn_class(changed, a, x[c], y[c])
        b = gdm.learn_class(cfg, b, x[c], y[c], params=params)
    for mem in ("episodic", "semantic"):
        np.testing.assert_array_equal(np.asarray(getattr(a, mem).active), np.asarray(getattr(b, mem).active))
        np.testing.assert_allclose(np.asarray(getattr(a, mem).weights), np.asarray(getattr(b, mem).weights),
                                   rtol=1e-5, atol=1e-6)
    pa = gdm.predict(changed, a, x[1])
    pb = gdm.predict(cfg, b, x[1], params=params)
    np.testing.assert_array_equal(np.asarray(pa.episodic.labels), np.asarray(pb.episodic.labels))


def test_reference_config_memory_overrides():
    cfg = gdm.reference_config(dim=3, episodic_capacity=8, episodic={"activity_threshold": 0.3},
                               semantic={"eps_b": 0.05}, epochs=3)
    assert cfg.episodic.activity_threshold == 0.3 and cfg.semantic.eps_b == 0.05 and cfg.epochs == 3
    assert cfg.semantic.activity_threshold == 0.2                         # the other memory untouched
    with pytest.raises(TypeError, match="episodic=.*activity_threshold"):
        gdm.reference_config(dim=3, activity_threshold=0.3)
    with pytest.raises(TypeError, match="unknown setting 'epoch'"):
        gdm.reference_config(dim=3, epoch=3)
