"""The GWR kernels jitted once, for tests that call them directly, and the split of a
NumPy reference's keyword dict into the kernel's static config and traced params.

`gwr.train_unchecked` / `gwr.predict_unchecked` are plain traceable functions (docs/design.md,
"Naming: kernels and wrappers"); these are the jitted objects the tests time, count and compare.
They take `(config, params, state, ...)` like the kernels.
"""

import dataclasses

import jax

from clifer_jax import gwr

train_unchecked = jax.jit(gwr.train_unchecked, static_argnames=("config", "epochs", "remove_isolated"))
predict_unchecked = jax.jit(gwr.predict_unchecked, static_argnames=("config",))

STATIC_FIELDS = tuple(f.name for f in dataclasses.fields(gwr.GWRConfig))
PARAM_FIELDS = tuple(f.name for f in dataclasses.fields(gwr.GWRParams))
# Keywords of `ReferenceGWR` that are neither (its own storage choices).
REFERENCE_ONLY = ("compact",)


def split(kw: dict) -> tuple[gwr.GWRConfig, gwr.GWRParams]:
    """A `ReferenceGWR(**kw)` keyword dict as the kernel's (GWRConfig, GWRParams): the
    static fields into the config, the numbers into the params (Python numbers; the
    validated entry points cast them, the jitted kernels convert them at the boundary)."""
    unknown = set(kw) - set(STATIC_FIELDS) - set(PARAM_FIELDS) - set(REFERENCE_ONLY)
    if unknown:
        raise TypeError(f"split: unknown fields {sorted(unknown)}")
    return (gwr.GWRConfig(**{k: v for k, v in kw.items() if k in STATIC_FIELDS}),
            gwr.GWRParams(**{k: v for k, v in kw.items() if k in PARAM_FIELDS}))


def reference_kwargs(config: gwr.GWRConfig, params: gwr.GWRParams) -> dict:
    """Every field of a config and its params as one `ReferenceGWR` keyword dict."""
    return {**{f: getattr(config, f) for f in STATIC_FIELDS},
            **{f: getattr(params, f) for f in PARAM_FIELDS}}
