"""The GDM for many subjects at once, the subject axis sharded over devices (docs/scaling.md).

    states = init_sharded(cfg, x[:, 0], y[:, 0], m[:, 0])        # x [S, C, L, D]
    for c in range(C):
        states = learn_class_sharded(cfg, states, x[:, c], y[:, c], m[:, c])
    preds = predict_sharded(cfg, states, x_test)                 # x_test [S, B, D]

`jax.vmap` of the per-subject kernels run by `clifer_jax.sharding.map_subjects` over
every device (or `devices=`): the same computation as `jax.vmap` (floats may differ in
the last bit between batch sizes; docs/scaling.md); states stay on the devices between
calls (sharded by subject when S is a multiple of the device count).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from clifer_jax import sharding
from clifer_jax.gdm import memory
from clifer_jax.gdm.api import check_step
from clifer_jax.gdm.checks import warn_full, warn_nonfinite
from clifer_jax.gdm.config import GDMConfig, GDMParams, check_gdm_params
from clifer_jax.gdm.memory import GDMPrediction, GDMState
from clifer_jax.gwr import blocks, checks
from clifer_jax.validate import is_concrete


@functools.lru_cache(maxsize=64)
def _kernel(name: str, config: GDMConfig, sizes: tuple[int, int] | None = None, replay: bool = False):
    """One stable function object per (kernel, config, block sizes, replay): compilations
    are cached by it. learn_class runs on the leading `sizes` slots (docs/gwr.md,
    "Capacity headroom"). Each takes (params, ...) after the statics."""
    if name == "learn_class":
        full = (config.episodic.capacity, config.semantic.capacity)
        return functools.partial(memory.learn_class_block, config, sizes or full, replay)
    fn = {"init": memory.init_unchecked, "predict": memory.predict_unchecked}[name]
    return functools.partial(fn, config)


def _params(config: GDMConfig, params, s: int):
    """(params as arrays, in_axis): None → `GDMParams()`; scalar leaves → shared (None);
    leaves with a leading axis of S → one per subject (0)."""
    params = GDMParams() if params is None else params
    check_gdm_params(params)
    params = params.cast(config.dtype)
    shapes = {np.shape(v) for v in jax.tree.leaves(params)}
    if shapes == {()}:
        return params, None
    if shapes == {(s,)}:
        return params, 0
    raise ValueError(f"params must hold scalars (shared) or a leading axis of {s} (one per "
                     f"subject); got leaf shapes {sorted(shapes)}")


def _subjects(config: GDMConfig, x, y, mask, need: int, what: str):
    """x [S, L, D], y [S, L], mask [S, L] → validated jax arrays (every subject checked)."""
    return check_step(config, x, y, mask, need, what, subjects=True)


def _check_states(config: GDMConfig, states: GDMState, s: int) -> None:
    for name in ("episodic", "semantic"):
        mem = getattr(states, name)
        checks.check_state(getattr(config, name), mem)
        if np.ndim(mem.weights) != 4 or np.shape(mem.weights)[0] != s:
            raise ValueError(f"states must hold {s} subjects; {name} weights have shape "
                             f"{np.shape(mem.weights)}")


def init_sharded(config: GDMConfig, x, y, mask=None, *, params=None, devices=None) -> GDMState:
    """Both memories of S subjects from their first class step: x [S, L, D], y [S, L], mask [S, L].
    params (here and below): a `GDMParams` shared by all subjects (scalars) or one per
    subject (None: `GDMParams()`)."""
    x, y, mask = _subjects(config, x, y, mask, 2, "init")
    p, ax = _params(config, params, x.shape[0])
    return sharding.map_subjects(_kernel("init", config), p, x, y, mask, in_axes=(ax, 0, 0, 0),
                                 mesh=sharding.subject_mesh(devices))


def learn_class_sharded(config: GDMConfig, states: GDMState, x, y, mask=None, *, params=None,
                        replay: bool = False, devices=None) -> GDMState:
    """One class step for S subjects: x [S, L, D], y [S, L], mask [S, L] (False: padding);
    replay: GDM + replay."""
    x, y, mask = _subjects(config, x, y, mask, 1, "learn_class")
    _check_states(config, states, x.shape[0])
    p, ax = _params(config, params, x.shape[0])
    sizes = None
    arrays = (x, y, mask, states.samples_seen, states.steps, states.episodic.active,
              states.semantic.active, states.episodic.max_nodes, states.semantic.max_nodes)
    if all(is_concrete(a) for a in arrays):
        # The batch runs at its largest subject's blocks; samples padded to a length bucket.
        x, y, mask = blocks.pad_length(x, y, mask, blocks.bucket_length(mask.shape[-1]))
        sizes = memory.needed_blocks(config, states, np.asarray(mask).sum(axis=-1))
    new = sharding.map_subjects(_kernel("learn_class", config, sizes, bool(replay)), p, states, x, y, mask,
                                in_axes=(ax, 0, 0, 0, 0), mesh=sharding.subject_mesh(devices))
    warn_full(config, states, new)
    warn_nonfinite(new, "learn_class_sharded")
    return new


def predict_sharded(config: GDMConfig, states: GDMState, x, *, params=None, devices=None
                    ) -> GDMPrediction:
    """Episodic and semantic predictions for S subjects: x [S, B, D] → leading [S, B]."""
    lead = checks.check_samples(config.episodic, x, "predict features")
    if len(lead) != 2:
        raise ValueError(f"predict: features must be [S, B, {config.dim}], got {np.shape(x)}")
    _check_states(config, states, lead[0])
    p, ax = _params(config, params, lead[0])
    return sharding.map_subjects(_kernel("predict", config), p, states, jnp.asarray(x),
                                 in_axes=(ax, 0, 0), mesh=sharding.subject_mesh(devices))
