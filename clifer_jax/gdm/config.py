"""The Growing Dual Memory's static config and traced params (docs/design.md, docs/gwr.md
"Config and params").

`GDMConfig` holds what sets shapes and loop lengths (sizes, context depth, mini-batch
size, epochs) and the memories' implementation choices; its defaults are the reference
schedule. `GDMParams` holds both memories' traced numbers; its defaults are the reference
episodic and semantic memories (`GWRParams.episodic()`, `GWRParams.semantic()`).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from flax import struct

from clifer_jax.gwr.config import GWRConfig, episodic_config, semantic_config
from clifer_jax.gwr.params import GWRParams, check_params


@struct.dataclass
class GDMParams:
    """The traced numbers of both memories: `episodic` (default `GWRParams.episodic()`)
    and `semantic` (default `GWRParams.semantic()`)."""

    episodic: GWRParams = struct.field(default_factory=GWRParams.episodic)
    semantic: GWRParams = struct.field(default_factory=GWRParams.semantic)

    def check(self, name: str = "params") -> None:
        """Every number of both memories in its range (`GWRParams.check`)."""
        check_params(self.episodic, f"{name}.episodic")
        check_params(self.semantic, f"{name}.semantic")

    def cast(self, dtype="float32") -> "GDMParams":
        """Both memories' numbers as arrays (`GWRParams.cast`)."""
        return GDMParams(episodic=self.episodic.cast(dtype), semantic=self.semantic.cast(dtype))


def check_gdm_params(params, name: str = "params") -> None:
    """`params` is a `GDMParams` with every value in range."""
    if not isinstance(params, GDMParams):
        raise TypeError(f"{name} must be a GDMParams (e.g. GDMParams()), got {type(params).__name__}")
    params.check(name)


@dataclasses.dataclass(frozen=True)
class GDMConfig:
    """Two Gamma-GWR memories and the schedule that trains them (static: shapes and loop
    lengths). The episodic memory is unregulated with two label heads (both the class),
    the semantic one regulated with one (`episodic`, `semantic`).

    Attributes:
      dim: feature size D. None: not known yet (`for_data` sets it from the features).
      capacity: node slots of the episodic memory. None: `for_data` sets it (every
        training sample of a subject).
      semantic_capacity: node slots of the semantic memory (None: half the episodic
        capacity, at least 2).
      num_classes: C.
      context: K, the context depth of both memories.
      batch_size: samples per mini-batch of a class step.
      epochs: episodic and semantic epochs per mini-batch.
      replay_epochs: epochs per replayed trajectory (GDM + replay).
      extra_epochs: epochs of `learn_extra` (CLIFER's imagination set).
      grow_max_nodes: node limits follow the samples seen so far (episodic: all of them,
        semantic: half). False freezes them from the first class step, as the
        reference code does.
      distance, inactivity_scaling, predict_context, max_degree, row_updates,
        dtype: both memories' `GWRConfig` settings of the same names.
    """

    dim: int | None = None
    capacity: int | None = None
    semantic_capacity: int | None = None
    num_classes: int = 6
    context: int = 0
    batch_size: int = 5
    epochs: int = 10
    replay_epochs: int = 3
    extra_epochs: int = 5
    grow_max_nodes: bool = True
    distance: Literal["clifer", "gdm"] = "clifer"
    inactivity_scaling: bool = True
    predict_context: Literal["bmu", "input"] = "bmu"
    max_degree: int = 64
    row_updates: Literal["scatter", "dense"] = "scatter"
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("dim", "capacity", "semantic_capacity", "num_classes", "context", "batch_size",
                     "epochs", "replay_epochs", "extra_epochs", "max_degree"):
            v = getattr(self, name)
            if isinstance(v, np.integer):        # numpy integers (array shapes) are ints too
                object.__setattr__(self, name, int(v))
        lows = {"dim": 1, "capacity": 4, "semantic_capacity": 2, "num_classes": 2, "context": 0,
                "batch_size": 1, "epochs": 1, "replay_epochs": 1, "extra_epochs": 1}
        for name, low in lows.items():
            v = getattr(self, name)
            if v is None and name in ("dim", "capacity", "semantic_capacity"):
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"GDMConfig: {name} must be an integer >= {low}"
                                 f"{' (or None)' if name in ('dim', 'capacity', 'semantic_capacity') else ''}, "
                                 f"got {v!r}")
        if self.is_sized:
            self.episodic, self.semantic     # noqa: B018 - the memories' own checks

    @property
    def is_sized(self) -> bool:
        """Whether dim and capacity are set (the kernels need both)."""
        return self.dim is not None and self.capacity is not None

    def _memory(self, make, capacity: int) -> GWRConfig:
        if not self.is_sized:
            raise ValueError(f"GDMConfig needs dim and capacity (got dim={self.dim}, "
                             f"capacity={self.capacity}); set them, or call for_data(dim, samples)")
        return make(self.dim, capacity, context=self.context, num_classes=self.num_classes,
                    distance=self.distance, inactivity_scaling=self.inactivity_scaling,
                    predict_context=self.predict_context, max_degree=self.max_degree,
                    row_updates=self.row_updates, dtype=self.dtype)

    @property
    def episodic(self) -> GWRConfig:
        """The episodic memory's `GWRConfig`: unregulated, two label heads."""
        return self._memory(episodic_config, self.capacity)

    @property
    def semantic(self) -> GWRConfig:
        """The semantic memory's `GWRConfig`: regulated, one label head."""
        cap = self.semantic_capacity if self.semantic_capacity is not None else max(2, self.capacity // 2)
        return self._memory(semantic_config, cap)

    @property
    def trajectory_length(self) -> int:
        """2K + 1 samples per replayed trajectory (K: the context depth)."""
        return 2 * self.context + 1

    def for_data(self, dim: int, samples_per_subject: int) -> "GDMConfig":
        """This config sized for features of `dim` and `samples_per_subject` training samples
        per subject: dim and capacity filled where None (capacity: every sample, at least
        4); a set dim must match the features."""
        if self.dim is not None and self.dim != dim:
            raise ValueError(f"GDMConfig.dim is {self.dim} but the features have {dim} dimensions "
                             f"(leave dim unset to take the features')")
        return self.replace(dim=int(dim), capacity=self.capacity or max(4, int(samples_per_subject)))

    def replace(self, **changes) -> "GDMConfig":
        return dataclasses.replace(self, **changes)
