"""CLIFER = GDM + imagination (docs/design.md, "The CLIFER step").

After the GDM has learned a class step, every episodic BMU v of the step's samples is
translated into each expression c, v' = imagine(imagine_params, v, c), and the imagined
features — with the BMUs themselves and every episodic node — train both memories, so
they hold prototypes of classes not yet seen. `imagine` works in the memories' feature
space (`clifer_jax.features.imagine_unchecked` maps to the CAAE's latents and back).

    state = gdm.init(cfg, x0, y0, m0)
    for x, y, m in class_steps:
        state = clifer.learn_class(cfg, state, x, y, m, imagine=fn, imagine_params=p)

`CLIFERConfig.imagination` says where imagined samples come from (docs/caae.md,
"Imagination modes"): "caae" calls `imagine`; "oracle" reads a precomputed table of
imagined features per training sample and class (`clifer_jax.imagination.oracle_table`);
"none" imagines nothing (the set is the BMUs and the episodic nodes).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal

import jax
import jax.numpy as jnp
import numpy as np

from clifer_jax import gdm, gwr
from clifer_jax.gdm import api as gdm_api
from clifer_jax.gdm import checks as gdm_checks
from clifer_jax.classes import INDEX

# imagine(imagine_params, v [B, D], c int [B]) -> v' [B, D] in feature space; pure and traceable.
ImagineFn = Callable[[Any, jax.Array, jax.Array], jax.Array]

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
      sample, `imagination_set_unchecked`'s `table`) or "none" (no imagined sample).
    """

    order: Literal["reference", "blocks"] = "reference"
    times: int = 1
    class_order: tuple[int, ...] | None = None
    imagination: Literal["caae", "oracle", "none"] = "caae"

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


def imagination_set_unchecked(config: gdm.GDMConfig, params: gdm.GDMParams, state: gdm.GDMState,
                              x: jax.Array, mask: jax.Array, imagine: ImagineFn | None = None,
                              imagine_params=None, clifer_config: CLIFERConfig = CLIFERConfig(),
                              table: jax.Array | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The set CLIFER trains on after a class step: the episodic BMU v of every sample (with
    its label) and its imaginings labelled c, repeated `times` times, then every episodic
    node with its argmax label, in creation order.

    The imaginings of sample l are imagine(imagine_params, v_l, c) ("caae"), table[l, c]
    ("oracle"; table [L, C, D], every class in canonical order) or absent ("none").
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
    bmu = gwr.predict_unchecked(config.episodic, params.episodic, state.episodic, x)
    v, v_labels = bmu.weights[:, 0], bmu.labels[:, 0]                                  # [L, D], [L]
    targets = jnp.tile(classes, length)                                                # [L·C'] per BMU
    if mode == "none":
        block, block_labels, block_valid = v, v_labels, mask
    else:
        if mode == "oracle":
            imagined = table[:, classes].astype(v.dtype)                               # [L, C', D]
        else:
            imagined = imagine(imagine_params, jnp.repeat(v, n_cls, axis=0), targets).astype(v.dtype)
            imagined = imagined.reshape(length, n_cls, -1)                             # [L, C', D]
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


def learn_class_unchecked(config: gdm.GDMConfig, params: gdm.GDMParams, state: gdm.GDMState,
                          x: jax.Array, y: jax.Array, mask: jax.Array, imagine: ImagineFn | None = None,
                          imagine_params=None, clifer_config: CLIFERConfig = CLIFERConfig(),
                          table: jax.Array | None = None) -> gdm.GDMState:
    """One CLIFER class step: the GDM step, then once the imagination set (`extra_epochs`
    epochs for each memory). table [L, C, D]: the oracle's imaginings of x's samples."""
    state = gdm.learn_class_unchecked(config, params, state, x, y, mask)
    samples, labels, valid = imagination_set_unchecked(config, params, state, x, mask, imagine,
                                                       imagine_params, clifer_config, table)
    return gdm.learn_extra_unchecked(config, params, state, samples, labels, valid)


_learn_class_jit = jax.jit(learn_class_unchecked, static_argnames=("config", "imagine", "clifer_config"))


def learn_class(config: gdm.GDMConfig, state: gdm.GDMState, x, y, mask=None, *,
                imagine: ImagineFn | None = None, imagine_params=None,
                clifer_config: CLIFERConfig = CLIFERConfig(), table=None,
                params: gdm.GDMParams | None = None) -> gdm.GDMState:
    """One validated CLIFER class step for one subject: x [L, D], y [L] int, mask [L] bool.

    imagine(imagine_params, v [B, D], c int [B]) -> [B, D] imagines in the memories' feature
    space ("caae" imagination; pass the same function object on every call: the step is
    compiled once per function); imagine_params: its traced arguments (e.g. network
    weights). table [L, C, D]: the oracle's imaginings ("oracle"). params: both memories'
    numbers (None: `GDMParams()`). The step runs on the whole capacity (no blocks)."""
    if not isinstance(clifer_config, CLIFERConfig):
        raise TypeError(f"clifer_config must be a CLIFERConfig, got {type(clifer_config).__name__}")
    x, y, mask = gdm_api.check_step(config, x, y, mask, 1, "learn_class")
    gdm_checks.check_state(config, state)
    params = gdm_api.prepare_params(config, params)
    mode = clifer_config.imagination
    if mode == "caae":
        check_imagine(config, imagine, imagine_params)
    if mode == "oracle":
        want = (x.shape[0], config.num_classes, config.dim)
        if table is None or tuple(np.shape(table)) != want:
            raise ValueError(f"imagination 'oracle' needs table [L, C, D] = {want}, got "
                             f"{None if table is None else tuple(np.shape(table))}")
        table = jnp.asarray(table)
    before = gdm_api.counters_before(state)
    new = _learn_class_jit(config, params, state, x, y, mask, imagine, imagine_params, clifer_config, table)
    gdm_checks.warn_full(config, before, new)
    gdm_checks.warn_nonfinite(new, "clifer.learn_class")
    return new


def check_imagine(config: gdm.GDMConfig, imagine, imagine_params) -> None:
    """`imagine(imagine_params, v [B, D], c [B])` is callable and returns floats [B, D]
    (checked by tracing it on shapes only: nothing runs)."""
    if not callable(imagine):
        raise TypeError(f"imagination 'caae' needs imagine(imagine_params, v, c), got {imagine!r}")
    b, d = 3, config.dim
    try:
        out = jax.eval_shape(imagine, imagine_params, jax.ShapeDtypeStruct((b, d), jnp.dtype(config.dtype)),
                             jax.ShapeDtypeStruct((b,), jnp.int32))
    except Exception as e:  # noqa: BLE001 - any failure of the user's function is reported
        raise TypeError(f"imagine(imagine_params, v [B, {d}], c [B]) failed when traced: "
                        f"{type(e).__name__}: {e}") from e
    shape = getattr(out, "shape", None)
    dtype = getattr(out, "dtype", None)
    if shape != (b, d) or dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"imagine must return floats [B, D] = [{b}, {d}] for v [{b}, {d}], got "
                         f"{'a ' + type(out).__name__ if shape is None else f'{dtype} {list(shape)}'}")
