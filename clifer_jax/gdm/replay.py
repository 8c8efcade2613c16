"""Pseudo-rehearsal: trajectories of episodic nodes along temporal links (docs/design.md)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from clifer_jax.gwr import topology
from clifer_jax.gwr.state import GWRState, creation_order


@struct.dataclass
class PseudoSamples:
    """One trajectory per episodic slot, in the nodes' creation order (free slots last).
    N = episodic capacity, T = 2K + 1.

    samples [N, T, D] (input part of each visited node's weights),
    labels [N, T] (each visited node's argmax label, head 0),
    valid [N] (the trajectory starts at a node, not a free slot).
    """

    samples: jax.Array
    labels: jax.Array
    valid: jax.Array


def pseudo_samples_unchecked(state: GWRState, length: int) -> PseudoSamples:
    """Trajectory of `length` nodes from every active node i: i, then the current node's
    successor with the most transitions, repeatedly. A node with no outgoing
    temporal link repeats itself. Jittable and vmappable.

    The reference keeps its nodes compacted in creation order, so it replays the
    trajectories oldest node first and breaks a tie in a temporal row towards the
    older node; both follow `creation_order` here (slots are reused, so slot order
    differs once a node was removed and another inserted; docs/gwr.md)."""
    n = state.active.shape[0]
    order = creation_order(state)                                              # [N] slots
    labels_of = jnp.argmax(state.label_hist[0], axis=-1).astype(jnp.int32)   # [N]
    nxt, has_next = topology.strongest_successor(state.successors, state.transitions, state.created)
    nxt = jnp.where(has_next, nxt, jnp.arange(n, dtype=jnp.int32))

    def follow(node, _):
        return nxt[node], node

    _, path = jax.lax.scan(follow, order, None, length=length)
    path = path.T                                                              # [N, T]
    return PseudoSamples(samples=state.weights[path, 0], labels=labels_of[path],
                         valid=state.active[order])
