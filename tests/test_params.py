"""The traced numbers (GWRParams, GDMParams): their defaults are the reference memories',
a Python-number params and its arrays give the same network, one compilation serves many
values, vmappable over values, bad values refused naming the field, and the static
configs hold no numbers (docs/gwr.md, "Config and params")."""

import dataclasses
import inspect
import re

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from clifer_jax import gdm, gwr
from gwr_reference import ReferenceGWR
import gwr_jit

pytestmark = pytest.mark.filterwarnings("ignore:GWR network full")

CFG = gwr.GWRConfig(dim=3, capacity=16, num_heads=2, num_classes=3, max_degree=4, context=1)
PARAMS = gwr.GWRParams(max_age=5, activity_threshold=0.6, habituation_threshold=0.8)

# The reference memories (docs/gwr.md): the episodic one, and the semantic one's changes.
EPISODIC = dict(beta=0.7, activity_threshold=0.4, habituation_threshold=0.5, eps_b=0.2, eps_n=0.001,
                tau_b=0.3, tau_n=0.1, kappa=1.05, a_inc=1.0, a_dec=0.1, mod_rate=0.01, max_age=1000)
SEMANTIC = {**EPISODIC, "activity_threshold": 0.2, "habituation_threshold": 0.2, "eps_b": 0.02,
            "max_age": 2000}


def _stream(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(0, 1.0, (n, CFG.dim)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, CFG.num_classes, (n, CFG.num_heads)).astype(np.int32))
    return x, y, jnp.ones((n,), bool)


def _train(cfg, params, x, y, v):
    state = gwr.init_unchecked(cfg, params, x[:2], y[:2])
    return gwr_jit.train_unchecked(cfg, params, state, x, y, v, epochs=2)


def _as_dict(params):
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


def test_defaults_are_the_reference_memories():
    assert _as_dict(gwr.GWRParams()) == EPISODIC
    assert gwr.GWRParams.episodic() == gwr.GWRParams()
    assert _as_dict(gwr.GWRParams.semantic()) == SEMANTIC
    # The NumPy reference's own defaults (written from the spec) are the episodic memory's.
    ref = inspect.signature(ReferenceGWR).parameters
    assert {k: ref[k].default for k in EPISODIC} == EPISODIC
    both = gdm.GDMParams()
    assert both.episodic == gwr.GWRParams.episodic() and both.semantic == gwr.GWRParams.semantic()
    # Every number has a range, and the defaults lie in it.
    assert set(gwr.params.ranges()) == set(EPISODIC)
    gwr.GWRParams().check()
    gwr.GWRParams.semantic().check()


@pytest.mark.parametrize("regulated", [False, True])
def test_python_numbers_and_their_arrays_give_the_same_network(regulated):
    """A GWRParams of Python numbers and its `cast` (what the entry points pass on): the
    same network bit for bit, through the jitted kernel, the kernel run without `jax.jit`
    (the Python numbers are not multiplied in float64 first) and `gwr.train`."""
    cfg = CFG.replace(regulated=regulated)
    x, y, v = _stream()
    for params in (PARAMS.replace(activity_threshold=0.3, tau_b=0.2, beta=0.5),):
        cast = params.cast("float32")
        assert all(isinstance(a, jax.Array) for a in jax.tree.leaves(cast))
        assert cast.max_age.dtype == jnp.int32 and cast.beta.dtype == jnp.float32
        a = _train(cfg, params, x, y, v)
        b = _train(cfg, cast, x, y, v)
        c = gwr.train(cfg, gwr.init(cfg, x[:2], y[:2], params), x, y, v, epochs=2, params=params)
        e = gwr.train_unchecked(cfg, params, gwr.init_unchecked(cfg, params, x[:2], y[:2]), x, y, v, epochs=2)
        assert int(a.num_nodes) > 2
        for other in (b, c, e):
            for p, q in zip(jax.tree.leaves(a), jax.tree.leaves(other)):
                np.testing.assert_array_equal(np.asarray(p), np.asarray(q))
        pa, pb = gwr.predict(cfg, a, x, params), gwr.predict(cfg, b, x, cast)
        pe = gwr.predict_unchecked(cfg, params, a, x)
        for p in (pb, pe):
            np.testing.assert_array_equal(np.asarray(pa.bmu), np.asarray(p.bmu))
            np.testing.assert_array_equal(np.asarray(pa.weights), np.asarray(p.weights))


def test_new_values_do_not_recompile():
    x, y, v = _stream()
    params = PARAMS.cast(CFG.dtype)
    state = gwr.init_unchecked(CFG, params, x[:2], y[:2])
    traces = []

    @jax.jit
    def run(params):
        traces.append(1)                          # runs once per trace
        return gwr_jit.train_unchecked(CFG, params, state, x, y, v).num_nodes

    counts = [int(run(PARAMS.replace(activity_threshold=a).cast(CFG.dtype))) for a in (0.2, 0.5, 0.8)]
    assert len(traces) == 1
    assert counts[0] <= counts[1] <= counts[2] and counts[0] < counts[2]   # a_T takes effect


def test_vmap_over_params_equals_separate_runs():
    x, y, v = _stream()
    values = [0.3, 0.6, 0.9]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *[PARAMS.replace(activity_threshold=a).cast(CFG.dtype)
                                                      for a in values])
    batch = jax.vmap(lambda p: _train(CFG, p, x, y, v))(stacked)
    for i, a in enumerate(values):
        one = _train(CFG, PARAMS.replace(activity_threshold=a).cast(CFG.dtype), x, y, v)
        assert int(batch.num_nodes[i]) == int(one.num_nodes)
        np.testing.assert_allclose(np.asarray(batch.weights[i]), np.asarray(one.weights),
                                   rtol=1e-5, atol=1e-6)
    assert len(set(np.asarray(batch.num_nodes).tolist())) > 1          # the values really differ


def test_bad_params_refused():
    x, y, v = _stream()
    state = gwr.init(CFG, x[:2], y[:2], PARAMS)
    with pytest.raises(ValueError, match=re.escape(
            "params.activity_threshold must be a finite number in (0, 1), got 1.5")):
        gwr.train(CFG, state, x, y, params=PARAMS.replace(activity_threshold=1.5))
    with pytest.raises(ValueError, match="activity_threshold"):
        gwr.train(CFG, state, x, y, params=PARAMS.replace(activity_threshold=jnp.float32(1.5)))
    with pytest.raises(ValueError, match=re.escape("params.max_age must be an integer in [1, inf), got 0")):
        gwr.train(CFG, state, x, y, params=PARAMS.replace(max_age=jnp.int32(0)))
    with pytest.raises(ValueError, match="params.max_age must be an integer"):
        gwr.predict(CFG, state, x, PARAMS.replace(max_age=2.5))
    with pytest.raises(ValueError, match="params.eps_n"):          # any value of a batch
        gwr.check_params(PARAMS.replace(eps_n=jnp.array([0.01, 0.0, 0.5])))
    with pytest.raises(TypeError, match="GWRParams"):
        gwr.train(CFG, state, x, y, params={"beta": 0.5})
    with pytest.raises(TypeError, match="GDMParams"):
        cfg = gdm.GDMConfig(dim=3, capacity=8)
        gdm.init(cfg, np.zeros((4, 3), np.float32), np.zeros(4, np.int32), params=PARAMS)


def test_configs_hold_no_numbers():
    """The numbers live in params: a static config refuses them."""
    with pytest.raises(TypeError, match="activity_threshold"):
        gwr.GWRConfig(dim=3, activity_threshold=0.3)
    with pytest.raises(TypeError, match="max_age"):
        gwr.GWRConfig(dim=3, max_age=10)
    with pytest.raises(TypeError, match="activity_threshold"):
        gdm.GDMConfig(dim=3, capacity=8, activity_threshold=0.3)
    assert not {f.name for f in dataclasses.fields(gwr.GWRConfig)} & set(EPISODIC)
    assert not {f.name for f in dataclasses.fields(gdm.GDMConfig)} & set(EPISODIC)


def test_gdm_params_change_only_their_memory():
    """An episodic number in `GDMParams` leaves the semantic memory's numbers at the
    reference's, and where the memories train apart (`learn_extra` trains each on the same
    samples) changes only the episodic memory; a semantic number leaves the episodic memory
    of a class step (without replay) as it was."""
    cfg = gdm.GDMConfig(dim=3, capacity=16, num_classes=3, batch_size=4, epochs=2)
    changed = gdm.GDMParams(episodic=gwr.GWRParams(activity_threshold=0.7))
    assert changed.semantic == gwr.GWRParams.semantic()
    assert changed.episodic == gwr.GWRParams.episodic().replace(activity_threshold=0.7)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (2, 8, 3)).astype(np.float32)
    y = np.stack([np.zeros(8, np.int32), np.ones(8, np.int32)])
    base = gdm.init(cfg, x[0], y[0])

    def same(a, b):
        return all(np.array_equal(np.asarray(p), np.asarray(q))
                   for p, q in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    a = gdm.learn_extra(cfg, base, x[1], y[1])
    b = gdm.learn_extra(cfg, base, x[1], y[1], params=changed)
    assert same(a.semantic, b.semantic)
    assert not same(a.episodic, b.episodic)
    assert int(b.episodic.num_nodes) > int(a.episodic.num_nodes)     # a higher a_T inserts more

    semantic = gdm.GDMParams(semantic=gwr.GWRParams.semantic().replace(activity_threshold=0.9, eps_b=0.5))
    c = gdm.learn_class(cfg, base, x[1], y[1])
    d = gdm.learn_class(cfg, base, x[1], y[1], params=semantic)
    assert same(c.episodic, d.episodic)
    assert not same(c.semantic, d.semantic)
    pc, pd = gdm.predict(cfg, c, x[1]), gdm.predict(cfg, d, x[1], params=semantic)
    np.testing.assert_array_equal(np.asarray(pc.episodic.labels), np.asarray(pd.episodic.labels))
