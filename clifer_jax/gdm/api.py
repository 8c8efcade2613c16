"""Validated public entry points of the GDM (checks at the boundary, then the jitted kernels)."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np

from clifer_jax.gdm import memory
from clifer_jax.gdm.config import GDMConfig
from clifer_jax.gdm.memory import GDMPrediction, GDMState
from clifer_jax.gwr import checks


def check_step(config: GDMConfig, x, y, mask, need: int, what: str):
    lead = checks.check_samples(config.episodic, x, f"{what} features")
    if len(lead) != 1:
        raise ValueError(f"{what}: features must be [L, {config.dim}] for one subject "
                         f"(jax.vmap the *_unchecked functions over subjects); got {np.shape(x)}")
    if mask is None:
        mask = np.ones(lead, bool)
    if tuple(np.shape(mask)) != lead or tuple(np.shape(y)) != lead:
        raise ValueError(f"{what}: labels {np.shape(y)} and mask {np.shape(mask)} must both be {lead}")
    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        raise TypeError(f"{what}: labels must be integers, got {np.asarray(y).dtype}")
    if checks.is_concrete(y) and checks.is_concrete(mask):
        m = np.asarray(mask, bool)
        yv = np.asarray(y)[m]
        if yv.size and (yv.min() < 0 or yv.max() >= config.num_classes):
            raise ValueError(f"{what}: labels of valid samples must lie in [0, {config.num_classes}); "
                             f"found [{yv.min()}, {yv.max()}]")
        if m.sum() < need:
            raise ValueError(f"{what}: needs at least {need} valid sample(s), got {int(m.sum())}")
    return jnp.asarray(x), jnp.asarray(y, jnp.int32), jnp.asarray(mask, bool)


def warn_full(before: GDMState, after: GDMState):
    for name in ("episodic", "semantic"):
        b, a = getattr(before, name), getattr(after, name)
        if checks.is_concrete(a.refused_insertions):
            n = int(np.sum(a.refused_insertions) - np.sum(b.refused_insertions))
            if n > 0:
                warnings.warn(f"{name} memory full: {n} insertions refused", RuntimeWarning,
                              stacklevel=3)


def init(config: GDMConfig, x, y, mask=None) -> GDMState:
    """Both memories from the first two valid samples of the first class step."""
    x, y, mask = check_step(config, x, y, mask, 2, "init")
    return memory.init_jit(config, x, y, mask)


def learn_class(config: GDMConfig, state: GDMState, x, y, mask=None) -> GDMState:
    """Learn one class step: x [L, D], y [L] int, mask [L] bool (padding: False)."""
    x, y, mask = check_step(config, x, y, mask, 1, "learn_class")
    new = memory.learn_class_jit(config, state, x, y, mask)
    warn_full(state, new)
    return new


def learn_extra(config: GDMConfig, state: GDMState, x, y, mask=None, epochs: int | None = None
                ) -> GDMState:
    """Train both memories on an extra labelled set (e.g. imagined samples)."""
    x, y, mask = check_step(config, x, y, mask, 0, "learn_extra")
    if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    new = memory.learn_extra_jit(config, state, x, y, mask, epochs)
    warn_full(state, new)
    return new


def predict(config: GDMConfig, state: GDMState, x) -> GDMPrediction:
    """Episodic and semantic predictions for raw features x [B, D]."""
    lead = checks.check_samples(config.episodic, x, "predict features")
    if len(lead) != 1:
        raise ValueError(f"predict: features must be [B, {config.dim}], got {np.shape(x)}")
    return memory.predict_jit(config, state, jnp.asarray(x))
