"""Configurations of the paper's experiments (SPEC §3-§5): one per dataset.

`get_config(name)` returns a frozen `ExperimentConfig`; command-line flags of
`clifer run` override its fields.
"""

from __future__ import annotations

import dataclasses

from clifer_jax.classes import DEFAULT_ORDER
from clifer_jax.experiment import MODELS

DATASETS = ("synthetic", "ravdess", "mmi", "baum1")
PROTOCOLS = ("heldout", "reference")
CAAE_PRESETS = ("cpu", "paper", "tiny")


def caae_preset(name: str, epochs: int | None = None):
    """The CAAE configuration of a preset; "tiny" is a few-second model for tests."""
    from clifer_jax.caae import config as caae_config

    if name == "tiny":
        c = caae_config.cpu().replace(name="tiny", enc_features=(4, 8, 8, 8), enc_dense=32,
                                      gen_features=(8, 8, 8, 4), gen_dense_features=8,
                                      dz_features=(8, 8, 8), dimg_features=(4, 8, 8, 8),
                                      dimg_dense=16, batch_size=16, epochs=1)
    else:
        c = caae_config.preset(name)
    return c.replace(epochs=epochs) if epochs is not None else c


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
    the preset's epochs. The CAAE trains on the synthetic identity pool, which is
    disjoint from every evaluation subject (SPEC §4).
    feature_norm: "pool" standardises every latent dimension with the mean and
    std of the CAAE's own training pool (no evaluation subject is used), "none"
    feeds the raw latents (docs/differences.md says why "pool" is the default).
    synthetic_*: size of the synthetic data: the evaluation pool's subjects, clips
    per class and frames per clip; the CAAE pool's identities and frames per clip
    (one clip per class; `experiments.train_caae.train_pool_config`).
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
    synthetic_train_identities: int = 768
    synthetic_train_frames: int = 2
    synthetic_clips: int = 4
    synthetic_frames: int = 8
    synthetic_preset: str = "posed"
    subjects: int | None = None
    seed: int = 0
    caae_seeds: tuple[int, ...] | None = None
    imagination_order: str = "reference"
    imagination: str = "caae"
    allow_centre_crops: bool = False

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
        from clifer_jax.data.synthetic import PRESETS

        if self.synthetic_preset not in PRESETS:
            raise ValueError(f"synthetic_preset: unknown synthetic preset {self.synthetic_preset!r}; "
                             f"expected one of {tuple(PRESETS)}")

    def replace(self, **changes) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def get_config(name: str = "synthetic") -> ExperimentConfig:
    """The paper's setting for a dataset (synthetic: the embedded default)."""
    if name == "synthetic":
        return ExperimentConfig()
    if name in ("ravdess", "mmi", "baum1"):
        return ExperimentConfig(dataset=name)
    raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
