"""Static configuration of the Growing Dual Memory (SPEC §3)."""

from __future__ import annotations

import dataclasses
import numbers

from flax import struct

from clifer_jax.gwr.config import GWRConfig, episodic_config, semantic_config
from clifer_jax.gwr.params import GWRParams, check_params


@struct.dataclass
class GDMParams:
    """The traced numbers of both memories (docs/gwr.md, "Settings and params"). The GDM's
    own settings (mini-batch size, epochs, replay epochs) set shapes or loop lengths and
    stay static in `GDMConfig`."""

    episodic: GWRParams
    semantic: GWRParams


def check_gdm_params(params, name: str = "params") -> None:
    if not isinstance(params, GDMParams):
        raise TypeError(f"{name} must be a GDMParams (GDMConfig.params()), got {type(params).__name__}")
    check_params(params.episodic, f"{name}.episodic")
    check_params(params.semantic, f"{name}.semantic")


@dataclasses.dataclass(frozen=True)
class GDMConfig:
    """Two Gamma-GWR memories and the schedule that trains them.

    Attributes:
      episodic: the fast, unregulated memory (two label heads, both the class).
      semantic: the slow, regulated memory (one label head).
      batch_size: samples per mini-batch of a class step.
      epochs: episodic and semantic epochs per mini-batch.
      replay: pseudo-rehearsal of episodic trajectories (GDM + replay).
      replay_epochs: epochs per replayed trajectory.
      extra_epochs: epochs of `learn_extra` (CLIFER's imagination set).
      grow_max_nodes: node limits follow the samples seen so far (episodic: all
        of them, semantic: half). False freezes them from the first class step,
        as the reference code does.
    """

    episodic: GWRConfig
    semantic: GWRConfig
    batch_size: int = 5
    epochs: int = 10
    replay: bool = False
    replay_epochs: int = 3
    extra_epochs: int = 5
    grow_max_nodes: bool = True

    def __post_init__(self):
        e, s = self.episodic, self.semantic
        if e.dim != s.dim:
            raise ValueError(f"GDMConfig: episodic dim {e.dim} != semantic dim {s.dim}")
        if e.num_classes != s.num_classes:
            raise ValueError("GDMConfig: both memories need the same num_classes")
        if e.regulated:
            raise ValueError("GDMConfig: the episodic memory must not be regulated")
        if not s.regulated:
            raise ValueError("GDMConfig: the semantic memory must be regulated")
        for name in ("batch_size", "epochs", "replay_epochs", "extra_epochs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"GDMConfig: {name} must be a positive int, got {v!r}")
            object.__setattr__(self, name, int(v))   # numpy integers accepted

    @property
    def dim(self) -> int:
        return self.episodic.dim

    @property
    def num_classes(self) -> int:
        return self.episodic.num_classes

    @property
    def trajectory_length(self) -> int:
        """2K + 1 samples per replayed trajectory (K: episodic context depth)."""
        return 2 * self.episodic.context + 1

    def params(self) -> GDMParams:
        """Both memories' traced numbers at this config's values."""
        return GDMParams(episodic=self.episodic.params(), semantic=self.semantic.params())

    def replace(self, **changes) -> "GDMConfig":
        return dataclasses.replace(self, **changes)


def reference_config(dim: int = 50, episodic_capacity: int = 512, semantic_capacity: int | None = None,
                     *, num_classes: int = 6, replay: bool = False, context: int = 0,
                     **overrides) -> GDMConfig:
    """The reference hyperparameters of SPEC §2-§3 with the given capacities."""
    # numpy integers (e.g. from array shapes) are accepted as ints
    dim, episodic_capacity, num_classes, context = (
        int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v
        for v in (dim, episodic_capacity, num_classes, context))
    if isinstance(semantic_capacity, numbers.Integral):
        semantic_capacity = int(semantic_capacity)
    semantic_capacity = semantic_capacity or max(2, episodic_capacity // 2)
    return GDMConfig(
        episodic=episodic_config(dim, episodic_capacity, num_classes=num_classes, context=context),
        semantic=semantic_config(dim, semantic_capacity, num_classes=num_classes, context=context),
        replay=replay,
        **overrides,
    )
