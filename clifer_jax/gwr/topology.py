"""The network's topology as fixed-degree neighbour lists (docs/gwr.md, "Topology").

Each node has k = `GWRConfig.max_degree` edge slots and k temporal-successor slots:

* `neighbours [N, k]` (slot of the other end, `EMPTY` for none) and `edge_birth [N, k]`
  (update-clock value the edge was set at). An edge is stored at both ends with the same
  birth. It is live while `pruned_at − birth ≤ max_age`; an entry that is not live is free
  room: a step may overwrite it, and a call's end clears it.
* `successors [N, k]` and `transitions [N, k]`: the BMU transitions i → j and their
  counts (step 8), which the replay walks.

A step touches O(k) entries, a call's end O(N·k); nothing is N×N. When a node already has k
live edges and needs another, its oldest edge gives way (the smallest birth; ties: the
neighbour in the lower slot), at both ends, and `GWRState.edge_overflow` counts it. When a
node has k successors and a new one comes, the successor with the fewest transitions gives
way (ties: the lower slot), counted in `GWRState.temporal_overflow`. (k >= 2: a new node
is linked to two nodes at once.) With no overflow the network is
the one an N×N adjacency matrix gives (the NumPy reference, the former dense kernel).

`edge_matrix`, `temporal_matrix` and `with_topology` convert to and from N×N arrays for
inspection, tests and hand edits; they are O(N²) and never called by the kernels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

EMPTY = -1                               # an empty entry of a neighbour or successor list
_NEVER = jnp.iinfo(jnp.int32).max


def live(neighbours: jax.Array, edge_birth: jax.Array, pruned_at, max_age) -> jax.Array:
    """[..., k] bool: the entries that hold a live edge."""
    return (neighbours >= 0) & ((pruned_at - edge_birth) <= max_age)


def _lowest(ids: jax.Array, key: jax.Array, among: jax.Array) -> jax.Array:
    """The entry of `among` with the smallest key; ties: the one naming the lower slot."""
    best = jnp.min(jnp.where(among, key, _NEVER))
    return jnp.argmin(jnp.where(among & (key == best), ids, _NEVER))


def _place(ids: jax.Array, births: jax.Array, live_row: jax.Array, target, birth):
    """One list with the edge to `target` set to `birth`: in target's own entry if there is
    one (live or not), else the first free entry, else the oldest live one's (ties: the
    neighbour in the lower slot).
    -> (ids [k], births [k], evicted: the node whose edge gave way, or EMPTY)."""
    found = ids == target
    has = jnp.any(found)
    free = ~live_row
    room = jnp.any(free)
    pos = jnp.where(has, jnp.argmax(found), jnp.where(room, jnp.argmax(free), _lowest(ids, births, live_row)))
    evicted = jnp.where(has | room, EMPTY, ids[pos])
    return ids.at[pos].set(target), births.at[pos].set(birth), evicted


def step_edges(neighbours, edge_birth, pruned_at, max_age, b, s, r, learn, insert, t_new):
    """Steps 6–7's edges: adapting sets b–s (created or refreshed); inserting removes b–s
    and links the new node r to b and s. Only rows b, s, r and the (at most two) nodes
    whose edge gave way are touched: every row is read from the arrays as they came in
    and written by one scatter per array, so XLA updates them in place.
    -> (neighbours, edge_birth, b's new list [k], b's new births [k], edges that gave way
    [] int32)."""
    n, k = neighbours.shape
    i32 = jnp.int32
    pair = jnp.stack([b, s])
    ids, born = neighbours[pair], edge_birth[pair]                   # [2, k]: rows b, s
    other = pair[::-1]
    ids = jnp.where(insert & (ids == other[:, None]), EMPTY, ids)    # insert: b–s goes
    place = jax.vmap(_place, in_axes=(0, 0, 0, 0, None))
    ids, born, gone = place(ids, born, live(ids, born, pruned_at, max_age),
                            jnp.where(insert, jnp.stack([r, r]), other), t_new)
    gone = jnp.where(learn, gone, EMPTY)
    # The other end of each evicted edge (b's evictee loses b, s's loses s). Neither is b,
    # s or r, so their rows are read unchanged; if both are one node, both copies drop both.
    gone_rows = neighbours.at[jnp.where(gone >= 0, gone, n)].get(mode="fill", fill_value=EMPTY)   # [2, k]
    lost = (gone[:, None, None] == gone[None, :, None]) & (gone_rows[:, None, :] == pair[None, :, None])
    gone_rows = jnp.where(jnp.any(lost, axis=1), EMPTY, gone_rows)

    ids_r = jnp.full((k,), EMPTY, i32).at[:2].set(pair)
    born_r = jnp.zeros((k,), i32).at[:2].set(t_new)
    drop = jnp.asarray(n, i32)
    rows = jnp.concatenate([jnp.where(learn, pair, drop), jnp.where(insert, r, drop)[None],
                            jnp.where(gone >= 0, gone, drop)])
    neighbours = neighbours.at[rows].set(jnp.concatenate([ids, ids_r[None], gone_rows]), mode="drop")
    edge_birth = edge_birth.at[rows[:3]].set(jnp.concatenate([born, born_r[None]]), mode="drop")
    return neighbours, edge_birth, ids[0], born[0], jnp.sum(gone >= 0, dtype=i32)


def step_temporal(successors, transitions, prev, current, linked):
    """Step 8: one more transition prev → current where `linked`: its entry counted up, or a
    free entry taken, or (the list full) the successor with the fewest transitions
    replaced (ties: the lower slot). -> (successors, transitions, replaced [] int32)."""
    n = successors.shape[0]
    i32 = jnp.int32
    row = jnp.where(linked, prev, n)
    ids = successors.at[row].get(mode="fill", fill_value=EMPTY)
    counts = transitions.at[row].get(mode="fill", fill_value=0)
    found = ids == current
    has = jnp.any(found)
    free = ids < 0
    room = jnp.any(free)
    pos = jnp.where(has, jnp.argmax(found), jnp.where(room, jnp.argmax(free), _lowest(ids, counts, ~free)))
    count = jnp.where(has, counts[pos] + 1, 1)
    successors = successors.at[row, pos].set(current, mode="drop")
    transitions = transitions.at[row, pos].set(count, mode="drop")
    return successors, transitions, (linked & ~has & ~room).astype(i32)


def prune(neighbours, edge_birth, t, max_age):
    """Every entry that is not a live edge at clock t cleared (O(N·k)). -> (neighbours,
    edge_birth, [N] bool: the node has a live edge)."""
    keep = live(neighbours, edge_birth, t, max_age)
    return (jnp.where(keep, neighbours, EMPTY), jnp.where(keep, edge_birth, 0),
            jnp.any(keep, axis=-1))


def forget_nodes(successors, transitions, removed: jax.Array):
    """The temporal links from and to the `removed` [N] nodes cleared (O(N·k))."""
    n = removed.shape[-1]
    gone = jnp.concatenate([removed, jnp.zeros((1,), bool)])[jnp.where(successors >= 0, successors, n)]
    clear = gone | removed[:, None]
    return jnp.where(clear, EMPTY, successors), jnp.where(clear, 0, transitions)


def strongest_successor(successors, transitions, created) -> tuple[jax.Array, jax.Array]:
    """Per node, the successor with the most transitions; a tie goes to the older node
    (smaller creation stamp). -> (next [N] int32, has_next [N] bool)."""
    present = (successors >= 0) & (transitions > 0)
    best = jnp.max(jnp.where(present, transitions, 0), axis=-1, keepdims=True)
    stamp = created[jnp.where(present, successors, 0)]
    pick = jnp.argmin(jnp.where(present & (transitions == best), stamp, _NEVER), axis=-1)
    nxt = jnp.take_along_axis(successors, pick[:, None], axis=-1)[:, 0]
    return nxt.astype(jnp.int32), jnp.any(present, axis=-1)


def _dense(ids: jax.Array, values: jax.Array, n: int) -> jax.Array:
    """[N, N]: values[i, e] at (i, ids[i, e]) for every non-empty entry, zero elsewhere."""
    rows = jnp.arange(ids.shape[0])[:, None]
    return jnp.zeros((ids.shape[0], n + 1), values.dtype).at[rows, jnp.where(ids >= 0, ids, n)].set(values)[:, :n]


def _batched(fn, a: jax.Array, *rest: jax.Array) -> jax.Array:
    for _ in range(a.ndim - 2):
        fn = jax.vmap(fn)
    return fn(a, *rest)


def edge_matrix(state, params=None) -> jax.Array:
    """[..., N, N] bool adjacency of a state's edges (params: count only live ones, else every
    stored entry; after a training call they are the same). O(N²): for inspection and tests."""
    ids = state.neighbours
    if params is not None:
        pruned = jnp.asarray(state.pruned_at)[..., None, None]
        ids = jnp.where(live(ids, state.edge_birth, pruned, params.max_age), ids, EMPTY)
    n = ids.shape[-2]
    return _batched(lambda i: _dense(i, jnp.ones(i.shape, bool), n), ids)


def birth_matrix(state) -> jax.Array:
    """[..., N, N] int32: each edge's birth, 0 where there is none. O(N²)."""
    n = state.neighbours.shape[-2]
    return _batched(lambda i, b: _dense(i, b, n), state.neighbours, state.edge_birth)


def temporal_matrix(state) -> jax.Array:
    """[..., N, N] int32: transition counts i → j. O(N²)."""
    n = state.successors.shape[-2]
    return _batched(lambda i, c: _dense(i, c, n), state.successors, state.transitions)


def with_topology(state, edges=None, birth=None, temporal=None):
    """A state whose edges (symmetric [N, N] bool, with `birth` [N, N] int or one int, default
    the state's clock) and/or temporal counts ([N, N] int) are set from N×N arrays: for hand
    edits and tests. One network (not a batch); raises if a node would have more than k
    edges or successors."""
    n, k = state.neighbours.shape[-2:]
    if state.neighbours.ndim != 2:
        raise ValueError("with_topology takes one network's state, not a batch")
    fields = {}
    if edges is not None:
        e = np.asarray(edges, bool)
        if e.shape != (n, n) or not np.array_equal(e, e.T) or e.diagonal().any():
            raise ValueError(f"edges must be a symmetric [{n}, {n}] bool array without self-loops")
        b = np.broadcast_to(np.asarray(int(state.t) if birth is None else birth, np.int32), (n, n))
        fields["neighbours"], fields["edge_birth"] = _lists(e, b, k, "edges")
    if temporal is not None:
        tm = np.asarray(temporal)
        if tm.shape != (n, n) or (tm < 0).any():
            raise ValueError(f"temporal must be a [{n}, {n}] array of counts >= 0")
        fields["successors"], fields["transitions"] = _lists(tm > 0, tm.astype(np.int32), k, "temporal links")
    return state.replace(**fields)


def _lists(present: np.ndarray, values: np.ndarray, k: int, what: str):
    ids = np.full(present.shape[:1] + (k,), EMPTY, np.int32)
    vals = np.zeros(present.shape[:1] + (k,), np.int32)
    for i, row in enumerate(present):
        cols = np.flatnonzero(row)
        if cols.size > k:
            raise ValueError(f"node {i} has {cols.size} {what}, more than max_degree = {k}")
        ids[i, :cols.size], vals[i, :cols.size] = cols, values[i, cols]
    return jnp.asarray(ids), jnp.asarray(vals)
