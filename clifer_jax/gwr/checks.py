"""Input validation at the public boundary (never inside jitted kernels)."""

from __future__ import annotations

import jax
import numpy as np

from clifer_jax.gwr.config import GWRConfig


try:  # public until JAX 0.10; kept importable from the private module later
    from jax.core import Tracer
except ImportError:  # pragma: no cover
    from jax._src.core import Tracer


def is_concrete(x) -> bool:
    """True when x's values can be read here: not a tracer under jit/vmap/grad, and not
    a multi-host array with shards on other processes."""
    if isinstance(x, Tracer):
        return False
    return not isinstance(x, jax.Array) or x.is_fully_addressable


def host_value(x) -> np.ndarray | None:
    """x's values as numpy, or None under tracing. A multi-host array is gathered
    (a collective: every process must call this together)."""
    if isinstance(x, Tracer):
        return None
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def _dtype(x) -> np.dtype:
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype


def _batch_shape(arr, trailing: tuple[int, ...], name: str) -> tuple[int, ...]:
    shape = tuple(np.shape(arr))
    if len(shape) < len(trailing) or shape[len(shape) - len(trailing):] != trailing:
        raise ValueError(f"{name} must have shape [..., {', '.join(map(str, trailing))}], got {shape}")
    return shape[: len(shape) - len(trailing)]


def check_samples(config: GWRConfig, xs, name: str = "samples") -> tuple[int, ...]:
    """xs [..., D] float, finite. Returns the leading (batch) shape."""
    lead = _batch_shape(xs, (config.dim,), name)
    if not np.issubdtype(_dtype(xs), np.number) or np.issubdtype(_dtype(xs), np.complexfloating):
        raise TypeError(f"{name} must be real numbers, got dtype {_dtype(xs)}")
    if is_concrete(xs):
        arr = np.asarray(xs)
        if not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise ValueError(f"{name} contain {bad} NaN/inf values")
    return lead


def check_labels(config: GWRConfig, ys, lead: tuple[int, ...], name: str = "labels") -> None:
    """ys [..., H] int in [-1, C)."""
    shape = tuple(np.shape(ys))
    if shape != lead + (config.num_heads,):
        raise ValueError(f"{name} must have shape {lead + (config.num_heads,)} "
                         f"(one column per label head), got {shape}")
    if not np.issubdtype(_dtype(ys), np.integer):
        raise TypeError(f"{name} must be integers (class index, -1 for none), got {_dtype(ys)}")
    if is_concrete(ys) and np.size(ys):
        arr = np.asarray(ys)
        lo, hi = int(arr.min()), int(arr.max())
        if lo < -1 or hi >= config.num_classes:
            raise ValueError(f"{name} must lie in [-1, {config.num_classes}) (-1: no label); "
                             f"found values in [{lo}, {hi}]")


def check_valid(valid, lead: tuple[int, ...]) -> None:
    if tuple(np.shape(valid)) != lead:
        raise ValueError(f"valid must have shape {lead}, got {tuple(np.shape(valid))}")


def check_state(config: GWRConfig, state) -> None:
    expected = (config.capacity, config.depth, config.dim)
    got = tuple(np.shape(state.weights))[-3:]
    if got != expected:
        raise ValueError(f"state does not match config: weights have trailing shape {got}, "
                         f"config implies {expected} (capacity, K+1, dim)")
    log_rows = tuple(np.shape(state.edge_log))[-2:]
    if log_rows != (config.edge_log, 4):
        raise ValueError(f"state does not match config: its edge log has shape {log_rows}, config.edge_log "
                         f"= {config.edge_log} implies ({config.edge_log}, 4); build the state with this config "
                         f"(gwr.init) or set edge_log to {log_rows[0]}")
