"""The configuration of a study: one tree of the library's own dataclasses (docs/study.md).

    cfg = StudyConfig()                                   # the default study (synthetic, posed)
    cfg = cfg.set("gdm_params.episodic.activity_threshold=0.5", "mlp.epochs=40")
    cfg = StudyConfig.for_dataset("ravdess").replace(manual_dir="~/RAVDESS")

Every leaf is a path (`clifer config` lists them): the run's own settings at the top, then
`synthetic` (`data.synthetic.SyntheticConfig`: the evaluation subjects of the synthetic
data), `caae_pool` (`caae.pool.PoolConfig`), `caae` (`caae.CAAEConfig`: a preset, whole),
`gdm` (`gdm.GDMConfig`: static), `gdm_params` (`gdm.GDMParams`: traced, sweepable), `mlp`
(`mlp.MLPConfig`) and `clifer` (`clifer.CLIFERConfig`). Sizes that come from the data
(`gdm.dim`, `gdm.capacity`, `mlp.feature_dim`) are None until the study sets them.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from clifer_jax import config_tree
from clifer_jax.caae import config as caae_config
from clifer_jax.caae.pool import PoolConfig
from clifer_jax.classes import DEFAULT_ORDER, NUM_CLASSES, class_index
from clifer_jax.clifer import CLIFERConfig
from clifer_jax.data.synthetic import SyntheticConfig
from clifer_jax.gdm.config import GDMConfig, GDMParams
from clifer_jax.imagination import check_mode
from clifer_jax.mlp import MLPConfig
from clifer_jax.study.models import DEFAULT_MODELS, MODELS, imagination
from clifer_jax.validate import as_int

DATASETS = ("synthetic", "ravdess", "mmi", "baum1")
PROTOCOLS = ("heldout", "reference")
SUBJECT_SETS = ("test", "dev")
# Which subjects a tool evaluates on when `subject_set` is None: reported results on the test
# subjects, screening and calibration (sweeps, the CAAE's evaluation) on the development ones.
DEFAULT_SUBJECT_SET = {"run": "test", "sweep": "dev"}


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Everything one study run depends on (saved as config.json in its folder).

    dataset: one of DATASETS; data_dir / manual_dir: where a real dataset's TFDS build
      lives and where the user's downloaded files are (docs/data.md).
    allow_centre_crops: use a real dataset's build even when no face was detected in it
      (every frame a centre crop); without it such a build stops the run.
    subjects: use only the first n subjects (None: all).
    subject_set: the synthetic data's evaluation subjects: "test" (the subjects results are
      reported on) or "dev" (development subjects from a stream of their own, for every
      screening and calibration); None: "test" for `study.run`, "dev" for `study.sweep`
      (`subject_set_for`). Real datasets have one set of subjects ("test").
    seed: the run's seed: the CAAE's pool and training (unless caae_seeds), the MLPs' keys,
      the order study's orders. The synthetic subjects have their own, `synthetic.seed`.
    models: the registered models to run (`study.models.REGISTRY`).
    protocol: "heldout" (test on held-out clips) or "reference" (test on the training
      samples, as the reference code did).
    order: the class learning order (class names or canonical indices; stored as indices);
      order_study: also run, for `order_models`, each class first followed by
      `order_tails` random orders of the other classes (docs/metrics.md, "Order study").
    caae_seeds: CAAE training seeds (None: one CAAE, trained with `seed`). With several,
      every model runs on each seed's features; the first seed's make the headline
      results, and results.json["over_seeds"] summarises the figures over seeds.
    data_seeds: synthetic data seeds (None: `synthetic.seed` only): each draws new evaluation
      subjects (the CAAE's pool does not change, so one CAAE serves every data seed); with
      several, every model runs on every (data seed, CAAE seed) and results.json["over_seeds"]
      gives each headline figure's mean over them with a CI that covers both.
    feature_norm: "pool" standardises every latent dimension with the mean and std of the
      CAAE's own training pool (no evaluation subject is used), "none" feeds the raw
      latents (docs/differences.md says why "pool" is the default).
    synthetic: the synthetic evaluation subjects (synthetic data only); its preset also
      sets the CAAE pool's.
    caae_pool: the CAAE's synthetic training pool, disjoint from every evaluation subject.
    caae: the CAAE (a preset: `caae.config.PRESETS`; `--caae-preset` replaces it whole).
    gdm, gdm_params: the GDM family's static config and traced numbers; mlp: the MLP
      baselines'; clifer: CLIFER's imagination set.
    """

    dataset: Literal["synthetic", "ravdess", "mmi", "baum1"] = "synthetic"
    data_dir: str | None = None
    manual_dir: str | None = None
    allow_centre_crops: bool = False
    subjects: int | None = None
    subject_set: Literal["test", "dev"] | None = None
    seed: int = 0
    models: tuple[str, ...] = DEFAULT_MODELS
    protocol: Literal["heldout", "reference"] = "heldout"
    order: tuple[int | str, ...] = DEFAULT_ORDER
    order_study: bool = False
    order_models: tuple[str, ...] = ("clifer",)
    order_tails: int = 4
    caae_seeds: tuple[int, ...] | None = None
    data_seeds: tuple[int, ...] | None = None
    feature_norm: Literal["pool", "none"] = "pool"
    synthetic: SyntheticConfig = SyntheticConfig()
    caae_pool: PoolConfig = PoolConfig()
    caae: caae_config.CAAEConfig = dataclasses.field(default_factory=caae_config.cpu)
    gdm: GDMConfig = GDMConfig()
    gdm_params: GDMParams = dataclasses.field(default_factory=GDMParams)
    mlp: MLPConfig = MLPConfig()
    clifer: CLIFERConfig = CLIFERConfig()

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; expected one of {DATASETS}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; expected one of {PROTOCOLS}")
        if not self.models:
            raise ValueError("at least one model is needed")
        for m in tuple(self.models) + tuple(self.order_models):
            if m not in MODELS:
                raise ValueError(f"unknown model {m!r}; expected one of {MODELS}")
        object.__setattr__(self, "order", tuple(class_index(c) if isinstance(c, str) else c
                                                for c in self.order))
        if len(set(self.order)) != len(self.order) or any(
                isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < NUM_CLASSES for c in self.order):
            raise ValueError(f"order must list distinct classes (names, or indices in [0, {NUM_CLASSES})), "
                             f"got {self.order}")
        if self.subjects is not None:
            as_int(self.subjects, "subjects")
        as_int(self.seed, "seed", low=0)
        for name in ("caae_seeds", "data_seeds"):
            seeds = getattr(self, name)
            if seeds is None:
                continue
            if not tuple(seeds) or len(set(seeds)) != len(tuple(seeds)):
                raise ValueError(f"{name} must be distinct non-negative ints, got {seeds}")
            for s in seeds:
                as_int(s, name, low=0)
        as_int(self.order_tails, "order_tails", low=1)
        if self.subject_set not in (None, *SUBJECT_SETS):
            raise ValueError(f"subject_set must be one of {SUBJECT_SETS} or None, got {self.subject_set!r}")
        if self.dataset != "synthetic" and (self.subject_set == "dev" or self.data_seeds):
            raise ValueError(f"dataset {self.dataset!r} has one set of subjects: subject_set='dev' and "
                             f"data_seeds apply to the synthetic data only")
        if self.feature_norm not in ("pool", "none"):
            raise ValueError(f"feature_norm must be 'pool' or 'none', got {self.feature_norm!r}")
        for m in set(self.models) | set(self.order_models if self.order_study else ()):
            mode = imagination(m, self.clifer)
            if mode is not None:
                check_mode(mode, self.dataset)
        for name, kind in (("gdm", GDMConfig), ("gdm_params", GDMParams), ("mlp", MLPConfig),
                           ("clifer", CLIFERConfig), ("synthetic", SyntheticConfig),
                           ("caae_pool", PoolConfig), ("caae", caae_config.CAAEConfig)):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"{name} must be a {kind.__name__}, got {type(getattr(self, name)).__name__}")
        self.gdm_params.check("gdm_params")

    @classmethod
    def for_dataset(cls, name: str) -> "StudyConfig":
        """The paper's setting for a dataset (synthetic: the embedded default)."""
        if name not in DATASETS:
            raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
        return cls(dataset=name)

    def subject_set_for(self, tool: str) -> str:
        """The evaluation subjects `tool` ("run" or "sweep") uses: `subject_set`, or the
        tool's default (`DEFAULT_SUBJECT_SET`); always "test" on a real dataset."""
        if self.dataset != "synthetic":
            return "test"
        return self.subject_set or DEFAULT_SUBJECT_SET[tool]

    def data_seed_list(self) -> tuple[int, ...]:
        """The synthetic data seeds of a run; the first one's subjects make the headline results."""
        return tuple(self.data_seeds) if self.data_seeds else (self.synthetic.seed,)

    def replace(self, **changes) -> "StudyConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The whole resolved tree (config.json of a run folder)."""
        return config_tree.to_dict(self)

    def set(self, *items: str) -> "StudyConfig":
        """`PATH=VALUE` assignments (`clifer run --set`), applied in order. `caae.name=NAME`
        replaces the whole CAAE subtree with that preset (what `--caae-preset` does)."""
        cfg = self
        for item in items:
            path, text = config_tree.split_assignment(item)
            if path == "caae.name":
                cfg = cfg.with_caae_preset(text.strip())
            else:
                cfg = config_tree.set_path(cfg, path, text)
        return cfg

    def with_caae_preset(self, name: str) -> "StudyConfig":
        """This study with the CAAE preset `name` (`caae.config.PRESETS`) in place of `caae`."""
        return self.replace(caae=caae_config.preset(name))
