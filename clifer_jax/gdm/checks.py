"""Boundary checks of the GDM's public functions (docs/gwr.md, "Checks"): a state
against its config, hyperparameters, the state after a call, the node-limit warning.

Shape checks read only shapes, so they work on tracers: the public functions stay
traceable under `jax.jit` / `jax.vmap`. Value checks run only on concrete arrays.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings

import numpy as np

from clifer_jax.gwr import checks as gwr_checks


def check_config(config) -> None:
    """Every float hyperparameter of both memories finite (kappa=inf would leave a NaN
    state without an error)."""
    for name in ("episodic", "semantic"):
        c = getattr(config, name)
        for f in dataclasses.fields(c):
            v = getattr(c, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{name}.{f.name} must be finite, got {v}")


def _trailing(arr, n: int) -> tuple[int, ...]:
    return tuple(np.shape(arr))[-n:] if n else ()


def check_state(config, state, batched: bool = False) -> None:
    """`state` (a GDMState; with `batched`, one per subject on a leading axis) was made
    for `config`: capacity, context depth, dim, label heads and classes of each memory.
    The message names the field that differs."""
    for name in ("episodic", "semantic"):
        c, s = getattr(config, name), getattr(state, name, None)
        if s is None:
            raise TypeError(f"state must be a GDMState, got {type(state).__name__}")
        want = {"weights": (c.capacity, c.depth, c.dim), "active": (c.capacity,),
                "label_hist": (c.num_heads, c.capacity, c.num_classes)}
        for field, shape in want.items():
            arr = getattr(s, field)
            got = tuple(np.shape(arr))
            lead = len(got) - len(shape)
            if got[lead:] != shape or lead != (1 if batched else 0):
                meaning = {"weights": "(capacity, context depth K+1, dim)", "active": "(capacity,)",
                           "label_hist": "(label heads, capacity, classes)"}[field]
                raise ValueError(
                    f"state does not match config: {name}.{field} has shape {got}, the config "
                    f"implies {('[S] + ' if batched else '') + str(shape)} {meaning}; was the state "
                    f"made with another capacity, dim, context or class count?")


def as_int(value, name: str, low: int = 1) -> int:
    """A Python int from an int or numpy integer >= `low` (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def warn_nonfinite(state, what: str) -> None:
    """Warn when a call left NaN/inf in a memory (e.g. finite inputs whose squared
    distances overflow float32); skipped under tracing."""
    for name in ("episodic", "semantic"):
        w = gwr_checks.host_value(getattr(state, name).weights)
        if w is not None and not np.all(np.isfinite(w)):
            bad = int(w.size - np.count_nonzero(np.isfinite(w)))
            warnings.warn(f"{what}: the {name} memory holds {bad} NaN/inf weights after this call "
                          f"(inputs too large for float32? rescale the features)", RuntimeWarning,
                          stacklevel=3)


def warn_full(config, before, after) -> None:
    """Warn when insertions were refused at a limit the user should raise: the capacity
    (raise `*_capacity`), or a node limit frozen at the first class step
    (`grow_max_nodes=False`). Refusals under a limit that follows the samples seen are
    the design (docs/gwr.md) and stay silent."""
    for name in ("episodic", "semantic"):
        b = gwr_checks.host_value(getattr(before, name).refused_insertions)
        a = gwr_checks.host_value(getattr(after, name).refused_insertions)
        limit = gwr_checks.host_value(getattr(after, name).max_nodes)
        if a is None or b is None or limit is None:
            continue
        n = int(np.sum(a) - np.sum(b))
        if n <= 0:
            continue
        cap = getattr(config, name).capacity
        if int(np.max(limit)) >= cap:
            warnings.warn(f"{name} memory full: {n} insertions refused at its capacity of {cap} "
                          f"nodes; raise {name}_capacity (gdm.reference_config)", RuntimeWarning,
                          stacklevel=3)
        elif not config.grow_max_nodes:
            warnings.warn(f"{name} memory: {n} insertions refused by its node limit of "
                          f"{int(np.max(limit))}, frozen at the first class step "
                          f"(grow_max_nodes=False); set grow_max_nodes=True to let it follow the "
                          f"samples seen", RuntimeWarning, stacklevel=3)
