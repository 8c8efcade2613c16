"""Static settings of one Gamma-GWR memory: shapes and control flow (docs/gwr.md, "Config
and params"). The numbers a run may sweep are in `GWRParams` (`gwr/params.py`)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax.numpy as jnp
import numpy as np

Distance = Literal["clifer", "gdm"]
PredictContext = Literal["bmu", "input"]
RowUpdates = Literal["scatter", "dense"]

@dataclasses.dataclass(frozen=True)
class GWRConfig:
    """Shapes and control flow of a Gamma-GWR network.

    Frozen and hashable: pass it as a static argument to jitted functions. Its numbers
    (thresholds, rates, β, max_age) are not here: they travel as a traced `GWRParams`.

    Attributes:
      dim: feature size D of an input sample.
      capacity: number of preallocated node slots N (array shapes depend on it).
      max_nodes: default node limit (<= capacity); the state carries its own copy
        so that it can differ per subject and change between calls.
      context: number K of context descriptors (weights have K+1 rows).
      regulated: only learn from samples whose label the BMU predicts wrongly.
      inactivity_scaling: multiply the BMU update by (1 - a) (CLIFER's code).
      distance: "clifer" (Σ_k α_k ‖g_k − w_k‖) or "gdm" (‖Σ_k α_k (g_k − w_k)‖).
      predict_context: with K > 0, what `predict` builds each sample's context from:
        "bmu" (default) the previous sample's BMU weights, blended with β as in
        training; "input" the previous raw input in every context row, as the
        reference's test routine does (docs/gwr.md). No effect when K = 0.
      num_heads: H label heads; num_classes: C classes per head.
      max_degree: k, the length of each node's edge list and temporal-successor list
        (`gwr.topology`): the state holds O(N·k) topology. A node that needs a (k+1)-th edge
        loses its oldest one, a (k+1)-th successor replaces the one with the fewest
        transitions; both are counted in the state (docs/gwr.md, "Topology").
      dtype: floating dtype of weights and histograms.
      row_updates: how a step writes the rows it changes (`gwr.rows`, docs/gwr.md "Row
        updates: scatter or dense"): "scatter" (default) into those rows, O(max_degree·D)
        per step; "dense" by masked passes over all N rows, O(N·D) per step, which
        vectorise when many networks are vmapped on a CPU. The same network; the squared
        norms can differ in the last bit (XLA sums them with a kernel chosen per shape).
    """

    dim: int
    capacity: int = 1024
    max_nodes: int | None = None
    context: int = 0
    regulated: bool = False
    inactivity_scaling: bool = True
    distance: Distance = "clifer"
    predict_context: PredictContext = "bmu"
    num_heads: int = 1
    num_classes: int = 6
    max_degree: int = 64
    dtype: str = "float32"
    row_updates: RowUpdates = "scatter"

    def __post_init__(self):
        def need(ok: bool, what: str):
            if not ok:
                raise ValueError(f"GWRConfig: {what}")

        for name in ("dim", "capacity", "max_nodes", "context", "num_heads", "num_classes",
                     "max_degree"):   # numpy integers are integers too
            v = getattr(self, name)
            if isinstance(v, np.integer):
                object.__setattr__(self, name, int(v))
        ints = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
        need(ints(self.dim) and self.dim >= 1, f"dim must be a positive int, got {self.dim!r}")
        need(ints(self.capacity) and self.capacity >= 2,
             f"capacity must be an int >= 2, got {self.capacity!r}")
        if self.max_nodes is None:
            object.__setattr__(self, "max_nodes", self.capacity)
        need(ints(self.max_nodes) and 2 <= self.max_nodes <= self.capacity,
             f"max_nodes must lie in [2, capacity={self.capacity}], got {self.max_nodes!r}")
        need(ints(self.context) and self.context >= 0, f"context (K) must be an int >= 0, got {self.context!r}")
        need(isinstance(self.regulated, bool), f"regulated must be a bool, got {self.regulated!r}")
        need(isinstance(self.inactivity_scaling, bool),
             f"inactivity_scaling must be a bool, got {self.inactivity_scaling!r}")
        need(self.distance in ("clifer", "gdm"), f"distance must be 'clifer' or 'gdm', got {self.distance!r}")
        need(self.predict_context in ("bmu", "input"),
             f"predict_context must be 'bmu' or 'input', got {self.predict_context!r}")
        need(ints(self.num_heads) and self.num_heads >= 1, f"num_heads must be an int >= 1, got {self.num_heads!r}")
        need(ints(self.num_classes) and self.num_classes >= 1,
             f"num_classes must be an int >= 1, got {self.num_classes!r}")
        need(ints(self.max_degree) and self.max_degree >= 2,
             f"max_degree must be an int >= 2 (a new node has two edges), got {self.max_degree!r}")
        need(self.row_updates in ("scatter", "dense"),
             f"row_updates must be 'scatter' or 'dense', got {self.row_updates!r}")
        try:
            floating = np.dtype(self.dtype).kind == "f"
        except TypeError:
            floating = False
        need(floating, f"dtype must be a floating dtype, got {self.dtype!r}")

    @property
    def depth(self) -> int:
        """K + 1: rows of a node's weight (input part plus K context rows)."""
        return self.context + 1

    @property
    def jnp_dtype(self):
        return jnp.dtype(self.dtype)

    def context_weights(self) -> np.ndarray:
        """α_k = e^{-k} / Σ_i e^{-i}, k = 0..K (docs/gwr.md, step 2)."""
        a = np.exp(-np.arange(self.depth, dtype=np.float64))
        return (a / a.sum()).astype(self.dtype)

    def replace(self, **changes) -> "GWRConfig":
        return dataclasses.replace(self, **changes)


def episodic_config(dim: int, capacity: int, **changes) -> GWRConfig:
    """The reference episodic memory's statics (docs/gwr.md): unregulated, two label heads
    (both the expression). Its numbers: `GWRParams.episodic()`."""
    return GWRConfig(dim=dim, capacity=capacity, **{"regulated": False, "num_heads": 2, **changes})


def semantic_config(dim: int, capacity: int, **changes) -> GWRConfig:
    """The reference semantic memory's statics (docs/gwr.md): regulated, one label head.
    Its numbers: `GWRParams.semantic()`."""
    return GWRConfig(dim=dim, capacity=capacity, **{"regulated": True, "num_heads": 1, **changes})
