"""CLIFER = GDM + imagination (SPEC §1, §3).

After the GDM has learned a class step, every episodic BMU v of the step's
samples is translated by the CAAE into each expression c, z' = E(G(v, c)),
and the imagined latents — with the BMUs themselves and every episodic node —
train both memories, so they hold prototypes of classes not yet seen.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from clifer_jax import gdm, gwr

# imagine(z [B, D], c int [B]) -> z' [B, D]; pure and traceable (e.g. CAAE params closed over).
ImagineFn = Callable[[jax.Array, jax.Array], jax.Array]


def imagination_set(config: gdm.GDMConfig, state: gdm.GDMState, x: jax.Array, mask: jax.Array,
                    imagine: ImagineFn) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The set CLIFER trains on after a class step (SPEC §3), in this order:
    {v with its label} ∪ {E(G(v, c)) labelled c, for each class c} ∪ {each episodic
    node with its argmax label}.

    x [L, D], mask [L] -> samples [(1 + C)·L + N_e, D], labels [...], valid [...].
    """
    c_num = config.num_classes
    length = x.shape[0]
    bmu = gwr.predict_unchecked(config.episodic, state.episodic, x)
    v, v_labels = bmu.weights[:, 0], bmu.labels[:, 0]
    targets = jnp.repeat(jnp.arange(c_num, dtype=jnp.int32), length)          # [C·L]
    imagined = imagine(jnp.tile(v, (c_num, 1)), targets).astype(v.dtype)
    ep = state.episodic
    node_labels = jnp.argmax(ep.label_hist[0], axis=-1).astype(jnp.int32)
    samples = jnp.concatenate([v, imagined, ep.weights[:, 0]])
    labels = jnp.concatenate([v_labels, targets, node_labels])
    valid = jnp.concatenate([mask, jnp.tile(mask, c_num), ep.active])
    return samples, labels, valid


def learn_class_unchecked(config: gdm.GDMConfig, state: gdm.GDMState, x: jax.Array, y: jax.Array,
                          mask: jax.Array, imagine: ImagineFn) -> gdm.GDMState:
    """One CLIFER class step: the GDM step, then once the imagination set."""
    state = gdm.learn_class_unchecked(config, state, x, y, mask)
    samples, labels, valid = imagination_set(config, state, x, mask, imagine)
    return gdm.learn_extra_unchecked(config, state, samples, labels, valid)

