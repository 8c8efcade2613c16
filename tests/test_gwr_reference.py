"""The jitted Gamma-GWR kernel against the independent NumPy reference (SPEC §2)."""

import numpy as np
import pytest

import jax.numpy as jnp

from clifer_jax import gwr
from gwr_reference import ReferenceGWR
import gwr_jit
from gwr_jit import split


def clustered_stream(seed, n, dim, classes=4, spread=0.15, heads=1, pad_every=0):
    """Samples around a few class centres, labelled by centre; optional padding rows."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1, 1, (classes, dim))
    y = rng.integers(0, classes, n)
    x = centres[y] + spread * rng.standard_normal((n, dim))
    ys = np.repeat(y[:, None], heads, axis=1)
    if heads > 1:                      # an unlabelled second head on some samples
        ys[rng.random(n) < 0.2, 1] = -1
    valid = np.ones(n, bool)
    if pad_every:
        valid[::pad_every] = False
        x[~valid] = 1e3                # garbage in padded rows must not matter
    return x.astype(np.float32), ys.astype(np.int32), valid


def assert_same_network(cfg, state, ref, atol=1e-5):
    np.testing.assert_array_equal(np.asarray(state.active), ref.active)
    assert int(state.num_nodes) == int(ref.active.sum())
    np.testing.assert_array_equal(np.asarray(gwr.edge_matrix(state)), ref.edges)
    np.testing.assert_array_equal(np.asarray(gwr.temporal_matrix(state)), ref.temporal)
    np.testing.assert_allclose(np.asarray(state.weights), ref.W, atol=atol)
    np.testing.assert_allclose(np.asarray(state.habituation), ref.h, atol=atol)
    np.testing.assert_allclose(np.asarray(state.label_hist), ref.hist, atol=atol)
    assert int(state.refused_insertions) == ref.refused


CASES = {
    "episodic-K0": dict(context=0, num_heads=2),
    "episodic-K2": dict(context=2, num_heads=2),
    "episodic-K2-gdm-distance": dict(context=2, num_heads=1, distance="gdm"),
    "episodic-no-inactivity-scaling": dict(context=0, inactivity_scaling=False),
    "semantic-K0": dict(context=0, regulated=True, activity_threshold=0.6,
                        habituation_threshold=0.9, eps_b=0.05, mod_rate=0.5),
    "semantic-K2": dict(context=2, regulated=True, activity_threshold=0.6,
                        habituation_threshold=0.9, eps_b=0.05, mod_rate=0.5),
    "full-network": dict(context=0, max_nodes=12, num_heads=2),
}


def train_beside_reference(name: str, padded: bool, **config):
    """A reference case (CASES[name]) trained by the kernel and by the NumPy reference in
    two calls (the context restarts, pruning and node removal run twice), compared after
    each. Returns (cfg, state, ref, xs)."""
    kw = dict(dim=6, capacity=48, max_age=25, activity_threshold=0.5, habituation_threshold=0.6,
              eps_n=0.01)
    kw.update(CASES[name])
    cfg, params = split({**kw, **config})
    xs, ys, valid = clustered_stream(1, 160, cfg.dim, heads=cfg.num_heads, pad_every=7 if padded else 0)

    state = gwr.init(cfg, xs[:2], ys[:2], params)
    ref = ReferenceGWR(**kw)
    ref.init(xs[:2].astype(np.float64), ys[:2])
    for call in range(2):
        sl = slice(80 * call, 80 * (call + 1))
        state = gwr_jit.train_unchecked(cfg, params.cast(cfg.dtype), state, jnp.asarray(xs[sl]),
                                        jnp.asarray(ys[sl]), jnp.asarray(valid[sl]), epochs=3)
        ref.train(xs[sl].astype(np.float64), ys[sl], valid[sl], epochs=3)
        assert_same_network(cfg, state, ref)
    assert int(state.num_nodes) > 4, "the stream should grow the network"
    return cfg, params, state, ref, xs


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
def test_kernel_matches_numpy_reference(name, padded):
    cfg, params, state, ref, xs = train_beside_reference(name, padded)

    pred = gwr.predict(cfg, state, xs[:40], params)
    bmu, act, labels, weights = ref.predict(xs[:40].astype(np.float64))
    np.testing.assert_array_equal(np.asarray(pred.bmu), bmu)
    np.testing.assert_array_equal(np.asarray(pred.labels), labels)
    np.testing.assert_allclose(np.asarray(pred.activity), act, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(pred.weights), weights, atol=1e-5)


def test_full_network_counts_refusals_and_warns():
    cfg = gwr.GWRConfig(dim=4, capacity=16, max_nodes=5)
    params = gwr.GWRParams(activity_threshold=0.9, habituation_threshold=1.0)
    xs, ys, _ = clustered_stream(2, 60, 4, classes=6, spread=1.0)
    state = gwr.init(cfg, xs[:2], ys[:2], params)
    with pytest.warns(RuntimeWarning, match="insertions refused"):
        state = gwr.train(cfg, state, xs, ys, params=params)
    assert int(state.refused_insertions) > 0
    assert int(state.num_nodes) <= 5
    assert int(np.asarray(state.active).sum()) == int(state.num_nodes)


@pytest.mark.parametrize("updates, survives", [(3, True), (4, False)])
def test_edge_pruned_only_when_older_than_max_age(updates, survives):
    """An edge set at age 0 survives max_age further updates and is pruned after one more."""
    cfg = gwr.GWRConfig(dim=2, capacity=8)
    params = gwr.GWRParams(max_age=3, activity_threshold=1e-6,
                           habituation_threshold=1e-6)       # never insert: only adapt
    nodes = np.array([[0.0, 0.0], [0.1, 0.0]], np.float32)
    state = gwr.init(cfg, nodes, np.zeros((2, 1), np.int32), params)
    # A third node, linked to node 0 at the current clock (age 0), far from the data.
    state = state.replace(
        weights=state.weights.at[2, 0].set(jnp.array([9.0, 9.0])),
        sq_norms=state.sq_norms.at[2, 0].set(162.0),
        active=state.active.at[2].set(True),
        habituation=state.habituation.at[2].set(1.0),
        num_nodes=jnp.array(3, jnp.int32),
    )
    edges = np.zeros((8, 8), bool)
    edges[0, 2] = edges[2, 0] = True
    state = gwr.with_topology(state, edges=edges, birth=int(state.t))
    xs = jnp.zeros((updates, 2), jnp.float32)                # BMU 0, second 1: ages edge 0-2
    out = gwr_jit.train_unchecked(cfg, params.cast(cfg.dtype), state, xs, jnp.zeros((updates, 1), jnp.int32),
                                  jnp.ones(updates, bool), epochs=1, remove_isolated=False)
    assert int(out.t) == updates
    edges = np.asarray(gwr.edge_matrix(out))
    assert edges[0, 1]                                       # refreshed every step
    assert edges[0, 2] == survives and edges[2, 0] == survives
