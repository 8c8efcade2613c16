"""CLIFER = GDM + imagination (docs/design.md, "The CLIFER step").

After the GDM has learned a class step, every episodic BMU v of the step's samples is
translated by the CAAE into each expression c, v' = imagine(v, c), and the imagined
features — with the BMUs themselves and every episodic node — train both memories, so
they hold prototypes of classes not yet seen. `imagine` works in the memories' feature
space (`clifer_jax.features.imagine_unchecked` maps to the CAAE's latents and back).

`CLIFERConfig.imagination` says where imagined samples come from (docs/caae.md,
"Imagination modes"): "caae" calls `imagine(v, c)`; "oracle" reads a precomputed table of
imagined features per training sample and class (`clifer_jax.imagination.oracle_table`);
"none" imagines nothing (the set is the BMUs and the episodic nodes).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from clifer_jax import gdm, gwr
from clifer_jax.classes import INDEX

# imagine(v [B, D], c int [B]) -> v' [B, D] in feature space; pure and traceable.
ImagineFn = Callable[[jax.Array, jax.Array], jax.Array]

# The reference's class loop when it imagines: Anger, Fear, Happiness, Sadness, Surprise, Neutral.
REFERENCE_CLASS_ORDER: tuple[int, ...] = tuple(
    INDEX[n] for n in ("Anger", "Fear", "Happiness", "Sadness", "Surprise", "Neutral"))
ORDERS: tuple[str, ...] = ("reference", "blocks")
IMAGINATIONS: tuple[str, ...] = ("caae", "oracle", "none")


@dataclasses.dataclass(frozen=True)
class CLIFERConfig:
    """How the imagination set is laid out (static: it sets shapes and loop lengths).

    order: "reference" — per BMU, v then its imaginings class by class (the reference's
      order); "blocks" — all v, then every imagining of class 0, of class 1, …
    times: the BMU/imagination list is repeated this many times (the reference: 1).
    class_order: the classes imagined, in order; None: the reference's order for the six
      expressions, else 0..C−1.
    imagination: "caae" (imagine(v, c)), "oracle" (a table of imagined features per
      sample, `imagination_set`'s `table`) or "none" (no imagined sample).
    """

    order: str = "reference"
    times: int = 1
    class_order: tuple[int, ...] | None = None
    imagination: str = "caae"

    def __post_init__(self):
        if self.order not in ORDERS:
            raise ValueError(f"CLIFERConfig: order must be one of {ORDERS}, got {self.order!r}")
        if not isinstance(self.times, int) or isinstance(self.times, bool) or self.times < 1:
            raise ValueError(f"CLIFERConfig: times must be a positive int, got {self.times!r}")
        if self.class_order is not None and len(set(self.class_order)) != len(self.class_order):
            raise ValueError(f"CLIFERConfig: class_order repeats a class: {self.class_order}")
        if self.imagination not in IMAGINATIONS:
            raise ValueError(f"CLIFERConfig: imagination must be one of {IMAGINATIONS}, "
                             f"got {self.imagination!r}")

    def classes(self, num_classes: int) -> tuple[int, ...]:
        if self.class_order is not None:
            if any(not 0 <= c < num_classes for c in self.class_order):
                raise ValueError(f"CLIFERConfig: class_order {self.class_order} outside [0, {num_classes})")
            return tuple(self.class_order)
        if num_classes == len(REFERENCE_CLASS_ORDER):
            return REFERENCE_CLASS_ORDER
        return tuple(range(num_classes))


def imagination_set(config: gdm.GDMConfig, state: gdm.GDMState, x: jax.Array, mask: jax.Array,
                    imagine: ImagineFn | None, clifer_config: CLIFERConfig = CLIFERConfig(),
                    table: jax.Array | None = None, params: gdm.GDMParams | None = None
                    ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The set CLIFER trains on after a class step: the episodic BMU v of every sample (with
    its label) and its imaginings labelled c, repeated `times` times, then every episodic
    node with its argmax label, in creation order.

    The imaginings of sample l are imagine(v_l, c) ("caae"), table[l, c] ("oracle"; table
    [L, C, D], every class in canonical order) or absent ("none").
    x [L, D], mask [L] -> samples [M, D], labels [M], valid [M], M = times·(1 + C')·L + N_e
    (C' imagined classes; 0 with "none").
    """
    mode = clifer_config.imagination
    if mode == "caae" and imagine is None:
        raise ValueError("imagination 'caae' needs an imagine function")
    if mode == "oracle" and (table is None or table.shape[:1] != x.shape[:1] or table.shape[2:] != x.shape[1:]):
        raise ValueError(f"imagination 'oracle' needs a table [L, C, D] for x {x.shape}, got "
                         f"{None if table is None else table.shape}")
    classes = jnp.asarray(clifer_config.classes(config.num_classes), jnp.int32)
    n_cls, length = classes.shape[0], x.shape[0]
    bmu = gwr.predict_unchecked(config.episodic, state.episodic, x,
                              None if params is None else params.episodic)
    v, v_labels = bmu.weights[:, 0], bmu.labels[:, 0]                                  # [L, D], [L]
    targets = jnp.tile(classes, length)                                                # [L·C'] per BMU
    if mode == "none":
        block, block_labels, block_valid = v, v_labels, mask
    else:
        if mode == "oracle":
            imagined = table[:, classes].astype(v.dtype)                               # [L, C', D]
        else:
            imagined = imagine(jnp.repeat(v, n_cls, axis=0), targets).astype(v.dtype)     # [L·C', D]
            imagined = imagined.reshape(length, n_cls, -1)
        if clifer_config.order == "reference":    # v, its imaginings; next v, …
            block = jnp.concatenate([v[:, None], imagined], axis=1).reshape(length * (1 + n_cls), -1)
            block_labels = jnp.concatenate([v_labels[:, None], targets.reshape(length, n_cls)], axis=1).reshape(-1)
            block_valid = jnp.repeat(mask, 1 + n_cls)
        else:                                      # all v; all imaginings of the first class; …
            block = jnp.concatenate([v, imagined.transpose(1, 0, 2).reshape(n_cls * length, -1)])
            block_labels = jnp.concatenate([v_labels, jnp.repeat(classes, length)])
            block_valid = jnp.concatenate([mask, jnp.tile(mask, n_cls)])
    t = clifer_config.times
    ep = state.episodic
    nodes = gwr.creation_order(ep)
    node_labels = jnp.argmax(ep.label_hist[0], axis=-1).astype(jnp.int32)
    samples = jnp.concatenate([jnp.tile(block, (t, 1)), ep.weights[nodes, 0]])
    labels = jnp.concatenate([jnp.tile(block_labels, t), node_labels[nodes]])
    valid = jnp.concatenate([jnp.tile(block_valid.astype(bool), t), ep.active[nodes]])
    return samples, labels, valid


def learn_class_unchecked(config: gdm.GDMConfig, state: gdm.GDMState, x: jax.Array, y: jax.Array,
                          mask: jax.Array, imagine: ImagineFn | None,
                          clifer_config: CLIFERConfig = CLIFERConfig(),
                          table: jax.Array | None = None,
                          params: gdm.GDMParams | None = None) -> gdm.GDMState:
    """One CLIFER class step: the GDM step, then once the imagination set (`extra_epochs`
    epochs for each memory). table [L, C, D]: the oracle's imaginings of x's samples;
    params: the memories' traced numbers (None: the config's)."""
    state = gdm.learn_class_unchecked(config, state, x, y, mask, params)
    samples, labels, valid = imagination_set(config, state, x, mask, imagine, clifer_config, table, params)
    return gdm.learn_extra_unchecked(config, state, samples, labels, valid, params=params)
