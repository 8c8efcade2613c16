"""Pseudo-rehearsal: trajectories of episodic nodes along temporal links (SPEC §3)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from clifer_jax.gwr.state import GWRState


@struct.dataclass
class PseudoSamples:
    """One trajectory per episodic slot. N = episodic capacity, T = 2K + 1.

    samples [N, T, D] (input part of each visited node's weights),
    labels [N, T] (each visited node's argmax label, head 0),
    valid [N] (the slot holds a node).
    """

    samples: jax.Array
    labels: jax.Array
    valid: jax.Array


def pseudo_samples(state: GWRState, length: int) -> PseudoSamples:
    """Trajectory of `length` nodes from every active node i: i, then the argmax
    of the current node's temporal row, repeatedly (ties: lower index). A node
    with no outgoing temporal link repeats itself. Jittable and vmappable."""
    n = state.active.shape[0]
    labels_of = jnp.argmax(state.label_hist[0], axis=-1).astype(jnp.int32)   # [N]
    has_next = jnp.any(state.temporal > 0, axis=1)
    nxt = jnp.where(has_next, jnp.argmax(state.temporal, axis=1), jnp.arange(n)).astype(jnp.int32)

    def follow(node, _):
        return nxt[node], node

    _, path = jax.lax.scan(follow, jnp.arange(n, dtype=jnp.int32), None, length=length)
    path = path.T                                                              # [N, T]
    return PseudoSamples(samples=state.weights[path, 0], labels=labels_of[path], valid=state.active)
