"""Boundary checks shared by every package (docs/design.md, "Validation at the boundary").

Public functions validate their inputs here and then call kernels that never raise.
Shape and dtype checks read only shapes, so they also work on tracers (a public function
stays traceable under `jax.jit` / `jax.vmap`); value checks run only when the values can
be read (`is_concrete`).
"""

from __future__ import annotations

import math
import numbers

import jax
import numpy as np

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


def dtype_of(x) -> np.dtype:
    """x's dtype without reading its values (x may be a tracer, an array or a list)."""
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype


def as_int(value, name: str, low: int = 1) -> int:
    """A Python int from an int or numpy integer >= `low` (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def is_real(value) -> bool:
    """A finite real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def finite_array(x, name: str) -> np.ndarray:
    """x as a float64 array, refusing NaN/inf (ValueError naming `name`)."""
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN/inf")
    return a
