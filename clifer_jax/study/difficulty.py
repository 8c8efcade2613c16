"""How hard a study's data is (docs/data.md, "Difficulty"), so that results can be read
against it.

    measure(cfg, data, train, test)               # a run's results.json["difficulty"]
    feature_1nn(caae_params, pool_images, cfg)    # the same 1-NN for a CAAE, no models run
                                                  # (development subjects unless pool="eval")
"""

from __future__ import annotations

import dataclasses

import numpy as np

from clifer_jax import features
from clifer_jax.caae.api import CAAEParams
from clifer_jax.caae.pool import generate_train_pool
from clifer_jax.data import difficulty, loading, synthetic
from clifer_jax.study.config import StudyConfig
from clifer_jax.study.data import first_subjects
from clifer_jax.study.models import SubjectData


def _pixels(a) -> np.ndarray:
    return np.asarray(a.x, np.float32) / 255.0


def _pool(cfg: StudyConfig) -> str:
    """The synthetic pool of the run's evaluation subjects: "dev" for the development
    subjects (`subject_set="dev"`), else "eval" (the test subjects)."""
    return "dev" if getattr(cfg, "subject_set", None) == "dev" else "eval"


def repetition(plan: dict, records: dict) -> dict | None:
    """How close each held-out clip is to the training clip it repeats (its twin) against
    the class's other training clips (`difficulty.repetition_distance`), on the action
    units each face shows (both sides) and on pixels; None without repetitions. `plan`:
    `synthetic.plan(...)`, `records`: `synthetic.generate(...)` of the same subjects."""
    twin = np.asarray(plan["twin"])
    S, C, K, F = plan["intensity"].shape
    if not (twin >= 0).any() or K - twin.shape[-1] < 2:
        return None
    left, right = synthetic.effective_aus(plan["identity"], plan["aus"])
    pixels = np.asarray(records["image"], np.float32).reshape(S, C, K, F, -1) / 255.0
    return {"aus": difficulty.repetition_distance(np.concatenate([left, right], -1), twin),
            "pixels": difficulty.repetition_distance(pixels, twin)}


def measure(cfg: StudyConfig, data: SubjectData, train, test) -> dict:
    """Within-subject 1-NN from training to held-out samples on the memories' features and
    on pixels, the between/within-class distance ratio of both, and for synthetic data the
    share of expressive frames below 30% intensity, the CAAE pool's domain gap and, when
    held-out clips are second takes, how close they are to the clips they repeat
    (`repetition`). Synthetic figures are of the subjects the run used (`_pool`)."""
    out = {
        "feature_1nn": difficulty.within_subject_1nn(data.x, data.y, data.mask, data.x_test,
                                                     data.y_test, data.mask_test),
        "pixel_1nn": difficulty.within_subject_1nn(_pixels(train), train.y, train.mask, _pixels(test),
                                                   test.y, test.mask),
        "feature_distance_ratio": difficulty.distance_ratio(data.x, data.y, data.mask),
        "pixel_distance_ratio": difficulty.distance_ratio(_pixels(train), train.y, train.mask),
    }
    if cfg.dataset == "synthetic":
        sc, pool_name = cfg.synthetic, _pool(cfg)
        if cfg.subjects is not None:   # the first cfg.subjects: the same faces, fewer drawn
            sc = dataclasses.replace(sc, n_subjects=min(cfg.subjects, sc.n_subjects))
        plan = synthetic.plan(sc, pool_name)
        expression = np.broadcast_to(np.arange(plan["intensity"].shape[1])[None, :, None, None],
                                     plan["intensity"].shape)
        out["preset"] = sc.dynamics.name
        out["low_intensity_share"] = difficulty.low_intensity_share(plan["intensity"], expression)
        pool_args = (sc.image_size, cfg.seed, cfg.caae_pool.identities, cfg.caae_pool.frames)
        pool = generate_train_pool(*pool_args, sc.preset, cfg.caae_pool.sampling)
        reference = generate_train_pool(*pool_args, synthetic.preset(sc.dynamics.name, gap=0.0),
                                        cfg.caae_pool.sampling)
        evaluation = synthetic.generate(sc, pool_name)
        out["domain_gap"] = difficulty.domain_gap(pool, reference, evaluation)
        rep = repetition(plan, evaluation)
        if rep is not None:
            out["repetition"] = rep
    return out


def feature_1nn(params: CAAEParams, pool_images, config: synthetic.SyntheticConfig | None = None,
                subjects: int | None = None, *, pool: str = "dev") -> dict:
    """What the memories' features hold, for a CAAE without running the models: within-
    subject 1-NN from each synthetic subject's training clips to its held-out clips on E's
    latents standardised by the CAAE's pool `pool_images` (the features of a study), and
    the between/within-class distance ratio. The same figures as
    `measure(...)["feature_1nn"]` of a study with this CAAE. `pool`: the subjects scored,
    "dev" (development subjects, the default: a screening tool) or "eval" (the test
    subjects)."""
    if pool not in ("dev", "eval"):
        raise ValueError(f"pool must be 'dev' or 'eval', got {pool!r}")
    config = config or synthetic.SyntheticConfig()
    name = "synthetic_dev" if pool == "dev" else "synthetic"
    tr = loading.load_subjects(name, "train", config=config)
    te = loading.load_subjects(name, "test", config=config)
    if subjects is not None:
        tr, te = first_subjects(tr, subjects), first_subjects(te, subjects)
    f = features.encode_subjects(params, pool_images, tr.x, tr.mask, te.x, te.mask, norm="pool")
    nn = difficulty.within_subject_1nn(f["train"], tr.y, tr.mask, f["test"], te.y, te.mask)
    return {**nn, "distance_ratio": difficulty.distance_ratio(f["train"], tr.y, tr.mask),
            "preset": config.dynamics.name, "pool": pool}
