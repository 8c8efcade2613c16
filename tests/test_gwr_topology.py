"""The neighbour-list topology (docs/gwr.md, "Topology"): the same networks as the former
dense N×N kernel, bit for bit; the overflow rules against the NumPy reference; list edits."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from clifer_jax import gdm, gwr
from gwr_reference import ReferenceGWR
import gwr_jit
from gwr_jit import split
from test_gwr_reference import assert_same_network, clustered_stream

FIXTURE = "tests/data/dense_kernel.npz"       # written by tests/data/make_dense_kernel_fixture.py


def stream(seed, n, dim, classes=5, spread=0.25):
    """The fixture's stream: class centres with a slow drift, so BMU sequences have structure."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1, 1, (classes, dim))
    y = rng.integers(0, classes, n)
    x = centres[y] + spread * rng.standard_normal((n, dim)) + 0.002 * np.arange(n)[:, None]
    return x.astype(np.float32), y.astype(np.int32)


def dense_view(st) -> dict:
    """A state as the dense kernel stored it: N×N edges, births and temporal counts."""
    out = {"edges": gwr.edge_matrix(st), "edge_birth": gwr.birth_matrix(st), "temporal": gwr.temporal_matrix(st)}
    for f in ("weights", "sq_norms", "active", "habituation", "label_hist", "created", "t", "pruned_at",
              "num_nodes", "next_id", "refused_insertions", "prev_bmu", "prev_weights"):
        out[f] = getattr(st, f)
    return {k: np.asarray(v) for k, v in out.items()}


def gwr_scenarios():
    """(name, config, params) of the fixture's three single-network runs."""
    return (("episodic", gwr.episodic_config(8, 160, context=2),
             gwr.GWRParams.episodic().replace(activity_threshold=0.7, habituation_threshold=0.5, max_age=30)),
            ("semantic", gwr.semantic_config(8, 96),
             gwr.GWRParams.semantic().replace(activity_threshold=0.75, habituation_threshold=0.9,
                                              eps_b=0.05, mod_rate=0.5, max_age=45)),
            ("dense_rows", gwr.episodic_config(8, 128, row_updates="dense"),
             gwr.GWRParams.episodic().replace(activity_threshold=0.7, max_age=20)))


def assert_same_as_fixture(fixture, prefix, st):
    view = dense_view(st)
    for name, got in view.items():
        np.testing.assert_array_equal(got, fixture[prefix + name], err_msg=prefix + name)
    assert np.all(np.asarray(st.edge_overflow) == 0) and np.all(np.asarray(st.temporal_overflow) == 0)


@pytest.mark.filterwarnings("ignore:GWR network full")
@pytest.mark.parametrize("index", range(3), ids=[s[0] for s in gwr_scenarios()])
def test_gwr_equals_dense_kernel(index):
    """Three public training calls (blocks, padding, pruning, node removal, slot reuse), with
    every array the dense kernel kept equal bit for bit."""
    fixture = np.load(FIXTURE)
    name, cfg, params = gwr_scenarios()[index]
    xs, ys = stream(3, 600, cfg.dim)
    heads = np.repeat(ys[:, None], cfg.num_heads, axis=1)
    st = gwr.init(cfg, xs[:2], heads[:2], params)
    for call in range(3):
        sl = slice(2 + 199 * call, 2 + 199 * (call + 1))
        st = gwr.train(cfg, st, xs[sl], heads[sl], epochs=2, params=params)
        assert_same_as_fixture(fixture, f"{name}/call{call}/", st)


def test_gdm_replay_equals_dense_kernel():
    """GDM + replay, two subjects vmapped, three class steps: both memories equal the dense
    kernel's bit for bit (the replay walks the temporal lists)."""
    fixture = np.load(FIXTURE)
    cfg = gdm.GDMConfig(dim=8, capacity=80, semantic_capacity=40, num_classes=3, context=1,
                        batch_size=5, epochs=2, replay_epochs=2, extra_epochs=2)
    params = gdm.GDMParams(
        episodic=gwr.GWRParams.episodic().replace(activity_threshold=0.6, max_age=40),
        semantic=gwr.GWRParams.semantic().replace(activity_threshold=0.7, habituation_threshold=0.9,
                                                  eps_b=0.05, mod_rate=0.5, max_age=60))
    xs, ys = [], []
    for subject in range(2):
        x, y = stream(10 + subject, 3 * 24, cfg.dim, classes=3)
        order = np.argsort(y, kind="stable")
        xs.append(x[order].reshape(3, 24, -1))
        ys.append(y[order].reshape(3, 24))
    xs, ys = np.stack(xs), np.stack(ys)
    mask = np.ones(ys.shape[:1] + ys.shape[2:], bool)
    p = params.cast(cfg.dtype)
    init = jax.jit(jax.vmap(gdm.init_unchecked, in_axes=(None, None, 0, 0, 0)), static_argnums=0)
    learn = jax.jit(jax.vmap(gdm.learn_class_unchecked, in_axes=(None, None, 0, 0, 0, 0, None)),
                    static_argnums=(0, 6))
    st = init(cfg, p, jnp.asarray(xs[:, 0]), jnp.asarray(ys[:, 0]), jnp.asarray(mask))
    for c in range(3):
        st = learn(cfg, p, st, jnp.asarray(xs[:, c]), jnp.asarray(ys[:, c]), jnp.asarray(mask), True)
        for m in ("episodic", "semantic"):
            assert_same_as_fixture(fixture, f"gdm/class{c}/{m}/", getattr(st, m))


# -- the overflow rules, against the NumPy reference's own implementation of them -----------

@pytest.mark.parametrize("max_degree", [2, 3, 4])
@pytest.mark.parametrize("context", [0, 2])
def test_overflow_rules_match_reference(max_degree, context):
    """Lists of 2–4 entries on a stream that grows nodes of higher degree: edges give way
    oldest first and successors fewest-transitions first, as the reference (which keeps an
    N×N matrix and applies the same rules) does; the counters agree."""
    kw = dict(dim=5, capacity=40, max_age=60, activity_threshold=0.6, habituation_threshold=0.7,
              eps_n=0.02, context=context, max_degree=max_degree)
    cfg, params = split(kw)
    xs, ys, valid = clustered_stream(4, 240, cfg.dim, classes=3, spread=0.3)
    state = gwr.init(cfg, xs[:2], ys[:2], params)
    ref = ReferenceGWR(**kw)
    ref.init(xs[:2].astype(np.float64), ys[:2])
    for call in range(2):
        sl = slice(120 * call, 120 * (call + 1))
        state = gwr_jit.train_unchecked(cfg, params.cast(cfg.dtype), state, jnp.asarray(xs[sl]),
                                        jnp.asarray(ys[sl]), jnp.asarray(valid[sl]), epochs=2)
        ref.train(xs[sl].astype(np.float64), ys[sl], valid[sl], epochs=2)
        assert_same_network(cfg, state, ref)
        assert int(state.edge_overflow) == ref.edge_overflow
        assert int(state.temporal_overflow) == ref.temporal_overflow
    assert int(state.edge_overflow) > 0 and int(state.temporal_overflow) > 0, "the stream should overflow"
    degree = np.asarray(gwr.edge_matrix(state)).sum(axis=1)
    assert degree.max() <= max_degree


def test_overflow_warns_at_the_boundary():
    cfg = gwr.GWRConfig(dim=5, capacity=40, max_degree=2)
    xs, ys, _ = clustered_stream(4, 120, 5, classes=3, spread=0.3)
    params = gwr.GWRParams(activity_threshold=0.6, habituation_threshold=0.7, max_age=60)
    state = gwr.init(cfg, xs[:2], ys[:2], params)
    with pytest.warns(RuntimeWarning, match="neighbour lists full"):
        gwr.train(cfg, state, xs, ys, params=params)


@pytest.mark.filterwarnings("ignore:GWR neighbour lists full")
def test_lists_are_symmetric_and_clean():
    """After a call: every edge listed at both ends with one birth, no duplicates, free slots
    with empty lists and no list naming them."""
    cfg = gwr.GWRConfig(dim=6, capacity=64, max_degree=8)
    xs, ys, _ = clustered_stream(2, 300, 6, classes=4)
    params = gwr.GWRParams(activity_threshold=0.55, max_age=15)
    state = gwr.train(cfg, gwr.init(cfg, xs[:2], ys[:2], params), xs, ys, epochs=2, params=params)
    e, b = np.asarray(gwr.edge_matrix(state)), np.asarray(gwr.birth_matrix(state))
    np.testing.assert_array_equal(e, e.T)
    np.testing.assert_array_equal(b, b.T)
    ids = np.asarray(state.neighbours)
    for row in ids:
        used = row[row >= 0]
        assert len(set(used.tolist())) == used.size
    free = ~np.asarray(state.active)
    assert np.all(ids[free] == -1) and np.all(np.asarray(state.successors)[free] == -1)
    assert not np.isin(ids, np.flatnonzero(free)).any()
    assert not np.isin(np.asarray(state.successors), np.flatnonzero(free)).any()


def test_with_topology_round_trip_and_errors():
    cfg = gwr.GWRConfig(dim=3, capacity=6, max_degree=2)
    st = gwr.init(cfg, np.eye(3)[:2], params=gwr.GWRParams())
    edges = np.zeros((6, 6), bool)
    edges[0, 1] = edges[1, 0] = edges[1, 2] = edges[2, 1] = True
    temporal = np.zeros((6, 6), np.int32)
    temporal[0, 1], temporal[1, 2] = 3, 1
    st2 = gwr.with_topology(st, edges=edges, birth=5, temporal=temporal)
    np.testing.assert_array_equal(np.asarray(gwr.edge_matrix(st2)), edges)
    np.testing.assert_array_equal(np.asarray(gwr.birth_matrix(st2)), np.where(edges, 5, 0))
    np.testing.assert_array_equal(np.asarray(gwr.temporal_matrix(st2)), temporal)
    star = np.zeros((6, 6), bool)
    star[0, 1:4] = star[1:4, 0] = True
    with pytest.raises(ValueError, match="more than max_degree = 2"):
        gwr.with_topology(st, edges=star)
    with pytest.raises(ValueError, match="symmetric"):
        gwr.with_topology(st, edges=np.triu(edges))


def test_gdm_warns_when_lists_overflow():
    """A GDM with lists of 2 on clustered data: the class step warns and names the fix."""
    cfg = gdm.GDMConfig(dim=5, capacity=40, semantic_capacity=20, num_classes=3, max_degree=2,
                        batch_size=5, epochs=2)
    params = gdm.GDMParams(episodic=gwr.GWRParams.episodic().replace(activity_threshold=0.9, max_age=200))
    xs, ys, _ = clustered_stream(5, 40, 5, classes=3, spread=0.3)
    state = gdm.init(cfg, xs, ys[:, 0], params=params)
    with pytest.warns(RuntimeWarning, match="episodic memory: .* gave way .* raise GDMConfig.max_degree"):
        gdm.learn_class(cfg, state, xs, ys[:, 0], params=params)
