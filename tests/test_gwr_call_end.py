"""The end of a training call without N×N passes (docs/gwr.md, "The end of a call").

`train.end_call` prunes the expired edges found through the edge log, finds isolated
nodes from `edge_newest` and clears at most max_degree removed nodes' temporal links by
index; it falls back to the N×N passes when the log does not reach back far enough or
more nodes go. Checked here: the same states as the N×N end (`prune_old_edges` then
`remove_isolated_nodes`) whichever way it goes, how often it falls back, and that the
compiled call does no N×N work outside the per-sample loop but in those fallbacks.
"""

import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clifer_jax import gwr
from clifer_jax.gwr import call_end
from clifer_jax.gwr import state as state_mod
from hlo import computations, full_pass_bodies, reachable

train_mod = sys.modules["clifer_jax.gwr.train"]

BOOKKEEPING = ("full_passes",)


def n2_call(cfg, params, state, xs, ys, valid, epochs, remove_isolated):
    """A training call ending with the N×N passes, as the kernel ended its calls before
    the edge log (the NumPy reference tests pin those functions)."""
    def sample(s, inp):
        return gwr.step_unchecked(cfg, params, s, *inp), None

    def epoch(s, _):
        s, _ = jax.lax.scan(sample, s, (xs, ys, valid))
        return call_end.mark_pruned(s), None

    state, _ = jax.lax.scan(epoch, train_mod.start_call(state), None, length=epochs)
    state = call_end.prune_old_edges(cfg, params, state)
    return call_end.remove_isolated_nodes(cfg, state) if remove_isolated else state


def run_calls(cfg, params, x, y, calls, epochs, remove_isolated, fn):
    """`calls` calls of 10 samples each (one compilation per function and config)."""
    params = params.cast(cfg.dtype)
    state = gwr.init_unchecked(cfg, params, x[:2], y[:2])
    for c in range(calls):
        xs, ys = x[c * 10:(c + 1) * 10], y[c * 10:(c + 1) * 10]
        state = fn(cfg, params, state, xs, ys, jnp.ones(len(xs), bool), epochs, remove_isolated)
    return state


_kernel = jax.jit(lambda cfg, p, s, x, y, v, e, r: gwr.train_unchecked(cfg, p, s, x, y, v, epochs=e,
                                                                      remove_isolated=r),
                  static_argnums=(0, 6, 7))
_n2 = jax.jit(n2_call, static_argnums=(0, 6, 7))


def assert_same(a, b):
    for f in a.__dataclass_fields__:
        if f not in BOOKKEEPING:
            np.testing.assert_array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)), err_msg=f)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edge_log=st.sampled_from([0, 4, 16, 4096]), max_degree=st.sampled_from([1, 64]),
       max_age=st.sampled_from([2, 6, 40]), calls=st.sampled_from([1, 3, 6]),
       remove_isolated=st.booleans(), seed=st.integers(0, 2**16))
def test_call_end_equals_the_n2_passes(edge_log, max_degree, max_age, calls, remove_isolated, seed):
    """Short edge lives (nodes lose every edge and go, slots are reused), logs shorter and
    longer than a call, few and many removals: the same state as the N×N end. max_age is
    traced (`GWRParams`), so its values share a compilation."""
    cfg = gwr.GWRConfig(dim=3, capacity=48, num_heads=1, max_degree=max_degree, edge_log=edge_log)
    params = gwr.GWRParams(activity_threshold=0.7, habituation_threshold=0.8, max_age=max_age)
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.uniform(-1, 1, (60, 3)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, 6, (60, 1)).astype(np.int32))
    fast = run_calls(cfg, params, x, y, calls, 2, remove_isolated, _kernel)
    slow = run_calls(cfg, params, x, y, calls, 2, remove_isolated, _n2)
    assert_same(fast, slow)


def _stream(n, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.uniform(-1, 1, (n, d)).astype(np.float32)),
            jnp.asarray(rng.integers(0, 6, (n, 1)).astype(np.int32)))


def test_the_log_path_is_the_one_taken():
    """Calls of 10 steps with max_age 20 and the default log: only the first call of a new
    state makes the N×N pass. With a log of 8 rows, shorter than max_age, every call falls
    back — and the states are the same."""
    x, y = _stream(400)
    cfg = gwr.GWRConfig(dim=4, capacity=64, num_heads=1)
    params = gwr.GWRParams(activity_threshold=0.7, max_age=20)
    a = run_calls(cfg, params, x, y, 8, 1, True, _kernel)
    b = run_calls(cfg.replace(edge_log=8), params, x, y, 8, 1, True, _kernel)
    assert int(a.full_passes) == 1
    assert int(b.full_passes) == 8
    assert int(a.num_nodes) > 2 and int(jnp.sum(a.edges)) > 0
    for f in ("weights", "edges", "edge_birth", "temporal", "active", "label_hist", "edge_newest"):
        np.testing.assert_array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)), err_msg=f)


def _with_hand_edge(state, birth):
    """A third node at (9, 9), linked to node 0 by an edge written by hand at `birth`."""
    return state.replace(active=state.active.at[2].set(True), num_nodes=state.num_nodes + 1,
                         weights=state.weights.at[2, 0].set(jnp.array([9.0, 9.0])),
                         sq_norms=state.sq_norms.at[2, 0].set(162.0),
                         habituation=state.habituation.at[2].set(1.0),
                         edges=state.edges.at[0, 2].set(True).at[2, 0].set(True),
                         edge_birth=state.edge_birth.at[0, 2].set(birth).at[2, 0].set(birth))


HAND_CFG = gwr.GWRConfig(dim=2, capacity=8)
HAND_PARAMS = gwr.GWRParams(max_age=3, activity_threshold=1e-6, habituation_threshold=1e-6)


def _calls(state, fn, lengths, remove_isolated):
    for t in lengths:
        state = fn(HAND_CFG, HAND_PARAMS.cast(HAND_CFG.dtype), state, jnp.zeros((t, 2)),
                   jnp.zeros((t, 1), jnp.int32), jnp.ones(t, bool), 1, remove_isolated)
    return state


@pytest.mark.parametrize("remove_isolated", [False, True])
def test_edges_written_by_hand_are_pruned_when_they_expire(remove_isolated):
    """An edge written by hand is in no log row. After `reindex_edges` the call ends make
    the N×N pass until it has expired and gone, over several calls, as the N×N end does;
    then the log takes over."""
    state = gwr.init(HAND_CFG, np.array([[0.0, 0.0], [0.1, 0.0]], np.float32), np.zeros((2, 1), np.int32),
                     HAND_PARAMS)
    state = _calls(state, _kernel, [2], True)                              # indexed now
    assert int(state.full_passes) == 1
    edited = gwr.reindex_edges(_with_hand_edge(state, state.t))
    fast = _calls(edited, _kernel, [2, 2, 2, 2], remove_isolated)
    slow = _calls(edited, _n2, [2, 2, 2, 2], remove_isolated)
    assert_same(fast, slow)
    assert not bool(fast.edges[0, 2]) and bool(fast.edges[0, 1])
    assert int(fast.full_passes) == 1 + 2                # the pass while the edge lived, and the one that pruned it
    assert int(fast.unlogged_until) == int(state_mod.NO_EDGE)
    with pytest.raises(TypeError, match="GWRState"):
        gwr.reindex_edges({"edges": state.edges})


@pytest.mark.parametrize("birth", [0, -5])
def test_edges_written_by_hand_into_a_new_network_with_any_birth(birth):
    """A network from `init` is not indexed yet: edges written into it before its first
    call are found, also with births at or below 0 (which no step writes)."""
    state = gwr.init(HAND_CFG, np.array([[0.0, 0.0], [0.1, 0.0]], np.float32), np.zeros((2, 1), np.int32),
                     HAND_PARAMS)
    state = _with_hand_edge(state, birth)
    for lengths in ([1], [1, 1, 1, 1, 1, 1]):
        fast = _calls(state, _kernel, lengths, True)
        slow = _calls(state, _n2, lengths, True)
        assert_same(fast, slow)


@pytest.mark.parametrize("networks", [None, 3])
def test_per_call_work_outside_the_loop_is_linear(networks):
    """Compiled at capacity N = 1,024 with no block (the kernel itself), state donated,
    one network or a vmapped batch: outside the per-sample loop and the `full_pass`
    fallbacks, no instruction computes an N×N result except in-place scatters (of the
    log's O(L) expired edges, and of the removed nodes' temporal rows and columns:
    O(N·max_degree)); no N×N copy, reduction, select or comparison anywhere outside the
    fallbacks (XLA hoisted the fallback's age test out of its loop under vmap until the
    loop body got an optimisation barrier)."""
    n, d = 1024, 5
    cfg = gwr.GWRConfig(dim=d, capacity=n, num_heads=2)
    xs, ys = jnp.zeros((16, d)), jnp.zeros((16, 2), jnp.int32)
    params = gwr.GWRParams().cast(cfg.dtype)             # traced, as the entry points pass them
    args = (gwr.init_unchecked(cfg, params, xs[:2], ys[:2]), xs, ys, jnp.ones(16, bool))
    fn = lambda p, s, x, y, v: gwr.train_unchecked(cfg, p, s, x, y, v)  # noqa: E731
    lead = ""
    if networks:
        args = jax.tree.map(lambda a: jnp.broadcast_to(a, (networks,) + a.shape), args)
        fn, lead = jax.vmap(fn, in_axes=(None, 0, 0, 0, 0)), f"{networks},"
    hlo = jax.jit(fn, donate_argnums=1).lower(params, *args).compile().as_text()
    assert "input_output_alias" in hlo
    comps = computations(hlo)
    fallback = full_pass_bodies(hlo)
    loops = [m.group(1) for m in re.finditer(r"while\([^\n]*?body=%(\S+?),", hlo)]
    # Two fallbacks: the N×N pruning (with `edge_newest` and the unlogged edges), and every
    # free slot's temporal links.
    assert len(re.findall(r"while\([^\n]*op_name=\"[^\"]*full_pass\)?/while\"", hlo)) == 2
    # The per-sample loop: the loop whose body (with what it calls) holds the distance matmul.
    sample_loop = reachable(hlo, {b for b in loops if b not in fallback
                                  and any(" dot(" in comps.get(c, "") for c in reachable(hlo, {b}))
                                  and not any(b2 != b and b2 in reachable(hlo, {b}) for b2 in loops)})
    assert sample_loop
    scatters = {k for k, v in comps.items() if re.search(r"ROOT \S+ = \S+ scatter\(", v)}
    checked = {k: v for k, v in comps.items() if k not in fallback}
    big = rf"(?:pred|s32|f32)\[{lead}{n},{n}\]"
    for name, text in checked.items():
        assert not re.search(rf"= {big}\S* (?:copy|reduce|select|compare|and|multiply)\(", text), name
        if name in sample_loop or name in scatters:
            continue
        for op, rest in re.findall(rf"\n\s*(?:ROOT )?%\S+ = {big}\S* (\S+?)\((.*)", text):
            ok = op in ("parameter", "get-tuple-element", "bitcast", "scatter") or (
                op == "fusion" and any(f"calls=%{c}," in rest or rest.endswith(f"calls=%{c}") for c in scatters))
            assert ok, (name, op, rest[:160])
