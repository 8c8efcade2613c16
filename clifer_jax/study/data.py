"""A study's data: the evaluation subjects, the CAAE's training pool, and what a real
dataset's build says about its faces (docs/data.md).

    train, test = load_data(cfg)          # SubjectArrays, checked against the order
    pool = pool_images(cfg)                # the CAAE's training images

The builders of the real datasets count, per build, the sampled frames where a face was
detected and those that fell back to a centre crop. A run reports the counts; a build
with no detected face at all is refused unless the user opts into centre crops; one where
most frames are centre crops is warned about.
"""

from __future__ import annotations

import warnings

import numpy as np

from clifer_jax.caae.config import CAAEConfig
from clifer_jax.caae.pool import generate_train_pool
from clifer_jax.classes import EXPRESSIONS
from clifer_jax.data import loading
from clifer_jax.study.config import StudyConfig
from clifer_jax.study.store import StudyError


def image_config(caae: CAAEConfig) -> str:
    """The real datasets' build (builder config) whose images the CAAE takes."""
    return f"{'rgb' if caae.channels == 3 else 'gray'}{caae.image_size}"


def load_data(cfg: StudyConfig, progress: bool = True) -> tuple[loading.SubjectArrays, loading.SubjectArrays]:
    """Train and test SubjectArrays of the configured dataset and protocol (the first
    `cfg.subjects` subjects). Raises StudyError when the data cannot serve the study.
    progress: False silences a real dataset's build bars too."""
    if not progress and cfg.dataset != "synthetic":
        from clifer_jax.data import tfds_builders   # TFDS: loaded only for real datasets

        tfds_builders.disable_progress_bars()
    kwargs = {}
    name = cfg.dataset
    if cfg.dataset == "synthetic":
        kwargs["config"] = cfg.synthetic
        name = "synthetic_dev" if synthetic_pool_name(cfg) == "dev" else "synthetic"
    else:
        if cfg.data_dir is None and cfg.manual_dir is None:
            raise StudyError(
                f"dataset {cfg.dataset!r} is not prepared: download it yourself (licence), then run "
                f"with --manual-dir <folder with the files> --data-dir <where to build it>; "
                f"see docs/data.md")
        kwargs.update(data_dir=cfg.data_dir, manual_dir=cfg.manual_dir, config=image_config(cfg.caae))
    try:
        train = loading.load_subjects(name, "train", **kwargs)
        test = train if cfg.protocol == "reference" else loading.load_subjects(name, "test", **kwargs)
    except (FileNotFoundError, ValueError) as e:
        raise StudyError(f"cannot load dataset {cfg.dataset!r}: {_reworded(e)}") from e
    missing = sorted(set(cfg.order) - set(train.classes))
    if missing:
        raise StudyError(f"the order asks for classes {[EXPRESSIONS[c] for c in missing]} "
                         f"that dataset {cfg.dataset!r} does not have (it has "
                         f"{[EXPRESSIONS[c] for c in train.classes]})")
    if cfg.subjects is not None:
        if cfg.subjects > train.num_subjects:
            raise StudyError(f"asked for {cfg.subjects} subjects; {cfg.dataset} has {train.num_subjects}")
        train, test = first_subjects(train, cfg.subjects), first_subjects(test, cfg.subjects)
    if tuple(train.x.shape[-3:]) != cfg.caae.image_shape:
        raise StudyError(f"images are {tuple(train.x.shape[-3:])} but the CAAE ({cfg.caae.name!r} "
                         f"preset) takes {cfg.caae.image_shape}; choose --caae-preset accordingly")
    return train, test


def synthetic_pool_name(cfg: StudyConfig) -> str:
    """The synthetic pool of the study's evaluation subjects: "dev" for the development
    subjects, "eval" for the test subjects (`StudyConfig.subject_set`; unresolved: "test")."""
    return "dev" if cfg.subject_set == "dev" else "eval"


def first_subjects(a: loading.SubjectArrays, n: int) -> loading.SubjectArrays:
    """The first n subjects of SubjectArrays."""
    return a.replace(**{k: getattr(a, k)[:n] for k in ("x", "y", "mask", "clip", "frame")},
                     subjects=a.subjects[:n])


def pool_images(cfg: StudyConfig) -> dict:
    """The CAAE's training images: the synthetic identity pool (`cfg.caae_pool`, the run's
    seed, the synthetic preset), disjoint from every evaluation subject, rendered at the
    CAAE's size (gray repeated to RGB if needed): {image, expression, subject}."""
    pool = generate_train_pool(cfg.caae.image_size, cfg.seed, cfg.caae_pool.identities,
                               cfg.caae_pool.frames, cfg.synthetic.preset, cfg.caae_pool.sampling)
    img = pool["image"]
    if cfg.caae.channels == 3 and img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return {"image": img, "expression": pool["expression"], "subject": pool["subject"]}


def build_report(cfg: StudyConfig) -> dict:
    """Face detection and skip counts of a real dataset's build (empty for synthetic data)."""
    if cfg.dataset == "synthetic":
        return {}
    from clifer_jax.data import tfds_builders   # TFDS: loaded only for real datasets

    config = image_config(cfg.caae)
    meta = tfds_builders.make_builder(cfg.dataset, data_dir=cfg.data_dir, config=config).info.metadata
    out = {"image_config": config}
    for k in ("faces_detected", "centre_crop_fallbacks", "face_detection", "skipped", "source_dir"):
        if k in meta:
            out[k] = meta[k]
    return out


def check_faces(report: dict, allow_centre_crops: bool, log=print) -> None:
    """Refuse a build without any detected face (unless allowed; StudyError); warn when
    most frames fell back to centre crops. The console line is always printed."""
    if "faces_detected" not in report:
        return
    faces, fallbacks = int(report["faces_detected"]), int(report.get("centre_crop_fallbacks", 0))
    total = faces + fallbacks
    log(f"faces: detected in {faces} of {total} sampled frames, {fallbacks} centre crops")
    if report.get("face_detection") == "off" or total == 0:
        return
    if faces == 0 and not allow_centre_crops:
        raise StudyError(f"no face was detected in any of the {total} sampled frames of "
                         f"{report.get('source_dir', 'the dataset')}: the videos may not show "
                         f"faces; check them, or pass --allow-centre-crops to use centre crops")
    if fallbacks > faces:
        msg = (f"most sampled frames ({fallbacks} of {total}) fell back to centre crops: "
               f"faces were not found; the features may not show faces")
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        log(f"WARNING: {msg}")


def _reworded(error: Exception) -> str:
    """A loading error with the library's keyword advice (`classes=…`, `drop_incomplete=True`)
    replaced by what a study can do."""
    text = str(error)
    lib = "; pass classes=... or drop_incomplete=True to leave them out"
    if lib in text:
        text = text.replace(lib, "; add the missing videos, or leave the incomplete subjects' files "
                                 "out of --manual-dir (docs/troubleshooting.md)")
    return text
