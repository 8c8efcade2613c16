"""Memory footprint of a network's state, and the largest capacity a budget holds.

The state is O(N·(K+1)·D) weights and O(N·k) topology (four [N, k] int32 lists, 16·k
bytes a node; `gwr.topology`): it grows linearly with the capacity.
"""

from __future__ import annotations

import jax

from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.state import empty
from clifer_jax.validate import tree_bytes


def state_bytes(config: GWRConfig, networks: int = 1) -> int:
    """Bytes of `networks` states of this config (exact: from the state's shapes, nothing allocated)."""
    return networks * tree_bytes(jax.eval_shape(lambda: empty(config)))


def largest_capacity(config: GWRConfig, budget_bytes: int, networks: int = 1, copies: int = 1) -> int:
    """The largest capacity N whose `networks` states fit in `budget_bytes` (0 if not even N = 2).

    copies: states alive at once. A training call that does not donate its input
    holds the input and the output states (copies=2); XLA's scratch on top of that
    is small (O(N·D), see `benchmarks/scaling.py`)."""
    if copies < 1 or networks < 1:
        raise ValueError(f"networks and copies must be >= 1, got {networks}, {copies}")
    fits = lambda n: copies * state_bytes(config.replace(capacity=n, max_nodes=n), networks) <= budget_bytes  # noqa: E731
    if not fits(2):
        return 0
    lo, hi = 2, 4
    while fits(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:                       # fits(lo), not fits(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo
