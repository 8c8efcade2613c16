"""The end of a training call: expired edges pruned, isolated nodes removed (docs/gwr.md,
step 10 and "The end of a call"). O(N·k) on the neighbour lists (`gwr.topology`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from clifer_jax.gwr import topology
from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.params import GWRParams
from clifer_jax.gwr.state import GWRState, creation_order


def mark_pruned(state: GWRState) -> GWRState:
    """End-of-epoch pruning in O(1): the edges older than max_age stop being live (the
    step reads lists through `pruned_at`); the call's end clears them from the lists."""
    return state.replace(pruned_at=state.t)


def end_call(config: GWRConfig, params: GWRParams, state: GWRState,
             remove_isolated: bool = True) -> GWRState:
    """The end of a training call: the expired edges (and any entry that is not a live
    edge) cleared from the lists, then (optionally) the nodes left without edges removed,
    oldest first, never below 2 nodes. O(N·k)."""
    state = state.replace(pruned_at=state.t)
    neighbours, birth, linked = topology.prune(state.neighbours, state.edge_birth, state.t, params.max_age)
    state = state.replace(neighbours=neighbours, edge_birth=birth)
    if remove_isolated:
        state = remove_nodes(state, oldest_first(state, state.active & ~linked))
    return state


def oldest_first(state: GWRState, isolated: jax.Array) -> jax.Array:
    """[N] bool: the `isolated` nodes to remove, in creation order while at least 2 nodes
    stay. "Oldest first" is the reference's order (it walks its compacted arrays, i.e.
    creation order); it decides which isolated nodes stay when the floor of 2 binds."""
    order = creation_order(state)
    ranked = jnp.cumsum(isolated[order].astype(jnp.int32))           # 1-based among isolated
    rank = jnp.zeros_like(ranked).at[order].set(ranked)              # back to slot order
    return isolated & (rank <= jnp.maximum(state.num_nodes - 2, 0))


def remove_nodes(state: GWRState, remove: jax.Array) -> GWRState:
    """Deactivate the `remove` [N] nodes (which have no edges) and clean their slots:
    weights, norms, habituation, histograms and the temporal links from and to them
    zeroed, so that the next insertion writes into a clean slot. O(N·k)."""
    keep = ~remove
    kf = keep.astype(state.weights.dtype)
    successors, transitions = topology.forget_nodes(state.successors, state.transitions, remove)
    return state.replace(
        weights=state.weights * kf[:, None, None],
        sq_norms=state.sq_norms * kf[:, None],
        active=state.active & keep,
        habituation=state.habituation * kf,
        label_hist=state.label_hist * kf[None, :, None],
        successors=successors,
        transitions=transitions,
        num_nodes=state.num_nodes - jnp.sum(remove, dtype=jnp.int32),
    )


def remove_isolated_nodes(config: GWRConfig, state: GWRState) -> GWRState:
    """Remove the nodes whose lists hold no edge, oldest first, never below 2 nodes (what a
    call's end does after pruning; for a state edited by hand). O(N·k)."""
    linked = jnp.any(state.neighbours >= 0, axis=-1)
    return remove_nodes(state, oldest_first(state, state.active & ~linked))
