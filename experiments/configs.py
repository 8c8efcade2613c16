"""Configurations of the paper's experiments (docs/design.md): one per dataset.

`get_config(name)` returns a frozen `ExperimentConfig`, one tree of frozen dataclasses
(data, CAAE, protocol and models at the top; `gdm.*` and `mlp.*` below). Command-line
flags of `clifer run` override its fields, and `--set PATH=VALUE` any leaf
(`clifer_jax.config_tree`; `clifer config` lists every path with its value).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from clifer_jax import config_tree
from clifer_jax.caae import pool
from clifer_jax.classes import DEFAULT_ORDER
from clifer_jax.experiment import MODELS
from clifer_jax.gwr.params import RANGES

DATASETS = ("synthetic", "ravdess", "mmi", "baum1")
PROTOCOLS = ("heldout", "reference")
CAAE_PRESETS = ("cpu", "paper", "tiny")   # clifer_jax.caae.config.PRESETS


def caae_preset(name: str, epochs: int | None = None, settings: "CAAESettings | None" = None):
    """The CAAE configuration of a preset (`clifer_jax.caae.config.preset`), with its epochs
    and the loss weights set in `settings` overridden; "tiny" is a few-second model for tests."""
    from clifer_jax.caae import config as caae_config

    c = caae_config.preset(name)
    c = c.replace(epochs=epochs) if epochs is not None else c
    return settings.apply(c) if settings is not None else c


@dataclasses.dataclass(frozen=True)
class CAAESettings:
    """CAAE preset fields to override (None: the preset's value; docs/caae.md, "The
    latent's expression term and FiLM", "The latent split", "The identity network"): four
    loss weights, the generator's class conditioning at every scale, the latent split and
    the synthetic identity loss. `clifer run --set
    caae.latent_class_weight=0.2` trains (and checkpoints) a CAAE with that weight."""

    latent_class_weight: float | None = None
    imagine_class_weight: float | None = None
    cycle_weight: float | None = None
    adv_img_weight: float | None = None
    gen_film: bool | None = None
    expr_dims: int | None = None
    gen_res_blocks: int | None = None
    # The synthetic identity loss (docs/caae.md, "The identity network"): "synthetic" trains
    # the identity network on the CAAE pool's identities and uses it with weight 1 on
    # reconstructions and translations, as `train_caae --identity-net synthetic` does;
    # identity_weight / identity_translation override those two. VGG-Face needs weights
    # this runner does not load: train that CAAE with `experiments.train_caae`.
    identity_net: Literal["synthetic", "none"] | None = None
    identity_weight: float | None = None
    identity_translation: bool | None = None

    def __post_init__(self):
        if ((self.identity_weight is not None or self.identity_translation is not None)
                and self.identity_net != "synthetic"):
            raise ValueError("caae.identity_weight and caae.identity_translation need caae.identity_net=synthetic (set it first)")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            if f.name in ("gen_film", "identity_translation"):
                if not isinstance(v, bool):
                    raise ValueError(f"caae.{f.name} must be true, false or none, got {v!r}")
            elif f.name == "identity_net":
                if v not in ("synthetic", "none"):
                    raise ValueError(f"caae.identity_net must be synthetic or none (unset: the preset's), got {v!r}")
            elif f.name in ("expr_dims", "gen_res_blocks"):
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise ValueError(f"caae.{f.name} must be an integer >= 0 (or none: the preset's), got {v!r}")
            elif isinstance(v, bool) or not (isinstance(v, (int, float)) and v >= 0):
                raise ValueError(f"caae.{f.name} must be a number >= 0 (or none: the preset's), got {v!r}")

    def apply(self, config):
        """`config` (a `CAAEConfig`) with the set fields replaced."""
        changes = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                   if getattr(self, f.name) is not None}
        if changes.get("identity_net") == "synthetic":
            changes = {"identity_weight": 1.0, "identity_translation": True, **changes}
        elif changes.get("identity_net") == "none":
            changes = {**changes, "identity_weight": 0.0, "identity_net": config.identity_net}
        changes = {k: v if k in ("gen_film", "expr_dims", "gen_res_blocks", "identity_net", "identity_translation") else float(v)
                   for k, v in changes.items()}
        return config.replace(**changes) if changes else config


# Numeric fields: the smallest value that makes sense (None allowed where listed).
_MINIMUM = {"caae_epochs": 1, "subjects": 1, "seed": 0, "synthetic_subjects": 1,
            "synthetic_train_identities": 1, "synthetic_train_frames": 1,
            "synthetic_clips": 1, "synthetic_frames": 1}
_OPTIONAL = ("caae_epochs", "subjects")


def check_numbers(cfg) -> None:
    """Every numeric option an integer at or above its minimum, before anything runs
    (e.g. caae_epochs 0 would give features from an untrained CAAE)."""
    import numbers

    for name, low in _MINIMUM.items():
        if not hasattr(cfg, name):
            continue
        v = getattr(cfg, name)
        if v is None and name in _OPTIONAL:
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
            flag = f" (--{name.replace('_', '-')})" if name in ("caae_epochs", "subjects", "seed") else ""
            raise ValueError(f"{name}{flag} must be an integer >= {low}, got {v!r}")


# MemorySettings field -> GWRParams field
_PARAM_NAMES = {"a_t": "activity_threshold", "h_t": "habituation_threshold"}


@dataclasses.dataclass(frozen=True)
class MemorySettings:
    """The traced numbers of one GDM memory (`clifer_jax.gwr.GWRParams`; docs/gwr.md,
    "Settings and params"): a_t and h_t are the activity and habituation thresholds, the
    rest keep GWRConfig's names. Defaults: the reference episodic memory."""

    a_t: float = 0.4
    h_t: float = 0.5
    eps_b: float = 0.2
    eps_n: float = 0.001
    tau_b: float = 0.3
    tau_n: float = 0.1
    kappa: float = 1.05
    a_inc: float = 1.0
    a_dec: float = 0.1
    mod_rate: float = 0.01
    max_age: int = 1000
    beta: float = 0.7

    def __post_init__(self):
        import math
        import numbers

        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            lo, lo_in, hi, hi_in = RANGES[_PARAM_NAMES.get(f.name, f.name)]
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
            ok = ok and (v >= lo if lo_in else v > lo) and (hi is None or (v <= hi if hi_in else v < hi))
            if f.name == "max_age":
                ok = ok and isinstance(v, numbers.Integral)
            if not ok:
                span = f"{'[' if lo_in else '('}{lo}, {hi if hi is not None else 'inf'}{']' if hi_in else ')'}"
                raise ValueError(f"{f.name} must be a finite number in {span}, got {v!r}")

    def params(self, dtype: str = "float32"):
        from clifer_jax.gwr.params import make_params

        return make_params(dtype, **{_PARAM_NAMES.get(k, k): v for k, v in dataclasses.asdict(self).items()})


def _semantic() -> MemorySettings:
    return MemorySettings(a_t=0.2, h_t=0.2, eps_b=0.02, max_age=2000)


@dataclasses.dataclass(frozen=True)
class GDMSettings:
    """The GDM of the GDM-family models (docs/design.md). `episodic` and `semantic` are
    traced params (one compilation serves every value; `clifer sweep` vmaps over them);
    the rest is static: context K, capacity (None: every training sample of a subject;
    the semantic memory gets half), mini-batch size and epochs, replay and imagination
    epochs, and whether node limits grow with the samples seen."""

    episodic: MemorySettings = dataclasses.field(default_factory=MemorySettings)
    semantic: MemorySettings = dataclasses.field(default_factory=_semantic)
    context: int = 0
    capacity: int | None = None
    batch_size: int = 5
    epochs: int = 10
    replay_epochs: int = 3
    extra_epochs: int = 5
    grow_max_nodes: bool = True

    def __post_init__(self):
        for name in ("batch_size", "epochs", "replay_epochs", "extra_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.context < 0:
            raise ValueError(f"context must be >= 0, got {self.context}")
        if self.capacity is not None and self.capacity < 4:
            raise ValueError(f"capacity must be >= 4 (or none: from the data), got {self.capacity}")

    def config(self, dim: int, samples_per_subject: int, num_classes: int = 6, replay: bool = False):
        """The static `GDMConfig` (numbers at their reference values: the params carry ours)."""
        from clifer_jax import gdm

        cap = self.capacity or max(4, samples_per_subject)
        return gdm.reference_config(dim=dim, episodic_capacity=cap, semantic_capacity=max(2, cap // 2),
                                    num_classes=num_classes, replay=replay, context=self.context,
                                    batch_size=self.batch_size, epochs=self.epochs,
                                    replay_epochs=self.replay_epochs, extra_epochs=self.extra_epochs,
                                    grow_max_nodes=self.grow_max_nodes)

    def params(self, dtype: str = "float32"):
        from clifer_jax import gdm

        return gdm.GDMParams(episodic=self.episodic.params(dtype), semantic=self.semantic.params(dtype))


@dataclasses.dataclass(frozen=True)
class MLPSettings:
    """The MLP baselines' `clifer_jax.mlp.MLPConfig` without the data-given sizes."""

    hidden: tuple[int, ...] = (64, 32, 16)
    batch_norm_layers: int = 2
    learning_rate: float = 2e-3
    b1: float = 0.5
    b2: float = 0.999
    eps: float = 1e-7
    batch_size: int = 64
    epochs: int = 20
    min_steps: int = 500
    bn_momentum: float = 0.9
    bn_epsilon: float = 1e-3
    hidden_init_std: float = 0.02
    output_init_std: float = 0.025
    bn_recalibrate: bool = True

    def __post_init__(self):
        self.config(1)                       # MLPConfig's checks

    def config(self, dim: int, num_classes: int | None = None):
        from clifer_jax import mlp

        extra = {} if num_classes is None else {"num_classes": num_classes}
        return mlp.MLPConfig(feature_dim=dim, **dataclasses.asdict(self), **extra)


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Everything one run depends on (saved as config.json in the output folder).

    dataset: one of DATASETS; data_dir / manual_dir: where a real dataset's TFDS
    build lives and where the user's downloaded files are (docs/data.md).
    models: the models to run; protocol: "heldout" (test on held-out clips) or
    "reference" (test on the training samples, as the reference code did).
    order: class learning order (canonical indices); order_study: also run six
    orders (each class first once) for `order_models`.
    caae_preset: "cpu", "paper" or "tiny" (for tests); caae_epochs: override of
    the preset's epochs; caae: loss weights of the preset to override. The CAAE trains on the synthetic identity pool, which is
    disjoint from every evaluation subject (docs/metrics.md).
    feature_norm: "pool" standardises every latent dimension with the mean and
    std of the CAAE's own training pool (no evaluation subject is used), "none"
    feeds the raw latents (docs/differences.md says why "pool" is the default).
    synthetic_*: size of the synthetic data: the evaluation pool's subjects, clips
    per class and frames per clip; the CAAE pool's identities, frames per clip (one
    clip per class) and which frames ("apex" or "clip"; `clifer_jax.caae.pool`).
    synthetic_preset: how synthetic clips behave: "posed" (default), "spontaneous"
    or "easy" (`clifer_jax.data.synthetic.PRESETS`, docs/data.md); it sets the
    evaluation subjects and the CAAE's pool alike.
    subjects: use only the first n subjects (None: all).
    seed: the data seed (synthetic data, CAAE pool, MLP keys, order-study orders).
    caae_seeds: CAAE training seeds (None: one CAAE, trained with `seed`). With several,
    every model runs on each seed's features; the first seed's make the headline
    results, and results.json["over_caae_seeds"] summarises the figures over seeds.
    imagination_order: CLIFER's imagination set, "reference" (per BMU: v, then its
    imaginings) or "blocks" (`clifer_jax.clifer.CLIFERConfig`).
    imagination: where CLIFER's imagined samples come from, "caae", "oracle" (the
    renderer's true faces; synthetic data only) or "none" (`clifer_jax.imagination`).
    allow_centre_crops: use a real dataset's build even when no face was detected in it
    (every frame a centre crop); without it such a build stops the run.
    gdm: the GDM family's settings and params (`GDMSettings`); mlp: the MLP baselines'
    (`MLPSettings`).
    """

    dataset: str = "synthetic"
    data_dir: str | None = None
    manual_dir: str | None = None
    models: tuple[str, ...] = MODELS
    protocol: str = "heldout"
    order: tuple[int, ...] = DEFAULT_ORDER
    order_study: bool = False
    order_models: tuple[str, ...] = ("clifer",)
    caae_preset: str = "cpu"
    caae_epochs: int | None = None
    feature_norm: str = "pool"
    synthetic_subjects: int = 24
    synthetic_train_identities: int = pool.TRAIN_IDENTITIES
    synthetic_train_frames: int = pool.TRAIN_FRAMES
    synthetic_train_sampling: str = pool.TRAIN_SAMPLING
    synthetic_clips: int = 4
    synthetic_frames: int = 8
    synthetic_preset: str = "posed"
    subjects: int | None = None
    seed: int = 0
    caae_seeds: tuple[int, ...] | None = None
    imagination_order: str = "reference"
    imagination: str = "caae"
    allow_centre_crops: bool = False
    gdm: GDMSettings = dataclasses.field(default_factory=GDMSettings)
    mlp: MLPSettings = dataclasses.field(default_factory=MLPSettings)
    caae: CAAESettings = dataclasses.field(default_factory=CAAESettings)

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; expected one of {DATASETS}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; expected one of {PROTOCOLS}")
        for m in tuple(self.models) + tuple(self.order_models):
            if m not in MODELS:
                raise ValueError(f"unknown model {m!r}; expected one of {MODELS}")
        if not self.models:
            raise ValueError("at least one model is needed")
        if sorted(self.order) != sorted(set(self.order)) or any(not 0 <= c < 6 for c in self.order):
            raise ValueError(f"order must list distinct classes in [0, 6), got {self.order}")
        if self.caae_preset not in CAAE_PRESETS:
            raise ValueError(f"unknown CAAE preset {self.caae_preset!r}; expected one of {CAAE_PRESETS}")
        if self.feature_norm not in ("pool", "none"):
            raise ValueError(f"feature_norm must be 'pool' or 'none', got {self.feature_norm!r}")
        if self.caae_seeds is not None:
            seeds = tuple(self.caae_seeds)
            import numbers

            if not seeds or len(set(seeds)) != len(seeds) or any(
                    not isinstance(x, numbers.Integral) or isinstance(x, bool) or x < 0 for x in seeds):
                raise ValueError(f"caae_seeds must be distinct non-negative ints, got {self.caae_seeds}")
        if self.imagination_order not in ("reference", "blocks"):
            raise ValueError(f"imagination_order must be 'reference' or 'blocks', got {self.imagination_order!r}")
        from clifer_jax.imagination import check_mode

        check_mode(self.imagination, self.dataset)
        check_numbers(self)
        if self.synthetic_train_sampling not in pool.SAMPLINGS:
            raise ValueError(f"synthetic_train_sampling must be one of {pool.SAMPLINGS}, "
                             f"got {self.synthetic_train_sampling!r}")
        from clifer_jax.data.synthetic import PRESETS

        if self.synthetic_preset not in PRESETS:
            raise ValueError(f"synthetic_preset: unknown synthetic preset {self.synthetic_preset!r}; "
                             f"expected one of {tuple(PRESETS)}")

    def replace(self, **changes) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The whole resolved tree (config.json of a run folder)."""
        return config_tree.to_dict(self)

    def set(self, *items: str) -> "ExperimentConfig":
        """`PATH=VALUE` assignments (`clifer run --set`), applied in order."""
        return config_tree.apply_sets(self, items)


def get_config(name: str = "synthetic") -> ExperimentConfig:
    """The paper's setting for a dataset (synthetic: the embedded default)."""
    if name == "synthetic":
        return ExperimentConfig()
    if name in ("ravdess", "mmi", "baum1"):
        return ExperimentConfig(dataset=name)
    raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
