"""Static hyperparameters of one Gamma-GWR memory (docs/gwr.md)."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Literal

import jax.numpy as jnp
import numpy as np

Distance = Literal["clifer", "gdm"]
PredictContext = Literal["bmu", "input"]
RowUpdates = Literal["scatter", "dense"]


@dataclasses.dataclass(frozen=True)
class GWRConfig:
    """Shapes and hyperparameters of a Gamma-GWR network.

    Frozen and hashable: pass it as a static argument to jitted functions.
    Defaults are the episodic memory of the reference configuration (docs/gwr.md).

    Attributes:
      dim: feature size D of an input sample.
      capacity: number of preallocated node slots N (array shapes depend on it).
      max_nodes: default node limit (<= capacity); the state carries its own copy
        so that it can differ per subject and change between calls.
      context: number K of context descriptors (weights have K+1 rows).
      beta: context blending factor β.
      activity_threshold: a_T; insert when exp(-d_b) < a_T (and h_b < h_T).
      habituation_threshold: h_T.
      eps_b, eps_n: learning rates of the BMU and of its neighbours.
      tau_b, tau_n, kappa: habituation constants.
      a_inc, a_dec: label histogram increment and decrement.
      max_age: edges older than this are pruned after each epoch.
      regulated: only learn from samples whose label the BMU predicts wrongly.
      mod_rate: learning-rate factor of a regulated update.
      inactivity_scaling: multiply the BMU update by (1 - a) (CLIFER's code).
      distance: "clifer" (Σ_k α_k ‖g_k − w_k‖) or "gdm" (‖Σ_k α_k (g_k − w_k)‖).
      predict_context: with K > 0, what `predict` builds each sample's context from:
        "bmu" (default) the previous sample's BMU weights, blended with β as in
        training; "input" the previous raw input in every context row, as the
        reference's test routine does (docs/gwr.md). No effect when K = 0.
      num_heads: H label heads; num_classes: C classes per head.
      max_degree: neighbours of the BMU updated per step (a node with more edges
        has the rest ignored and the event is counted in the state); also the number of
        nodes a call's end removes without an N×N pass (docs/gwr.md, "The end of a call").
      edge_log: length L of the state's edge log (the edges each update step set, by
        clock value mod L), from which a call's end finds the expired edges in O(L)
        instead of an N×N pass. A call's end falls back to the N×N pass (counted in
        `GWRState.full_passes`) when t − pruned_below ≥ L — a call of L − max_age update
        steps or more since the previous pruning — or while an edge written by hand
        remains. 0: always the N×N pass.
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
    beta: float = 0.7
    activity_threshold: float = 0.4
    habituation_threshold: float = 0.5
    eps_b: float = 0.2
    eps_n: float = 0.001
    tau_b: float = 0.3
    tau_n: float = 0.1
    kappa: float = 1.05
    a_inc: float = 1.0
    a_dec: float = 0.1
    max_age: int = 1000
    regulated: bool = False
    mod_rate: float = 0.01
    inactivity_scaling: bool = True
    distance: Distance = "clifer"
    predict_context: PredictContext = "bmu"
    num_heads: int = 1
    num_classes: int = 6
    max_degree: int = 64
    edge_log: int = 4096
    dtype: str = "float32"
    row_updates: RowUpdates = "scatter"

    def __post_init__(self):
        def need(ok: bool, what: str):
            if not ok:
                raise ValueError(f"GWRConfig: {what}")

        for name in ("dim", "capacity", "max_nodes", "context", "max_age", "num_heads", "num_classes",
                     "max_degree", "edge_log"):   # numpy integers are integers too
            v = getattr(self, name)
            if isinstance(v, numbers.Integral) and not isinstance(v, bool):
                object.__setattr__(self, name, int(v))
        for name in ("beta", "activity_threshold", "habituation_threshold", "eps_b", "eps_n", "tau_b",
                     "tau_n", "kappa", "a_inc", "a_dec", "mod_rate"):
            v = getattr(self, name)
            need(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v),
                 f"{name} must be a finite number, got {v!r}")
        need(isinstance(self.dim, int) and self.dim >= 1, f"dim must be a positive int, got {self.dim!r}")
        need(isinstance(self.capacity, int) and self.capacity >= 2,
             f"capacity must be an int >= 2, got {self.capacity!r}")
        if self.max_nodes is None:
            object.__setattr__(self, "max_nodes", self.capacity)
        need(2 <= self.max_nodes <= self.capacity,
             f"max_nodes must lie in [2, capacity={self.capacity}], got {self.max_nodes}")
        need(self.context >= 0, f"context (K) must be >= 0, got {self.context}")
        need(0.0 <= self.beta <= 1.0, f"beta must lie in [0, 1], got {self.beta}")
        need(0.0 < self.activity_threshold < 1.0,
             f"activity_threshold (a_T) must lie in (0, 1), got {self.activity_threshold}")
        need(0.0 < self.habituation_threshold <= 1.0,
             f"habituation_threshold (h_T) must lie in (0, 1], got {self.habituation_threshold}")
        for name in ("eps_b", "eps_n"):
            v = getattr(self, name)
            need(0.0 < v <= 1.0, f"{name} must lie in (0, 1], got {v}")
        for name in ("tau_b", "tau_n"):
            v = getattr(self, name)
            need(0.0 < v <= 1.0, f"{name} must lie in (0, 1], got {v}")
        need(self.kappa >= 1.0, f"kappa must be >= 1 (habituation decays to 1 - 1/kappa), got {self.kappa}")
        need(self.a_inc > 0.0, f"a_inc must be > 0, got {self.a_inc}")
        need(self.a_dec >= 0.0, f"a_dec must be >= 0, got {self.a_dec}")
        need(isinstance(self.max_age, int) and self.max_age >= 1, f"max_age must be an int >= 1, got {self.max_age}")
        need(0.0 < self.mod_rate <= 1.0, f"mod_rate must lie in (0, 1], got {self.mod_rate}")
        need(self.distance in ("clifer", "gdm"), f"distance must be 'clifer' or 'gdm', got {self.distance!r}")
        need(self.predict_context in ("bmu", "input"),
             f"predict_context must be 'bmu' or 'input', got {self.predict_context!r}")
        need(self.num_heads >= 1, f"num_heads must be >= 1, got {self.num_heads}")
        need(self.num_classes >= 1, f"num_classes must be >= 1, got {self.num_classes}")
        need(self.max_degree >= 1, f"max_degree must be >= 1, got {self.max_degree}")
        need(isinstance(self.edge_log, int) and self.edge_log >= 0,
             f"edge_log must be an int >= 0, got {self.edge_log!r}")
        need(self.row_updates in ("scatter", "dense"),
             f"row_updates must be 'scatter' or 'dense', got {self.row_updates!r}")
        need(np.dtype(self.dtype).kind == "f", f"dtype must be a floating dtype, got {self.dtype!r}")
        # Neighbour lists never need more room than there are other nodes.
        object.__setattr__(self, "max_degree", min(self.max_degree, self.capacity - 1))

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

    def params(self):
        """The traced numbers of this config (its field values) as a `GWRParams`."""
        from clifer_jax.gwr.params import FIELDS, make_params

        return make_params(self.dtype, **{k: getattr(self, k) for k in FIELDS})

    def replace(self, **changes) -> "GWRConfig":
        return dataclasses.replace(self, **changes)


def episodic_config(dim: int, capacity: int, max_nodes: int | None = None, **overrides) -> GWRConfig:
    """The reference episodic memory (docs/gwr.md): fast, unregulated, two label heads."""
    base = dict(
        activity_threshold=0.4, habituation_threshold=0.5, eps_b=0.2, eps_n=0.001,
        max_age=1000, regulated=False, num_heads=2,
    )
    base.update(overrides)
    return GWRConfig(dim=dim, capacity=capacity, max_nodes=max_nodes, **base)


def semantic_config(dim: int, capacity: int, max_nodes: int | None = None, **overrides) -> GWRConfig:
    """The reference semantic memory (docs/gwr.md): slow, regulated, one label head."""
    base = dict(
        activity_threshold=0.2, habituation_threshold=0.2, eps_b=0.02, eps_n=0.001,
        max_age=2000, regulated=True, mod_rate=0.01, num_heads=1,
    )
    base.update(overrides)
    return GWRConfig(dim=dim, capacity=capacity, max_nodes=max_nodes, **base)
