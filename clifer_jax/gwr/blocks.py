"""Cost that follows the active nodes: the high-water block and sample-length buckets
(docs/gwr.md, "Capacity headroom").

A network's nodes always sit in its lowest slots: an insertion takes the lowest free
slot, so no slot above the number of nodes the network has ever held at once is used.
Every slot at or above the high-water mark (highest active slot + 1) is clean (zero
weights, empty lists, and no list names it). A training call that can reach at most `B`
slots (B >= high-water, and B >= the node count the call can grow to) therefore gives
exactly the same result on the leading B rows of the state as on the whole state. The public
entry points read the high-water mark (one O(N) reduction), pick `B` from a small set of
sizes (powers of two, capped at the capacity) so that a run compiles once per block size,
run the unchanged kernel on a `config.replace(capacity=B)` view, and write the block back.
With the state donated the write-back is in place: the call costs O(B·k + steps·B·D),
not O(N·k) + O(steps·N·D).

Sample sequences are padded (valid = False, which leaves a state unchanged) to lengths
2^k or 3·2^(k−1), so class steps of 174–183 samples compile once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.state import GWRState

MIN_BLOCK = 64
MIN_LENGTH = 8

# The state fields with a capacity axis, and which axes are capacity axes.
CAPACITY_AXES = {"weights": (0,), "sq_norms": (0,), "active": (0,), "habituation": (0,),
                 "neighbours": (0,), "edge_birth": (0,), "successors": (0,), "transitions": (0,),
                 "label_hist": (1,), "created": (0,)}


def bucket_length(t: int) -> int:
    """The padded length of a sequence of t samples: the least 2^k or 3·2^(k−1) >= t
    (at least MIN_LENGTH; 0 stays 0). At most a third of a call is padding."""
    if t <= 0:
        return 0
    t = max(int(t), MIN_LENGTH)
    p = 1 << (t - 1).bit_length()              # least power of two >= t
    return 3 * p // 4 if 3 * p // 4 >= t else p


def block_size(capacity: int, need: int) -> int:
    """The least power of two >= max(need, MIN_BLOCK), capped at the capacity."""
    need = max(int(need), MIN_BLOCK)
    return min(capacity, 1 << (need - 1).bit_length())


def high_water(state: GWRState) -> int:
    """Highest active slot + 1 of a concrete state (of every network of a batch)."""
    act = np.asarray(state.active).reshape(-1, state.active.shape[-1])
    used = act.any(axis=0)
    return int(np.flatnonzero(used)[-1]) + 1 if used.any() else 0


def pad_length(xs, ys, valid, length: int):
    """Append invalid steps along the sample axis (the last batch axis of xs [..., T, D])."""
    t = np.shape(valid)[-1]
    extra = length - t
    if extra <= 0:
        return xs, ys, valid
    ax = np.ndim(valid) - 1

    def pad(a):
        widths = [(0, 0)] * np.ndim(a)
        widths[ax] = (0, extra)
        return jnp.pad(jnp.asarray(a), widths)

    return pad(xs), pad(ys), pad(valid)


def plan_call(config: GWRConfig, state: GWRState, xs, ys, valid, length: int, epochs: int):
    """A public call's padded samples and block: samples padded to the bucket of `length`,
    and the block covering the high-water mark and the nodes `epochs` passes can add
    (a batched `state` runs at its largest member's). -> (xs, ys, valid, block)."""
    padded = bucket_length(length)
    xs, ys, valid = pad_length(xs, ys, valid, padded)
    grow_to = min(int(np.max(np.asarray(state.max_nodes))),
                  int(np.max(np.asarray(state.num_nodes))) + padded * epochs)
    return xs, ys, valid, block_size(config.capacity, max(high_water(state), grow_to))


def block_config(config: GWRConfig, block: int) -> GWRConfig:
    """The config of the block view (max_degree, the lists' length, keeps its value)."""
    if block == config.capacity:
        return config
    return config.replace(capacity=block, max_nodes=min(config.max_nodes, block))


def take_block(state: GWRState, block: int) -> GWRState:
    """The leading block of every capacity axis (batched states: the trailing axes).
    The node limit is clipped to the block; `put_block` restores it."""
    n = state.active.shape[-1]
    if block == n:
        return state
    fields = {}
    for name, axes in CAPACITY_AXES.items():
        a = getattr(state, name)
        lead = a.ndim - _rank(name)
        index = tuple(slice(0, block) if i - lead in axes else slice(None) for i in range(a.ndim))
        fields[name] = a[index]
    fields["max_nodes"] = jnp.minimum(state.max_nodes, block)
    return state.replace(**fields)


def put_block(full: GWRState, part: GWRState, max_nodes=None) -> GWRState:
    """Write a block view back into the full state (in place when `full` is donated).
    max_nodes: the node limit of the result (default: `full`'s)."""
    n, block = full.active.shape[-1], part.active.shape[-1]
    if block == n:
        return part if max_nodes is None else part.replace(max_nodes=max_nodes)
    fields = {}
    for name in CAPACITY_AXES:
        a, b = getattr(full, name), getattr(part, name)
        fields[name] = jax.lax.dynamic_update_slice(a, b, (0,) * a.ndim)
    new = part.replace(**fields)
    return new.replace(max_nodes=full.max_nodes if max_nodes is None else max_nodes)


def _rank(name: str) -> int:
    """Rank of a field in an unbatched state."""
    return {"weights": 3, "sq_norms": 2, "neighbours": 2, "edge_birth": 2, "successors": 2,
            "transitions": 2, "label_hist": 3}.get(name, 1)
