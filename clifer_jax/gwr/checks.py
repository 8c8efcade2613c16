"""Input validation at the public boundary (never inside jitted kernels)."""

from __future__ import annotations

import warnings

import numpy as np

from clifer_jax.gwr.config import GWRConfig
from clifer_jax.validate import dtype_of, host_value, is_concrete


def _batch_shape(arr, trailing: tuple[int, ...], name: str) -> tuple[int, ...]:
    shape = tuple(np.shape(arr))
    if len(shape) < len(trailing) or shape[len(shape) - len(trailing):] != trailing:
        raise ValueError(f"{name} must have shape [..., {', '.join(map(str, trailing))}], got {shape}")
    return shape[: len(shape) - len(trailing)]


def largest_sample(config: GWRConfig) -> float:
    """The largest |x| a sample may hold: beyond it the squared distances of the network's
    float dtype overflow to inf (|w|² − 2w·g + |g|² over D entries), and the network
    fills with NaN."""
    return float(np.sqrt(np.finfo(config.dtype).max / (4.0 * config.dim)))


def check_samples(config: GWRConfig, xs, name: str = "samples") -> tuple[int, ...]:
    """xs [..., D] real, finite and small enough for the network's distances (see
    `largest_sample`). Returns the leading (batch) shape."""
    lead = _batch_shape(xs, (config.dim,), name)
    if not np.issubdtype(dtype_of(xs), np.number) or np.issubdtype(dtype_of(xs), np.complexfloating):
        raise TypeError(f"{name} must be real numbers, got dtype {dtype_of(xs)}")
    if is_concrete(xs):
        arr = np.asarray(xs)
        if not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise ValueError(f"{name} contain {bad} NaN/inf values")
        peak, limit = (float(np.max(np.abs(arr))) if arr.size else 0.0), largest_sample(config)
        if peak > limit:
            raise ValueError(f"{name} are too large for {config.dtype} distances: |x| up to {peak:.3g}, "
                             f"at most {limit:.3g} in {config.dim} dimensions; rescale the features")
    return lead


def warn_nonfinite(weights, what: str, memory: str = "network") -> None:
    """Warn when a call left NaN/inf in a network's weights; skipped under tracing."""
    w = host_value(weights)
    if w is not None and not np.all(np.isfinite(w)):
        bad = int(w.size - np.count_nonzero(np.isfinite(w)))
        warnings.warn(f"{what}: the {memory} holds {bad} NaN/inf weights after this call (inputs or "
                      f"imagined samples not finite, or too large for float32? rescale the features)",
                      RuntimeWarning, stacklevel=3)


def check_labels(config: GWRConfig, ys, lead: tuple[int, ...], name: str = "labels"):
    """ys [..., H] int in [-1, C) (-1: no label); a one-head network also takes [...].
    Returns the labels with their head axis, [..., H]."""
    shape = tuple(np.shape(ys))
    if config.num_heads == 1 and shape == lead:
        ys = ys[..., None] if hasattr(ys, "ndim") else np.asarray(ys)[..., None]
        shape = lead + (1,)
    if shape != lead + (config.num_heads,):
        one = f" or {lead}" if config.num_heads == 1 else ""
        raise ValueError(f"{name} must have shape {lead + (config.num_heads,)}{one} "
                         f"(one column per label head), got {shape}")
    if not np.issubdtype(dtype_of(ys), np.integer):
        raise TypeError(f"{name} must be integers (class index, -1 for none), got {dtype_of(ys)}")
    if is_concrete(ys) and np.size(ys):
        arr = np.asarray(ys)
        lo, hi = int(arr.min()), int(arr.max())
        if lo < -1 or hi >= config.num_classes:
            raise ValueError(f"{name} must lie in [-1, {config.num_classes}) (-1: no label); "
                             f"found values in [{lo}, {hi}]")
    return ys


def check_valid(valid, lead: tuple[int, ...]) -> None:
    if tuple(np.shape(valid)) != lead:
        raise ValueError(f"valid must have shape {lead}, got {tuple(np.shape(valid))}")


def check_state(config: GWRConfig, state) -> None:
    expected = (config.capacity, config.depth, config.dim)
    got = tuple(np.shape(state.weights))[-3:]
    if got != expected:
        raise ValueError(f"state does not match config: weights have trailing shape {got}, "
                         f"config implies {expected} (capacity, K+1, dim)")
    lists = tuple(np.shape(state.neighbours))[-2:]
    if lists != (config.capacity, config.max_degree):
        raise ValueError(f"state does not match config: its neighbour lists have shape {lists}, config "
                         f"implies ({config.capacity}, {config.max_degree}) (capacity, max_degree); build the "
                         f"state with this config (gwr.init) or set max_degree to {lists[1]}")
