"""The traced hyperparameters of one Gamma-GWR memory (docs/gwr.md, "Settings and params").

`GWRConfig` holds what sets shapes and control flow (capacity, D, K, heads, classes,
`max_degree`, `regulated`, the distance, the dtype); `GWRParams` holds the numbers a
researcher sweeps, as arrays, so that a new value does not recompile and a batch of
values can be vmapped. `GWRConfig.params()` gives the reference values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

FLOAT_FIELDS: tuple[str, ...] = (
    "beta", "activity_threshold", "habituation_threshold", "eps_b", "eps_n", "tau_b", "tau_n",
    "kappa", "a_inc", "a_dec", "mod_rate")
INT_FIELDS: tuple[str, ...] = ("max_age",)
FIELDS: tuple[str, ...] = FLOAT_FIELDS + INT_FIELDS


@struct.dataclass
class GWRParams:
    """Traced numbers of a Gamma-GWR network: scalars for one network, or a leading batch
    axis when vmapped over a sweep. Meanings and ranges as in `GWRConfig`."""

    beta: jax.Array
    activity_threshold: jax.Array
    habituation_threshold: jax.Array
    eps_b: jax.Array
    eps_n: jax.Array
    tau_b: jax.Array
    tau_n: jax.Array
    kappa: jax.Array
    a_inc: jax.Array
    a_dec: jax.Array
    mod_rate: jax.Array
    max_age: jax.Array


def make_params(dtype="float32", **values) -> GWRParams:
    """GWRParams from numbers (or arrays): floats in `dtype`, max_age int32."""
    missing = set(FIELDS) - set(values)
    extra = set(values) - set(FIELDS)
    if missing or extra:
        raise TypeError(f"GWRParams: missing {sorted(missing)}, unknown {sorted(extra)}")
    out = {k: jnp.asarray(values[k], jnp.dtype(dtype)) for k in FLOAT_FIELDS}
    out["max_age"] = jnp.asarray(values["max_age"], jnp.int32)
    return GWRParams(**out)


# (low, low inclusive, high, high inclusive) per field; None: unbounded.
RANGES: dict[str, tuple] = {
    "beta": (0.0, True, 1.0, True),
    "activity_threshold": (0.0, False, 1.0, False),
    "habituation_threshold": (0.0, False, 1.0, True),
    "eps_b": (0.0, False, 1.0, True), "eps_n": (0.0, False, 1.0, True),
    "tau_b": (0.0, False, 1.0, True), "tau_n": (0.0, False, 1.0, True),
    "kappa": (1.0, True, None, False),
    "a_inc": (0.0, False, None, False), "a_dec": (0.0, True, None, False),
    "mod_rate": (0.0, False, 1.0, True),
    "max_age": (1.0, True, None, False),
}


def check_params(params: GWRParams, name: str = "params") -> None:
    """Refuse out-of-range or non-finite values (any batch shape). Values are read only when
    concrete (under jit/vmap only the type is checked)."""
    from clifer_jax.gwr.checks import is_concrete

    if not isinstance(params, GWRParams):
        raise TypeError(f"{name} must be a GWRParams (GWRConfig.params()), got {type(params).__name__}")
    for field in FIELDS:
        v = getattr(params, field)
        if not is_concrete(v):
            continue
        arr = np.asarray(v, np.float64)
        lo, lo_in, hi, hi_in = RANGES[field]
        ok = np.isfinite(arr)
        if lo is not None:
            ok &= (arr >= lo) if lo_in else (arr > lo)
        if hi is not None:
            ok &= (arr <= hi) if hi_in else (arr < hi)
        if not np.all(ok):
            bad = arr[~ok].reshape(-1)[0]
            span = (f"{'[' if lo_in else '('}{lo}, {hi if hi is not None else 'inf'}"
                    f"{']' if hi_in and hi is not None else ')'}")
            raise ValueError(f"{name}.{field} must be finite and lie in {span}, got {bad}")
