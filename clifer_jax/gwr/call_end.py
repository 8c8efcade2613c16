"""The end of a training call: expired edges pruned, isolated nodes removed (docs/gwr.md,
step 10 and "The end of a call").

`end_call` does both in O(L + N·max_degree) from the edge log and `edge_newest` the steps
keep; the N×N passes (`prune_old_edges`, `remove_isolated_nodes`, the free slots'
temporal links) remain as exact fallbacks in `full_pass` loops of zero or one trip. The
replay pass's lazy ends (`remove_isolated_lazily`, `begin_lazily`, `finish_lazily`) live
here too.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.params import GWRParams
from clifer_jax.gwr.state import LOG_NONE, NO_EDGE, UNINDEXED, GWRState, creation_order

FULL_PASS = "full_pass"


def live_edges(params: GWRParams, state: GWRState) -> jax.Array:
    """[N, N] bool: the edges that exist, with lazily pruned ones removed (one N×N pass)."""
    max_age = params.max_age
    return state.edges & ((state.pruned_at - state.edge_birth) <= max_age)


def prune_old_edges(config: GWRConfig, params: GWRParams, state: GWRState) -> GWRState:
    """Remove edges older than max_age (age = t − birth) from the N×N array. One N×N pass
    (`end_call` does it from the edge log); `edge_newest` and `unlogged_until` are
    recomputed from the result."""
    state = state.replace(pruned_at=state.t)
    edges, newest, unlogged = _full_prune(config, params)(
        (state.edges, state.edge_newest, state.unlogged_until), state.edge_birth, state.edge_log, state.t)
    return state.replace(edges=edges, edge_newest=newest, unlogged_until=unlogged,
                         pruned_below=_threshold(params, state))


def _full_prune(config: GWRConfig, params: GWRParams):
    """The N×N pruning on (edges, edge_newest, unlogged_until), reading (edge_birth,
    edge_log, t): the expired edges removed, then one pass a block of rows at a time for
    each node's newest edge and the latest birth of an edge no log row names."""
    max_age = params.max_age

    def prune(carry, birth, log, t):
        edges = carry[0] & (birth >= t - max_age)
        return (edges, *_scan_edges(config.edge_log, edges, birth, log, t))

    return prune


def _threshold(params: GWRParams, state: GWRState):
    """The clock value below which an edge has expired at `state.t` (never lowered)."""
    max_age = params.max_age
    return jnp.maximum(state.pruned_below, state.t - max_age).astype(jnp.int32)


def log_covers(config: GWRConfig, state: GWRState) -> jax.Array:
    """[] bool: every edge in `edges` that can have expired was set by a step within the
    last L clock values, so its row of the edge log still names it (`GWRState.edge_log`):
    no edge is older than L − 1, and none written by hand is left."""
    if not config.edge_log:
        return jnp.array(False)
    return (state.pruned_below > state.t - config.edge_log) & (state.pruned_below > state.unlogged_until)


def prune_from_log(config: GWRConfig, params: GWRParams, state: GWRState) -> GWRState:
    """`prune_old_edges` in O(L): the expired edges are found through the edge log.
    Removes only expired edges, and all of them when `log_covers(config, state)`."""
    state = state.replace(pruned_at=state.t)
    below = _threshold(params, state)
    if not config.edge_log:
        return state
    ell = config.edge_log
    k = jnp.arange(ell, dtype=jnp.int32)
    tau = (state.t - jnp.remainder(state.t - k, ell))[:, None]        # clock value of row k
    i, j = state.edge_log[:, 0::2], state.edge_log[:, 1::2]           # [L, 2] each
    present = state.edges.at[i, j].get(mode="fill", fill_value=False)
    born = state.edge_birth.at[i, j].get(mode="fill", fill_value=-1)
    expired = present & (born == tau) & (tau >= 1) & (born < below)
    none = jnp.asarray(LOG_NONE, jnp.int32)
    i, j = jnp.where(expired, i, none).ravel(), jnp.where(expired, j, none).ravel()
    return state.replace(edges=state.edges.at[i, j].set(False, mode="drop").at[j, i].set(False, mode="drop"),
                         pruned_below=jnp.where(log_covers(config, state), below, state.pruned_below))


def _at_most_once(run: jax.Array, fn, x, *reads):
    """fn(x, *reads) where `run`, else x: a while loop of 0 or 1 trips rather than a
    `lax.cond`, so the untaken way costs nothing under vmap (where a cond computes both
    branches) and the carried buffers are updated in place. Carry only what fn changes
    (`x`); what it only reads goes in `reads`: a carried array costs XLA a scratch copy
    under vmap (the loop selects between old and new values)."""
    def body(carry):
        # The barrier ties what fn reads to the loop's flag: without it XLA hoists work that
        # reads only unchanged arrays (the N×N age test) out of the loop, and runs it always.
        flag, x, rd = jax.lax.optimization_barrier((carry[0], carry[1], reads))
        return jnp.zeros_like(flag), fn(x, *rd)

    with jax.named_scope(FULL_PASS):            # the name tests find these loops by in the HLO
        return jax.lax.while_loop(lambda carry: carry[0], body, (jnp.asarray(run, bool), x))[1]


def _scan_edges(ell: int, edges: jax.Array, edge_birth: jax.Array, edge_log: jax.Array | None = None,
                t: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """One N×N pass, a block of rows at a time -> (newest [N]: the largest birth of each
    node's edges, NO_EDGE for none; unlogged []: the latest birth of an edge that no row
    of the edge log (L = ell rows; 0: no log, every edge unlogged) names, NO_EDGE for
    none). Blocks of 8 rows: as whole-array masked reductions XLA wrote the N×N masked
    births to scratch first, and the log rows gathered for a block take 128·N bytes. The
    block index is never batched, so under vmap no array moves."""
    n = edges.shape[-1]
    rows = math.gcd(n, 8)
    cols = jnp.arange(n, dtype=jnp.int32)[None, :]

    def block(k, carry):
        newest, unlogged = carry
        e = jax.lax.dynamic_slice_in_dim(edges, k * rows, rows, axis=-2)
        b = jax.lax.dynamic_slice_in_dim(edge_birth, k * rows, rows, axis=-2)
        newest = jax.lax.dynamic_update_slice_in_dim(newest, jnp.max(jnp.where(e, b, NO_EDGE), axis=-1),
                                                     k * rows, axis=-1)
        if ell:       # row τ mod L names the edges set at clock value τ while τ > t − L
            entry = edge_log[jnp.remainder(b, ell)]                       # [rows, N, 4]
            i = (k * rows + jnp.arange(rows, dtype=jnp.int32))[:, None]
            named = jnp.zeros(e.shape, bool)
            for u, v in ((0, 1), (2, 3)):
                p, q = entry[..., u], entry[..., v]
                named = named | ((p == i) & (q == cols)) | ((p == cols) & (q == i))
            logged = named & (b >= 1) & (b > t - ell)
        else:
            logged = jnp.zeros(e.shape, bool)
        unlogged = jnp.maximum(unlogged, jnp.max(jnp.where(e & ~logged, b, NO_EDGE)))
        return newest, unlogged

    init = (jnp.full(edges.shape[:-1], NO_EDGE, jnp.int32), jnp.asarray(NO_EDGE, jnp.int32))
    return jax.lax.fori_loop(0, n // rows, block, init)


def end_call(config: GWRConfig, params: GWRParams, state: GWRState,
             remove_isolated: bool = True) -> GWRState:
    """The end of a training call: the expired edges removed, then (optionally) the nodes
    left without edges, oldest first. O(L + N·max_degree): the expired edges come from
    the edge log, isolation from `edge_newest`, and the removed nodes' temporal rows
    and columns are cleared by index. The N×N passes (`prune_old_edges`, clearing every
    free slot's temporal links) run only when the log does not reach back far enough or
    more than max_degree nodes go; `full_passes` counts those calls. Either way the
    state is the same (docs/gwr.md, "The end of a call")."""
    covered = log_covers(config, state)
    state = prune_from_log(config, params, state)
    max_age = params.max_age
    edges, newest, unlogged = _at_most_once(
        ~covered, _full_prune(config, params), (state.edges, state.edge_newest, state.unlogged_until),
        state.edge_birth, state.edge_log, state.t)
    state = state.replace(edges=edges, edge_newest=newest, unlogged_until=unlogged,
                          pruned_below=_threshold(params, state))
    full = ~covered
    linked = state.edge_newest >= state.pruned_at - max_age
    if remove_isolated:
        before = state.active
        state = _remove_oldest_first(state, state.active & ~linked, clear_temporal=False)
        temporal, many = _clear_temporal(config, state, before & ~state.active)
        state = state.replace(temporal=temporal)
        full = full | many
    return state.replace(edge_newest=jnp.where(linked & state.active, state.edge_newest, NO_EDGE),
                         full_passes=state.full_passes + full.astype(jnp.int32))


def mark_pruned(state: GWRState) -> GWRState:
    """`prune_old_edges` without touching the N×N array: O(1). Edges it would remove
    stop being live (`live_edges`, and the step's neighbour read) at once; the array is
    cleared by the next `prune_old_edges`."""
    return state.replace(pruned_at=state.t)


def remove_isolated_nodes(config: GWRConfig, state: GWRState) -> GWRState:
    """Deactivate nodes without edges, oldest first, never going below 2 nodes.

    "Oldest first" is the reference's order (it walks its compacted arrays, i.e.
    creation order); it decides which isolated nodes stay when the floor of 2 binds.
    Freed slots are zeroed (weights, norms, habituation, histograms, temporal
    links) so that the next insertion writes into a clean slot. One N×N pass.
    """
    isolated = state.active & ~jnp.any(state.edges, axis=1)
    return _remove_oldest_first(state, isolated, clear_temporal=True)


def _remove_oldest_first(state: GWRState, isolated: jax.Array, clear_temporal: bool) -> GWRState:
    """Deactivate the `isolated` nodes in creation order while at least 2 nodes stay, and
    zero their slots (the temporal links too when `clear_temporal`: an O(N²) pass)."""
    order = creation_order(state)
    ranked = jnp.cumsum(isolated[order].astype(jnp.int32))           # 1-based among isolated
    rank = jnp.zeros_like(ranked).at[order].set(ranked)              # back to slot order
    remove = isolated & (rank <= jnp.maximum(state.num_nodes - 2, 0))
    keep = ~remove
    kf = keep.astype(state.weights.dtype)
    ki = keep.astype(jnp.int32)
    temporal = state.temporal * ki[:, None] * ki[None, :] if clear_temporal else state.temporal
    return state.replace(
        weights=state.weights * kf[:, None, None],
        sq_norms=state.sq_norms * kf[:, None],
        active=state.active & keep,
        habituation=state.habituation * kf,
        label_hist=state.label_hist * kf[None, :, None],
        temporal=temporal,
        edge_newest=jnp.where(keep, state.edge_newest, NO_EDGE),
        num_nodes=state.num_nodes - jnp.sum(remove, dtype=jnp.int32),
    )


def remove_isolated_lazily(config: GWRConfig, params: GWRParams, state: GWRState) -> GWRState:
    """`remove_isolated_nodes` in O(N) inside a sequence of `lazy_call`s: a node is
    isolated when its newest edge has expired (`GWRState.edge_newest`), and the removed
    nodes' temporal links stay in the N×N array (a later insertion into the slot clears
    them; so does `finish_lazily`). Edges need not be pruned physically first."""
    max_age = params.max_age
    linked = state.edge_newest >= state.pruned_at - max_age
    isolated = state.active & ~linked
    return _remove_oldest_first(state, isolated, clear_temporal=False)


def begin_lazily(state: GWRState) -> GWRState:
    """The start of a sequence of `lazy_call`s: `edge_newest` rebuilt from the N×N arrays
    only for a state whose edges may have been written by hand (`reindex_edges`); the
    steps keep it otherwise."""
    return _rebuild_newest(state, state.pruned_below == UNINDEXED)


def _rebuild_newest(state: GWRState, run: jax.Array) -> GWRState:
    """`edge_newest` from the N×N arrays where `run` (a `full_pass`)."""
    newest = _at_most_once(run, lambda _, e, b: _scan_edges(0, e, b)[0], state.edge_newest,
                           state.edges, state.edge_birth)
    return state.replace(edge_newest=newest)


def finish_lazily(config: GWRConfig, params: GWRParams, state: GWRState,
                  begun: tuple[jax.Array, jax.Array] | None = None) -> GWRState:
    """After calls that ended with `remove_isolated_lazily`: the edge pruning made physical
    (`end_call`'s, from the edge log) and the removed nodes' temporal links cleared.
    begun: (active, next_id) of the state the sequence started from; the slots that were
    in use then or filled since and are free now are the removed ones, cleared by index
    (O(N·max_degree); the N×N pass when more than max_degree went). None: every free
    slot, one N×N pass."""
    state = end_call(config, params, state, remove_isolated=False)
    if begun is None:
        return state.replace(temporal=_clear_free_temporal(state.active, state.temporal))
    active, next_id = begun
    used = active | (state.created >= next_id)
    temporal, many = _clear_temporal(config, state, used & ~state.active)
    return state.replace(temporal=temporal, full_passes=state.full_passes + many.astype(jnp.int32))


def _clear_free_temporal(active: jax.Array, temporal: jax.Array) -> jax.Array:
    """The temporal links of every free slot set to zero (one N×N pass)."""
    keep = active.astype(temporal.dtype)
    return temporal * keep[:, None] * keep[None, :]


def _clear_temporal(config: GWRConfig, state: GWRState, removed: jax.Array):
    """Zero the temporal rows and columns of the `removed` (now free) slots: by index for
    up to max_degree of them, else every free slot's (`_clear_free_temporal`, in a
    `full_pass`). -> (temporal, whether it took the N×N pass)."""
    n = state.active.shape[-1]
    many = jnp.sum(removed, dtype=jnp.int32) > config.max_degree
    idx = jnp.nonzero(removed, size=config.max_degree, fill_value=n)[0]
    temporal = state.temporal.at[idx, :].set(0, mode="drop").at[:, idx].set(0, mode="drop")
    return _at_most_once(many, lambda tm, act: _clear_free_temporal(act, tm), temporal, state.active), many
