"""Boundary checks shared by every package (docs/design.md, "Validation at the boundary").

Public functions validate their inputs here and then call kernels that never raise.
Shape and dtype checks read only shapes, so they also work on tracers (a public function
stays traceable under `jax.jit` / `jax.vmap`); value checks run only when the values can
be read (`is_concrete`).
"""

from __future__ import annotations

import math
import numbers
import os

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


def memory_available(device=None) -> int | None:
    """Bytes free for arrays on `device` (default: the first device): an accelerator's
    allocator limit minus what is in use, the host's available memory for the CPU; None
    when neither can be read."""
    device = device or jax.devices()[0]
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 - some backends do not implement it
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def byte_size(n: float) -> str:
    """n bytes in the nearest binary unit: '2.3 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} EiB"


def check_fits(nbytes: int, what: str, hint: str, device=None) -> None:
    """Refuse (ValueError naming `what`) arrays of `nbytes` that cannot fit in the memory
    `memory_available` reports, before XLA is asked to compile or allocate them."""
    free = memory_available(device)
    if free is not None and nbytes > free:
        raise ValueError(f"{what} would take about {byte_size(nbytes)}, more than the {byte_size(free)} "
                         f"available on {device or jax.devices()[0]}; {hint}")


def tree_bytes(tree) -> int:
    """Total bytes of the arrays (or `jax.ShapeDtypeStruct`s) in a pytree."""
    return sum(math.prod(int(n) for n in a.shape) * np.dtype(a.dtype).itemsize
               for a in jax.tree.leaves(tree))        # Python ints: no overflow at any size
