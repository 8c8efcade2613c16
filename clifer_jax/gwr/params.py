"""The traced numbers of one Gamma-GWR memory, with their defaults and ranges (docs/gwr.md,
"Config and params").

`GWRConfig` holds what sets shapes and control flow (capacity, D, K, heads, classes,
`max_degree`, `regulated`, the distance, the dtype); `GWRParams` holds the numbers a
researcher sweeps. A params pytree travels into the kernels as arrays, so a new value does
not recompile and a batch of values can be vmapped (`clifer sweep`). Each number's default
and range is written once, here: the defaults are the reference episodic memory
(`GWRParams.episodic()`); `GWRParams.semantic()` is the reference semantic memory.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from flax import struct

from clifer_jax.validate import is_concrete


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed values of a number: low..high (None: unbounded), each end open or closed."""

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def __str__(self) -> str:
        high = "inf" if self.high is None else f"{self.high:g}"
        return (f"{'(' if self.low_open else '['}{self.low:g}, {high}"
                f"{')' if self.high_open or self.high is None else ']'}")

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Element-wise: finite, inside the range (and integral where `integer`)."""
        v = np.asarray(values, np.float64)
        ok = np.isfinite(v) & ((v > self.low) if self.low_open else (v >= self.low))
        if self.high is not None:
            ok &= (v < self.high) if self.high_open else (v <= self.high)
        if self.integer:
            ok &= np.equal(np.mod(np.where(np.isfinite(v), v, 0.0), 1.0), 0.0)
        return ok


def _number(default, allowed: Range):
    return struct.field(default=default, metadata={"range": allowed})


UNIT = Range(0.0, 1.0, low_open=True)          # (0, 1]: rates and thresholds


@struct.dataclass
class GWRParams:
    """Traced numbers of a Gamma-GWR network (docs/gwr.md). Each field is a Python number
    or an array: a scalar for one network, a leading batch axis when vmapped over a sweep.

    Attributes (defaults: the reference episodic memory; ranges in brackets):
      beta: context blending factor β [0, 1].
      activity_threshold: a_T; insert when exp(−d_b) < a_T (and h_b < h_T) (0, 1).
      habituation_threshold: h_T (0, 1].
      eps_b, eps_n: learning rates of the BMU and of its neighbours (0, 1].
      tau_b, tau_n: habituation rates of the BMU and its neighbours (0, 1].
      kappa: habituation constant κ; h decays towards 1 − 1/κ [1, inf).
      a_inc, a_dec: label histogram increment (0, inf) and decrement [0, inf).
      mod_rate: learning-rate factor of a regulated update (0, 1].
      max_age: edges older than this are pruned after each epoch; an integer [1, inf).
    """

    beta: float = _number(0.7, Range(0.0, 1.0))
    activity_threshold: float = _number(0.4, Range(0.0, 1.0, low_open=True, high_open=True))
    habituation_threshold: float = _number(0.5, UNIT)
    eps_b: float = _number(0.2, UNIT)
    eps_n: float = _number(0.001, UNIT)
    tau_b: float = _number(0.3, UNIT)
    tau_n: float = _number(0.1, UNIT)
    kappa: float = _number(1.05, Range(1.0))
    a_inc: float = _number(1.0, Range(0.0, low_open=True))
    a_dec: float = _number(0.1, Range(0.0))
    mod_rate: float = _number(0.01, UNIT)
    max_age: int = _number(1000, Range(1.0, integer=True))

    @classmethod
    def episodic(cls) -> "GWRParams":
        """The reference episodic memory: fast, insertion-prone (the defaults)."""
        return cls()

    @classmethod
    def semantic(cls) -> "GWRParams":
        """The reference semantic memory: slow, fewer insertions, edges kept longer."""
        return cls(activity_threshold=0.2, habituation_threshold=0.2, eps_b=0.02, max_age=2000)

    def check(self, name: str = "params") -> None:
        """Refuse a value outside its range or non-finite (any batch shape), naming the field.
        Values are read only when concrete (under jit/vmap only the type is checked)."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not is_concrete(v):
                continue
            allowed = f.metadata["range"]
            try:
                arr = np.asarray(v, np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"{name}.{f.name} must be a number or an array, got {v!r}") from None
            ok = allowed.holds(arr)
            if not np.all(ok):
                bad = arr[~ok].reshape(-1)[0] if arr.ndim else arr
                kind = "an integer" if allowed.integer else "a finite number"
                raise ValueError(f"{name}.{f.name} must be {kind} in {allowed}, got {bad:g}")

    def cast(self, dtype="float32") -> "GWRParams":
        """The same numbers as arrays: floats in `dtype` (the network's), max_age int32.
        What the kernels receive, so a Python float and an array give the same bits."""
        return self.replace(**{
            f.name: jnp.asarray(getattr(self, f.name), jnp.int32 if f.metadata["range"].integer
                                else jnp.dtype(dtype))
            for f in dataclasses.fields(self)})


def check_params(params, name: str = "params") -> None:
    """`params` is a `GWRParams` with every value in range (see `GWRParams.check`)."""
    if not isinstance(params, GWRParams):
        raise TypeError(f"{name} must be a GWRParams (e.g. GWRParams() or GWRParams.semantic()), "
                        f"got {type(params).__name__}")
    params.check(name)


def ranges() -> dict[str, Range]:
    """Each field's allowed values."""
    return {f.name: f.metadata["range"] for f in dataclasses.fields(GWRParams)}
