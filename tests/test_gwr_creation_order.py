"""Creation stamps and creation order (the reference's node order), and the two
prediction contexts for K > 0, against the NumPy reference."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from clifer_jax import gdm, gwr
from clifer_jax.gwr.call_end import remove_isolated_nodes
from gwr_jit import split
from gwr_reference import ReferenceGWR
from test_gwr_reference import clustered_stream

pytestmark = pytest.mark.filterwarnings("ignore:GWR network full")


def match_nodes(state, ref, atol):
    """Slot of the kernel's node that is each of the reference's nodes 0..n−1 (by weights).

    Independent of the creation stamps, so a network that grew differently fails here
    and not only in the order check."""
    n = int(ref.active.sum())
    assert ref.active[:n].all() and not ref.active[n:].any(), "the reference is not compacted"
    slots = np.flatnonzero(np.asarray(state.active))
    assert len(slots) == n, f"{len(slots)} nodes against the reference's {n}"
    w = np.asarray(state.weights)[slots].reshape(n, -1)
    r = ref.W[:n].reshape(n, -1)
    gap = np.abs(r[:, None] - w[None]).max(axis=-1)                 # [ref node, slot]
    nearest = gap.argmin(axis=1)
    assert gap.min(axis=1).max() < atol, "a reference node has no counterpart"
    assert len(set(nearest.tolist())) == n, "two reference nodes match one slot"
    return slots[nearest]


def assert_same_compacted_network(state, ref, atol=1e-5):
    """The kernel's network equals a compacting reference's, node for node; returns the
    slots in the reference's (creation) order."""
    perm = match_nodes(state, ref, atol)
    n = len(perm)
    assert int(state.num_nodes) == n
    ix = np.ix_(perm, perm)
    np.testing.assert_array_equal(np.asarray(gwr.edge_matrix(state))[ix], ref.edges[:n, :n])
    np.testing.assert_array_equal(np.asarray(gwr.temporal_matrix(state))[ix], ref.temporal[:n, :n])
    np.testing.assert_allclose(np.asarray(state.weights)[perm], ref.W[:n], atol=atol)
    np.testing.assert_allclose(np.asarray(state.habituation)[perm], ref.h[:n], atol=atol)
    np.testing.assert_allclose(np.asarray(state.label_hist)[:, perm], ref.hist[:, :n], atol=atol)
    assert int(state.refused_insertions) == ref.refused
    return perm


def reused_slot(state) -> bool:
    """Some node sits in a lower slot than an older node (a freed slot was reused)."""
    created = np.asarray(state.created)[np.asarray(state.active)]
    return bool(np.any(np.diff(created) < 0))


def test_a_reused_slot_keeps_the_creation_order():
    """Slot 1 is freed (isolated at the end of a call), the next insertion takes it:
    creation order puts that node last, and replay walks it last."""
    cfg = gwr.GWRConfig(dim=2, capacity=6, num_classes=3)
    params = gwr.GWRParams(max_age=100, activity_threshold=0.5, habituation_threshold=0.5)
    pts = np.array([[0, 0], [5, 5], [0, 1], [1, 0]], np.float32)
    state = gwr.init(cfg, pts[:2], np.array([[0], [1]], np.int32), params)
    edges = np.zeros((6, 6), bool)
    for i, j in [(0, 2), (0, 3), (2, 3)]:
        edges[i, j] = edges[j, i] = True                              # slot 1 has no edge
    state = state.replace(
        weights=state.weights.at[2:4, 0].set(pts[2:]),
        sq_norms=state.sq_norms.at[2:4, 0].set(np.sum(pts[2:] ** 2, axis=1)),
        active=state.active.at[2:4].set(True),
        habituation=jnp.full(6, 0.1, jnp.float32).at[4:].set(0.0),    # habituated: may insert
        label_hist=state.label_hist.at[0, 2:4].set(jnp.eye(3)[jnp.array([2, 0])]),
        created=state.created.at[2:4].set(jnp.array([2, 3])), next_id=jnp.array(4, jnp.int32),
        num_nodes=jnp.array(4, jnp.int32))
    state = gwr.with_topology(state, edges=edges)
    state = remove_isolated_nodes(cfg, state)
    assert not bool(state.active[1])
    # A far sample: BMU 0 (activity < a_T, h < h_T) inserts into the lowest free slot.
    state = gwr.train(cfg, state, np.array([[-3.0, -3.0]], np.float32), np.array([[1]], np.int32),
                      remove_isolated=False, params=params)
    assert bool(state.active[1]) and int(state.num_nodes) == 4
    assert int(state.created[1]) == 4 and int(state.next_id) == 5
    np.testing.assert_array_equal(np.asarray(gwr.creation_order(state)), [0, 2, 3, 1, 4, 5])
    p = gdm.pseudo_samples_unchecked(state, 1)
    w = np.asarray(state.weights[:, 0])
    np.testing.assert_array_equal(np.asarray(p.samples[:4, 0]), w[[0, 2, 3, 1]])
    np.testing.assert_array_equal(np.asarray(p.labels[:4, 0]), [0, 2, 0, 1])
    np.testing.assert_array_equal(np.asarray(p.valid), [1, 1, 1, 1, 0, 0])
    # A tie in a temporal row goes to the older node (slot 2, stamp 2), not the lower slot.
    temporal = np.asarray(gwr.temporal_matrix(state)).copy()
    temporal[0, 1] = temporal[0, 2] = 3
    tied = gwr.with_topology(state, temporal=temporal)
    path = gdm.pseudo_samples_unchecked(tied, 2).samples[0, :, :]
    np.testing.assert_array_equal(np.asarray(path), w[[0, 2]])
    # Vmapped states: one order per network.
    both = jax.tree.map(lambda a, b: jnp.stack([a, b]), state, gwr.init(cfg, pts[:2], params=params))
    np.testing.assert_array_equal(np.asarray(gwr.creation_order(both)),
                                  [[0, 2, 3, 1, 4, 5], [0, 1, 2, 3, 4, 5]])


def test_kernel_matches_compacting_reference_across_reused_slots():
    """Three calls with short edge lives: nodes are removed and their slots reused. The
    network equals the compacting reference's, and creation order is its node order."""
    kw = dict(dim=4, capacity=40, max_age=6, activity_threshold=0.6, habituation_threshold=0.7,
              eps_n=0.01, num_heads=2)
    cfg, params = split(kw)
    xs, ys, _ = clustered_stream(3, 150, cfg.dim, heads=2, spread=0.3)
    state = gwr.init(cfg, xs[:2], ys[:2], params)
    ref = ReferenceGWR(**kw, compact=True)
    ref.init(xs[:2].astype(np.float64), ys[:2])
    reused = False
    for call in range(3):
        sl = slice(50 * call, 50 * (call + 1))
        state = gwr.train(cfg, state, xs[sl], ys[sl], epochs=2, params=params)
        ref.train(xs[sl].astype(np.float64), ys[sl], epochs=2)
        perm = assert_same_compacted_network(state, ref)
        np.testing.assert_array_equal(np.asarray(gwr.creation_order(state))[:len(perm)], perm)
        reused |= reused_slot(state)
    assert reused, "the stream should reuse a freed slot"


def test_isolated_nodes_beyond_the_floor_are_removed_oldest_first():
    """Four isolated nodes, the floor of two binds: the two oldest go, whatever their slots."""
    cfg = gwr.GWRConfig(dim=1, capacity=4)
    state = gwr.init(cfg, np.zeros((2, 1), np.float32))
    state = state.replace(active=jnp.ones(4, bool), num_nodes=jnp.array(4, jnp.int32),
                          habituation=jnp.ones(4), created=jnp.array([5, 2, 7, 3], jnp.int32),
                          next_id=jnp.array(8, jnp.int32))
    kept = remove_isolated_nodes(cfg, state)
    np.testing.assert_array_equal(np.asarray(kept.active), [True, False, True, False])


@pytest.mark.parametrize("mode", ["bmu", "input"])
def test_prediction_context_for_k_above_zero(mode):
    """K = 2: "bmu" blends the previous BMU's weights as training does; "input" puts the
    previous raw input in every context row, as the reference's test routine."""
    kw = dict(dim=3, capacity=30, context=2, max_age=20, activity_threshold=0.6,
              habituation_threshold=0.7, eps_n=0.01)
    cfg, params = split({**kw, "predict_context": mode})
    xs, ys, _ = clustered_stream(4, 80, cfg.dim, spread=0.3)
    state = gwr.train(cfg, gwr.init(cfg, xs[:2], ys[:2], params), xs, ys, epochs=2, params=params)
    ref = ReferenceGWR(**kw, predict_context=mode)
    ref.init(xs[:2].astype(np.float64), ys[:2])
    ref.train(xs.astype(np.float64), ys, epochs=2)
    test = xs[::-1][:30]
    pred = gwr.predict(cfg, state, test, params)
    bmu, act, labels, weights = ref.predict(test.astype(np.float64))
    np.testing.assert_array_equal(np.asarray(pred.bmu), bmu)
    np.testing.assert_array_equal(np.asarray(pred.labels), labels)
    np.testing.assert_allclose(np.asarray(pred.activity), act, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(pred.weights), weights, atol=1e-5)
    # By hand for the "input" context: sample i's context rows are all sample i−1.
    alpha = cfg.context_weights().astype(np.float64)
    w = np.asarray(state.weights, np.float64)
    prev = np.concatenate([np.zeros((1, 3)), test[:-1]])
    g = np.stack([test, prev, prev], axis=1)                          # [B, 3, D]
    d = (np.linalg.norm(g[:, None] - w[None], axis=-1) * alpha).sum(-1)
    d[:, ~np.asarray(state.active)] = np.inf
    by_input = d.argmin(axis=1)
    other = gwr.predict(cfg.replace(predict_context="bmu" if mode == "input" else "input"), state, test, params)
    if mode == "input":
        np.testing.assert_array_equal(np.asarray(pred.bmu), by_input)
    assert np.any(np.asarray(other.bmu) != np.asarray(pred.bmu)), "the two contexts should differ here"


def test_prediction_context_is_validated_and_ignored_at_k0():
    with pytest.raises(ValueError, match="predict_context"):
        gwr.GWRConfig(dim=2, predict_context="previous")
    cfg = gwr.GWRConfig(dim=2, capacity=8)
    xs = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    state = gwr.train(cfg, gwr.init(cfg, xs[:2]), xs)
    a = gwr.predict(cfg, state, xs)
    b = gwr.predict(cfg.replace(predict_context="input"), state, xs)
    np.testing.assert_array_equal(np.asarray(a.bmu), np.asarray(b.bmu))
