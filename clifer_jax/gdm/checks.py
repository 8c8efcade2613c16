"""Boundary checks of the GDM's public functions (docs/gwr.md, "Checks"): the config,
a state against its config, the state after a call, the node-limit warning.

Shape checks read only shapes, so they work on tracers: the public functions stay
traceable under `jax.jit` / `jax.vmap`. Value checks run only on concrete arrays.
"""

from __future__ import annotations

import warnings

import numpy as np

from clifer_jax.gdm.config import GDMConfig
from clifer_jax.gwr import checks as gwr_checks
from clifer_jax.validate import host_value


def check_config(config) -> None:
    """`config` is a `GDMConfig` with its sizes set."""
    if not isinstance(config, GDMConfig):
        raise TypeError(f"config must be a GDMConfig, got {type(config).__name__}")
    if not config.is_sized:
        raise ValueError(f"GDMConfig needs dim and capacity (got dim={config.dim}, capacity="
                         f"{config.capacity}); set them, or call config.for_data(dim, samples)")


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


def warn_nonfinite(state, what: str) -> None:
    """Warn when a call left NaN/inf in a memory; skipped under tracing."""
    for name in ("episodic", "semantic"):
        gwr_checks.warn_nonfinite(getattr(state, name).weights, what, f"{name} memory")


def warn_full(config, before, after) -> None:
    """Warn when insertions were refused at a limit the user should raise: the capacity
    (raise `*_capacity`), or a node limit frozen at the first class step
    (`grow_max_nodes=False`). Refusals under a limit that follows the samples seen are
    the design (docs/gwr.md) and stay silent. Also warn when edges or temporal links gave
    way because a node needed more than `max_degree` (docs/gwr.md, "Topology")."""
    for name in ("episodic", "semantic"):
        counts = [(host_value(getattr(getattr(before, name), f)), host_value(getattr(getattr(after, name), f)))
                  for f in ("edge_overflow", "temporal_overflow")]
        if all(b is not None and a is not None for b, a in counts):
            (e0, e1), (t0, t1) = counts
            edges, links = int(np.sum(e1) - np.sum(e0)), int(np.sum(t1) - np.sum(t0))
            if edges or links:
                warnings.warn(f"{name} memory: {edges} edges and {links} temporal links gave way (a node "
                              f"needed more than max_degree = {config.max_degree}); raise GDMConfig.max_degree",
                              RuntimeWarning, stacklevel=3)
    for name in ("episodic", "semantic"):
        b = host_value(getattr(before, name).refused_insertions)
        a = host_value(getattr(after, name).refused_insertions)
        limit = host_value(getattr(after, name).max_nodes)
        if a is None or b is None or limit is None:
            continue
        n = int(np.sum(a) - np.sum(b))
        if n <= 0:
            continue
        cap = getattr(config, name).capacity
        if int(np.max(limit)) >= cap:
            warnings.warn(f"{name} memory full: {n} insertions refused at its capacity of {cap} "
                          f"nodes; raise GDMConfig.{'capacity' if name == 'episodic' else 'semantic_capacity'}", RuntimeWarning,
                          stacklevel=3)
        elif not config.grow_max_nodes:
            warnings.warn(f"{name} memory: {n} insertions refused by its node limit of "
                          f"{int(np.max(limit))}, frozen at the first class step "
                          f"(grow_max_nodes=False); set grow_max_nodes=True to let it follow the "
                          f"samples seen", RuntimeWarning, stacklevel=3)
