"""Validated public entry points of the GDM (checks at the boundary, then the jitted kernels)."""

from __future__ import annotations


import jax.numpy as jnp
import numpy as np

from clifer_jax.gdm import checks as gdm_checks
from clifer_jax.gdm import memory
from clifer_jax.gdm.config import GDMConfig, GDMParams, check_gdm_params
from clifer_jax.gdm.memory import GDMPrediction, GDMState
from clifer_jax.gwr import blocks, checks
from clifer_jax.validate import as_int, check_fits, dtype_of, is_concrete


def check_step(config: GDMConfig, x, y, mask, need: int, what: str, subjects: bool = False):
    """x [L, D] (or [S, L, D] with subjects), y and mask of x's leading shape: shapes,
    dtypes, finite features, labels of valid samples in range, at least `need` valid
    samples (per subject). Shape and dtype checks only on tracers (traceable under
    jit/vmap). Returns jax arrays."""
    gdm_checks.check_config(config)
    lead = checks.check_samples(config.episodic, x, f"{what} features")
    if len(lead) != (2 if subjects else 1):
        want = f"[S, L, {config.dim}] (subjects, samples, dim)" if subjects else (
            f"[L, {config.dim}] for one subject (jax.vmap the *_unchecked functions over subjects)")
        raise ValueError(f"{what}: features must be {want}; got {np.shape(x)}")
    if mask is None:
        mask = np.ones(lead, bool)
    if lead[-1] == 0:
        raise ValueError(f"{what}: no samples (features have shape {tuple(np.shape(x))})")
    if tuple(np.shape(mask)) != lead or tuple(np.shape(y)) != lead:
        raise ValueError(f"{what}: labels {np.shape(y)} and mask {np.shape(mask)} must both be {lead}")
    y_dtype = dtype_of(y)   # no np.asarray: y may be a tracer
    if not np.issubdtype(y_dtype, np.integer):
        raise TypeError(f"{what}: labels must be integers, got {y_dtype}")
    if is_concrete(y) and is_concrete(mask):
        m = np.asarray(mask, bool).reshape(-1, lead[-1])
        yv = np.asarray(y).reshape(-1, lead[-1])
        where = lambda rows: f" (subject {int(np.flatnonzero(rows)[0])})" if subjects else ""  # noqa: E731
        bad = ((yv < 0) | (yv >= config.num_classes)) & m
        if bad.any():
            v = yv[m]
            raise ValueError(f"{what}{where(bad.any(axis=1))}: labels of valid samples must lie in "
                             f"[0, {config.num_classes}); found [{v.min()}, {v.max()}]")
        few = m.sum(axis=1) < need
        if few.any():
            raise ValueError(f"{what}{where(few)}: needs at least {need} valid sample(s), "
                             f"got {int(m.sum(axis=1)[few][0])}")
    return jnp.asarray(x), jnp.asarray(y, jnp.int32), jnp.asarray(mask, bool)


def prepare_params(config: GDMConfig, params: GDMParams | None) -> GDMParams:
    """Checked params as arrays of the memories' dtype (None: `GDMParams()`)."""
    params = GDMParams() if params is None else params
    check_gdm_params(params)
    return params.cast(config.dtype)


def init(config: GDMConfig, x, y, mask=None, params: GDMParams | None = None) -> GDMState:
    """Both memories from the first two valid samples of the first class step.
    params (here and below): both memories' traced numbers (None: `GDMParams()`, the
    reference memories)."""
    x, y, mask = check_step(config, x, y, mask, 2, "init")
    check_fits(memory.state_bytes(config), f"a GDM of capacity {config.episodic.capacity} + "
               f"{config.semantic.capacity}", "lower GDMConfig.capacity (a memory's state is about N·(4·(K+1)·D + 16·max_degree) bytes)")
    new = memory.init_jit(config, prepare_params(config, params), x, y, mask)
    gdm_checks.warn_nonfinite(new, "init")
    return new


def learn_class(config: GDMConfig, state: GDMState, x, y, mask=None,
                params: GDMParams | None = None, *, replay: bool = False, donate: bool = False) -> GDMState:
    """Learn one class step: x [L, D], y [L] int, mask [L] bool (padding: False).

    replay: GDM + replay (pseudo-rehearsal of episodic trajectories after each mini-batch).
    donate: hand `state`'s buffers over to the result (do not use `state` again); without
    it the call copies both memories. The step runs on the slots it can reach, padded to
    a length bucket (docs/gwr.md, "Capacity headroom"), with the same result."""
    x, y, mask = check_step(config, x, y, mask, 1, "learn_class")
    gdm_checks.check_state(config, state)
    params = prepare_params(config, params)
    x, y, mask, sizes = _blocked(config, state, x, y, mask, class_step=True)
    before = counters_before(state)
    fn = memory.learn_class_jit_donated if donate else memory.learn_class_jit
    new = fn(config, sizes, bool(replay), params, state, x, y, mask)
    gdm_checks.warn_full(config, before, new)
    gdm_checks.warn_nonfinite(new, "learn_class")
    return new


def learn_extra(config: GDMConfig, state: GDMState, x, y, mask=None, epochs: int | None = None,
                params: GDMParams | None = None, *, donate: bool = False) -> GDMState:
    """Train both memories on an extra labelled set (e.g. imagined samples)."""
    x, y, mask = check_step(config, x, y, mask, 0, "learn_extra")
    gdm_checks.check_state(config, state)
    if epochs is not None:
        epochs = as_int(epochs, "epochs")
    params = prepare_params(config, params)
    x, y, mask, sizes = _blocked(config, state, x, y, mask, class_step=False)
    before = counters_before(state)
    fn = memory.learn_extra_jit_donated if donate else memory.learn_extra_jit
    new = fn(config, sizes, epochs, params, state, x, y, mask)
    gdm_checks.warn_full(config, before, new)
    gdm_checks.warn_nonfinite(new, "learn_extra")
    return new


def _blocked(config: GDMConfig, state: GDMState, x, y, mask, class_step: bool):
    """Samples padded to a length bucket (mask False) and the block sizes of the call;
    the whole capacity (and no padding) when the state or samples are traced."""
    full = (config.episodic.capacity, config.semantic.capacity)
    arrays = (x, y, mask, state.samples_seen, state.steps, state.episodic.active,
              state.semantic.active, state.episodic.max_nodes, state.semantic.max_nodes)
    if not all(is_concrete(a) for a in arrays):
        return x, y, mask, full
    x, y, mask = blocks.pad_length(x, y, mask, blocks.bucket_length(mask.shape[-1]))
    n_new = int(np.sum(np.asarray(mask))) if class_step else None
    return x, y, mask, memory.needed_blocks(config, state, n_new)


def counters_before(state: GDMState) -> GDMState:
    """What `warn_full` reads of the state before a call, kept apart (the state may be
    donated)."""
    fields = ("refused_insertions", "edge_overflow", "temporal_overflow")
    if not all(is_concrete(getattr(getattr(state, m), f)) for m in ("episodic", "semantic") for f in fields):
        return state
    return state.replace(**{m: getattr(state, m).replace(**{f: np.asarray(getattr(getattr(state, m), f))
                                                            for f in fields})
                            for m in ("episodic", "semantic")})


def predict(config: GDMConfig, state: GDMState, x, params: GDMParams | None = None) -> GDMPrediction:
    """Episodic and semantic predictions for raw features x [B, D]."""
    gdm_checks.check_config(config)
    gdm_checks.check_state(config, state)
    lead = checks.check_samples(config.episodic, x, "predict features")
    if len(lead) != 1:
        raise ValueError(f"predict: features must be [B, {config.dim}], got {np.shape(x)}")
    return memory.predict_jit(config, prepare_params(config, params), state, jnp.asarray(x))
