"""What a real dataset's build says about its faces, checked before a run uses it.

The builders count, per build, the sampled frames where a face was detected and those
that fell back to a centre crop (docs/data.md). A run reports the counts (console,
results.json, report.md); a build with no detected face at all is refused unless the
user opts into centre crops; one where most frames are centre crops is warned about.
"""

from __future__ import annotations

import warnings

# Image options of the real datasets' builds for each CAAE preset (docs/data.md).
PRESET_IMAGE_CONFIG = {"paper": "rgb96", "cpu": "gray64", "tiny": "gray64"}


def image_config(preset: str) -> str:
    """The build (builder config) whose images the preset's CAAE takes."""
    return PRESET_IMAGE_CONFIG.get(preset, "gray64")


def build_report(name: str, data_dir, config: str) -> dict:
    """Face detection and skip counts of a prepared build (empty for synthetic data)."""
    if name.startswith("synthetic"):
        return {}
    from clifer_jax.data import tfds_builders

    meta = tfds_builders.make_builder(name, data_dir=data_dir, config=config).info.metadata
    out = {"image_config": config}
    for k in ("faces_detected", "centre_crop_fallbacks", "face_detection", "skipped", "source_dir"):
        if k in meta:
            out[k] = meta[k]
    return out


class NoFacesError(ValueError):
    """A build where no frame had a detected face."""


def check_faces(report: dict, allow_centre_crops: bool, log=print) -> None:
    """Refuse a build without any detected face (unless allowed); warn when most frames
    fell back to centre crops. The console line is always printed."""
    if "faces_detected" not in report:
        return
    faces, fallbacks = int(report["faces_detected"]), int(report.get("centre_crop_fallbacks", 0))
    total = faces + fallbacks
    log(f"faces: detected in {faces} of {total} sampled frames, {fallbacks} centre crops")
    if report.get("face_detection") == "off" or total == 0:
        return
    if faces == 0 and not allow_centre_crops:
        raise NoFacesError(f"no face was detected in any of the {total} sampled frames of "
                           f"{report.get('source_dir', 'the dataset')}: the videos may not show "
                           f"faces; check them, or pass --allow-centre-crops to use centre crops")
    if fallbacks > faces:
        msg = (f"most sampled frames ({fallbacks} of {total}) fell back to centre crops: "
               f"faces were not found; the features may not show faces")
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        log(f"WARNING: {msg}")


def cli_message(error: Exception) -> str:
    """A loading error reworded for command-line users: the library's keyword arguments
    (`classes=…`, `drop_incomplete=True`) are not CLI options."""
    text = str(error)
    lib = "; pass classes=... or drop_incomplete=True to leave them out"
    if lib in text:
        text = text.replace(lib, "; add the missing videos, or leave the incomplete subjects' files "
                                 "out of --manual-dir (docs/troubleshooting.md)")
    return text


def arrays_sha256(*arrays) -> str:
    """SHA-256 of the images, labels and masks of SubjectArrays (what the features encode)."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        for k in ("x", "y", "mask"):
            v = np.ascontiguousarray(np.asarray(getattr(a, k)))
            h.update(repr((k, v.shape, str(v.dtype))).encode())
            h.update(v.tobytes())
    return h.hexdigest()


def record_data(root, sha: str) -> None:
    from pathlib import Path

    (Path(root) / "data.sha256").write_text(sha + "\n")


def check_same_data(root, sha: str) -> None:
    """A run folder's features were encoded from this data (else ExperimentError)."""
    from pathlib import Path

    from experiments.runner import ExperimentError

    path = Path(root) / "data.sha256"
    if path.exists() and path.read_text().strip() != sha:
        raise ExperimentError(f"{root} holds features of other data (the dataset changed since "
                              f"they were encoded); use a new --out folder")
