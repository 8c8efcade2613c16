"""Invariants of the Gamma-GWR state (hypothesis) and its composition under jit/vmap/scan."""

import functools
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jax
import jax.numpy as jnp

from clifer_jax import gwr
from clifer_jax.gwr.call_end import end_call, remove_isolated_nodes
import gwr_jit

pytestmark = pytest.mark.filterwarnings("ignore:GWR network full")

CFG = gwr.GWRConfig(dim=3, capacity=12, max_nodes=10, num_heads=2, num_classes=3, max_degree=4)
PARAMS = gwr.GWRParams(max_age=6, activity_threshold=0.7, habituation_threshold=0.8, eps_n=0.05)
P = PARAMS.cast(CFG.dtype)                 # what the kernels receive from the entry points


@st.composite
def streams(draw, n_max=30):
    n = draw(st.integers(4, n_max))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(0, draw(st.sampled_from([0.3, 1.0, 3.0])), (n, CFG.dim)).astype(np.float32)
    y = rng.integers(-1, CFG.num_classes, (n, CFG.num_heads)).astype(np.int32)
    valid = rng.random(n) < draw(st.sampled_from([0.5, 0.9, 1.0]))
    return x, y, valid


def check_invariants(state):
    active = np.asarray(state.active)
    edges = np.asarray(gwr.edge_matrix(state))
    h = np.asarray(state.habituation)
    ids = np.asarray(state.neighbours)
    assert np.all(ids[~active] == -1) and np.all(np.asarray(state.successors)[~active] == -1)
    assert edges.sum() == (ids >= 0).sum()                              # no duplicate entries
    np.testing.assert_array_equal(edges, edges.T)                       # symmetric
    assert not edges[~active].any() and not edges[:, ~active].any()     # no edge to a free slot
    assert not np.diag(edges).any()                                     # no self-loops
    assert np.all((h[active] > 0) & (h[active] <= 1))                   # habituation in (0, 1]
    assert int(state.num_nodes) == int(active.sum())
    created = np.asarray(state.created)[active]                         # distinct creation stamps
    assert len(set(created.tolist())) == len(created) and np.all(created < int(state.next_id))
    assert np.all(np.asarray(state.weights)[~active] == 0)              # free slots are clean
    assert np.all(np.asarray(state.label_hist) >= 0)
    assert int(state.num_nodes) <= int(state.max_nodes)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.integers(1, 3), st.booleans())
def test_invariants_hold_after_training(stream, epochs, regulated):
    cfg = CFG.replace(regulated=regulated)
    x, y, valid = stream
    state = gwr.init_unchecked(cfg, P, jnp.asarray(x[:2]), jnp.asarray(y[:2]))
    # pad to a fixed length so every example reuses one compilation
    pad = 30 - len(x)
    xs = jnp.asarray(np.pad(x, ((0, pad), (0, 0))))
    ys = jnp.asarray(np.pad(y, ((0, pad), (0, 0)), constant_values=-1))
    vs = jnp.asarray(np.pad(valid, (0, pad)))
    for _ in range(2):
        state = gwr_jit.train_unchecked(cfg, P, state, xs, ys, vs, epochs=epochs)
        check_invariants(state)
    assert int(state.num_nodes) >= 2


@settings(max_examples=20, deadline=None)
@given(streams(n_max=12), st.integers(0, 11))
def test_padded_step_changes_nothing(stream, at):
    x, y, valid = stream
    state = gwr_jit.train_unchecked(CFG, P, gwr.init_unchecked(CFG, P, jnp.asarray(x[:2]), jnp.asarray(y[:2])),
                                    jnp.asarray(np.resize(x, (12, 3))), jnp.asarray(np.resize(y, (12, 2))),
                                    jnp.ones(12, bool), remove_isolated=False)
    after = jax.jit(gwr.step_unchecked, static_argnums=0)(CFG, P, state, jnp.asarray(x[at % len(x)]),
                                                          jnp.asarray(y[at % len(y)]), jnp.asarray(False))
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(after)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _stream(seed, n=40):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 1, (n, CFG.dim)).astype(np.float32),
            rng.integers(0, CFG.num_classes, (n, CFG.num_heads)).astype(np.int32))


def test_python_loop_of_steps_equals_scan():
    x, y = _stream(3)
    s0 = gwr.init_unchecked(CFG, P, jnp.asarray(x[:2]), jnp.asarray(y[:2]))
    step = jax.jit(gwr.step_unchecked, static_argnums=0)
    loop = gwr_jit.train_unchecked(CFG, P, s0, jnp.zeros((0, 3)), jnp.zeros((0, 2), jnp.int32),
                                   jnp.zeros(0, bool), remove_isolated=False)   # resets the context
    for xi, yi in zip(x, y):
        loop = step(CFG, P, loop, jnp.asarray(xi), jnp.asarray(yi), jnp.asarray(True))
    loop = end_call(CFG, P, loop, remove_isolated=False)
    scan = gwr_jit.train_unchecked(CFG, P, s0, jnp.asarray(x), jnp.asarray(y), jnp.ones(len(x), bool),
                                   remove_isolated=False)
    for a, b in zip(jax.tree.leaves(loop), jax.tree.leaves(scan)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    assert int(scan.num_nodes) > 2


def test_vmap_over_8_networks_equals_separate_runs():
    streams_ = [_stream(s) for s in range(8)]
    xs = jnp.asarray(np.stack([s[0] for s in streams_]))
    ys = jnp.asarray(np.stack([s[1] for s in streams_]))
    valid = jnp.asarray(np.random.default_rng(0).random((8, 40)) < 0.85)
    init = jax.vmap(gwr.init_unchecked, in_axes=(None, None, 0, 0))(CFG, P, xs[:, :2], ys[:, :2])
    batched = jax.jit(jax.vmap(lambda s, x, y, v: gwr_jit.train_unchecked(CFG, P, s, x, y, v, epochs=2)))(
        init, xs, ys, valid)
    for i in range(8):
        single = gwr.train(CFG, gwr.init(CFG, xs[i, :2], ys[i, :2], PARAMS), xs[i], ys[i], valid[i], epochs=2,
                           params=PARAMS)
        for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(batched)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b)[i], atol=1e-6)
    assert len(set(np.asarray(batched.num_nodes).tolist())) > 1     # the runs really differ


def test_second_call_does_not_recompile_and_keeps_dtypes():
    x, y = _stream(4)
    s0 = gwr.init(CFG, x[:2], y[:2], PARAMS)
    s1 = gwr.train(CFG, s0, x, y, params=PARAMS)
    size = gwr_jit.train_unchecked._cache_size()
    s2 = gwr.train(CFG, s1, x[::-1].copy(), y[::-1].copy(), params=PARAMS)
    assert gwr_jit.train_unchecked._cache_size() == size
    for a, b in zip(jax.tree.leaves(s0), jax.tree.leaves(s2)):
        assert a.shape == b.shape and a.dtype == b.dtype


def test_kernel_runs_under_strict_dtype_promotion():
    x, y = _stream(5)
    with jax.numpy_dtype_promotion("strict"):
        s = gwr.train(CFG.replace(context=2), gwr.init(CFG.replace(context=2), x[:2], y[:2], PARAMS), x, y,
                      params=PARAMS)
        p = gwr.predict(CFG.replace(context=2), s, x, PARAMS)
    assert p.labels.shape == (40, 2)


def test_isolated_nodes_removed_but_never_below_two():
    cfg, params = CFG, PARAMS.replace(max_age=1)
    x, y = _stream(6, n=30)
    s = gwr.train(cfg, gwr.init(cfg, x[:2], y[:2], params), x, y, epochs=3, params=params)
    edges = np.asarray(gwr.edge_matrix(s))
    active = np.asarray(s.active)
    assert int(s.num_nodes) >= 2
    if int(s.num_nodes) > 2:
        assert edges[active].any(axis=1).all()     # no isolated node left above the floor
    # Two far-apart nodes and nothing else: both isolated, both kept.
    two = gwr.init(cfg, np.array([[0, 0, 0], [9, 9, 9]], np.float32), np.zeros((2, 2), np.int32), params)
    kept = remove_isolated_nodes(cfg, two)
    assert int(kept.num_nodes) == 2 and bool(kept.active[:2].all())


def test_loop_body_copies_no_large_array():
    """A step must not copy an N×D or N×k array (XLA inserts `copy` ops
    when an in-place update is unsafe). Looks at the compiled HLO outside ENTRY."""
    import re

    n, d = 64, 7
    cfg = gwr.GWRConfig(dim=d, capacity=n, num_heads=2)
    xs = jnp.zeros((10, d))
    ys = jnp.zeros((10, 2), jnp.int32)
    params = gwr.GWRParams().cast(cfg.dtype)                # traced, as the entry points pass them
    state = gwr.init_unchecked(cfg, params, xs[:2], ys[:2])
    hlo = gwr_jit.train_unchecked.lower(cfg, params, state, xs, ys, jnp.ones(10, bool),
                                        epochs=1).compile().as_text()
    body = hlo.split("\nENTRY")[0]                                      # every computation but the entry one
    k = cfg.max_degree
    big = re.findall(rf"= (?:f32\[{n},1,{d}\]|s32\[{n},{k}\])\S* copy\(", body)
    assert big == [], big
    assert "while" in hlo                           # the scan really is a loop


def test_lazy_pruning_equals_pruning_the_array_after_every_epoch():
    """`train` prunes by clock between epochs and clears the lists once per call; a scan
    that clears them after every epoch (the reference's schedule) ends identical, also
    when lists of 3 overflow."""
    from clifer_jax.gwr.train import start_call

    @functools.partial(jax.jit, static_argnums=(0, 6))
    def eager(cfg, params, st, xs, ys, valid, epochs):
        def sample(s, inp):
            return gwr.step_unchecked(cfg, params, s, *inp), None

        def epoch(s, _):
            s, _ = jax.lax.scan(sample, s, (xs, ys, valid))
            return end_call(cfg, params, s, remove_isolated=False), None

        st, _ = jax.lax.scan(epoch, start_call(st), None, length=epochs)
        return remove_isolated_nodes(cfg, st)

    rng = np.random.default_rng(0)
    pruned = 0
    for max_age in (1, 2, 5):
        cfg = gwr.GWRConfig(dim=3, capacity=30, max_degree=3)
        params = gwr.GWRParams(max_age=max_age, activity_threshold=0.6, habituation_threshold=0.7)
        p = params.cast(cfg.dtype)
        xs = jnp.asarray(rng.uniform(-1, 1, (40, 3)).astype(np.float32))
        ys = jnp.full((40, 1), -1)
        valid = jnp.asarray(rng.uniform(size=40) > 0.2)
        lazy = physical = gwr.init(cfg, xs[:2], params=params)
        for _ in range(2):
            lazy = gwr_jit.train_unchecked(cfg, p, lazy, xs, ys, valid, epochs=4)
            physical = eager(cfg, p, physical, xs, ys, valid, 4)
            for field in ("weights", "sq_norms", "active", "habituation", "label_hist", "t", "num_nodes",
                          "edge_overflow", "temporal_overflow", "pruned_at", "created", "next_id"):
                np.testing.assert_array_equal(getattr(lazy, field), getattr(physical, field), err_msg=field)
            for view in (gwr.edge_matrix, gwr.birth_matrix, gwr.temporal_matrix):
                np.testing.assert_array_equal(view(lazy), view(physical), err_msg=view.__name__)
        # Pruning really changed the outcome (against never pruning).
        never = gwr.init(cfg, xs[:2], params=params)
        for _ in range(2):
            never = gwr_jit.train_unchecked(cfg, params.replace(max_age=10**6).cast(cfg.dtype), never, xs, ys,
                                            valid, epochs=4)
        pruned += int(np.sum(np.asarray(gwr.edge_matrix(never)) != np.asarray(gwr.edge_matrix(lazy))))
    assert pruned > 0
