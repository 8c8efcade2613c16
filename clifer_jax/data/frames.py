"""Frame sampling of the reference code and pre-extracted frame folders (MMI, BAUM-1s).

Layout of a frames dataset (docs/data.md): ``<root>/<subject>/<Class>/<video>/<frames>``, frames
being image files whose names sort in time order (natural sort: ``f2`` before ``f10``).

Sampling (docs/data.md, the reference's loader): windows of ``window`` frames (half the frame
rate, 15); the partial last window is dropped.

* ``"ravdess"``: the last two frames of every window except the first and the last;
* ``"baum"``: the last two frames of every window (a video shorter than a window is one
  window);
* ``"mmi"``: the middle ten frames of every window (a video shorter than a window keeps
  all its frames).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Iterator

import numpy as np

from clifer_jax.classes import EXPRESSIONS, NUM_CLASSES, class_index
from clifer_jax.data.report import SkipReport

SCHEMES: tuple[str, ...] = ("ravdess", "baum", "mmi")
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# Folder names used by MMI, BAUM-1s and the reference code → canonical names.
CLASS_ALIASES: dict[str, str] = {
    "anger": "Anger", "angry": "Anger",
    "sad": "Sadness", "sadness": "Sadness",
    "happy": "Happiness", "happiness": "Happiness", "joy": "Happiness",
    "surprise": "Surprise", "surprised": "Surprise",
    "fear": "Fear", "fearful": "Fear", "afraid": "Fear",
    "neutral": "Neutral",
}
# Known classes that CLIFER does not use: dropped and counted, not an error.
DROPPED_CLASSES: frozenset[str] = frozenset({"contempt", "disgust", "disgusted", "calm",
                                             "boredom", "bored", "interest", "unsure"})


def natural_key(name: str):
    """Sort key that orders embedded numbers numerically (``f2`` < ``f10``)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def sample_frames(n: int, scheme: str, window: int = 15) -> np.ndarray:
    """Indices (ascending, int64) of the frames that ``scheme`` keeps from ``n`` frames."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if window < 2:
        raise ValueError(f"window must be >= 2, got {window}")
    n = int(n)
    if n <= 0:
        return np.zeros(0, np.int64)
    full = n // window
    if scheme == "ravdess":
        starts = np.arange(1, full - 1) * window
        return (starts[:, None] + np.array([window - 2, window - 1])).reshape(-1)
    if scheme == "baum":
        if full == 0:  # one short window: its last two frames
            return np.arange(max(n - 2, 0), n)
        starts = np.arange(full) * window
        return (starts[:, None] + np.array([window - 2, window - 1])).reshape(-1)
    if full == 0:  # mmi, short video: all frames
        return np.arange(n)
    mid = window // 2
    offsets = np.arange(max(mid - 5, 0), min(mid + 5, window))
    return (np.arange(full)[:, None] * window + offsets).reshape(-1)


def class_from_name(name: str) -> int | None:
    """Canonical index of a class folder name; ``None`` for a known class CLIFER drops.
    Raises ``ValueError`` for a name it does not know."""
    key = name.strip().lower()
    if key in DROPPED_CLASSES:
        return None
    if key in CLASS_ALIASES:
        return class_index(CLASS_ALIASES[key])
    raise ValueError(f"unknown class folder {name!r}; known: {sorted(CLASS_ALIASES)} "
                     f"(dropped: {sorted(DROPPED_CLASSES)})")


@dataclasses.dataclass(frozen=True)
class Video:
    """One video of a frames dataset: its frame files in time order."""

    subject: int  # index of the subject folder in natural order
    subject_name: str
    expression: int
    clip: int  # index of the video within (subject, class), natural order
    name: str
    frames: tuple[str, ...]


def _subdirs(path: str, report: SkipReport, what: str) -> list[str]:
    names = sorted(os.listdir(path), key=natural_key)
    dirs = []
    for n in names:
        if n.startswith("."):
            continue
        if os.path.isdir(os.path.join(path, n)):
            dirs.append(n)
        else:
            report.skip(f"file where a {what} folder was expected", os.path.join(path, n))
    return dirs


def scan_frames(root: str | os.PathLike, report: SkipReport,
                require_all_classes: bool = False) -> list[Video]:
    """All usable videos under ``root``; skips are counted in ``report``.

    Raises ``FileNotFoundError`` for a missing root and ``ValueError`` when nothing usable
    is found (an empty or foreign folder). With ``require_all_classes`` subjects lacking
    any of the six classes are dropped (counted).
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"frames root {root!r} does not exist or is not a folder")
    videos: list[Video] = []
    for s_idx, subject in enumerate(_subdirs(root, report, "subject")):
        s_path = os.path.join(root, subject)
        found: list[Video] = []
        for cname in _subdirs(s_path, report, "class"):
            try:
                label = class_from_name(cname)
            except ValueError:
                report.skip("unknown class folder", os.path.join(subject, cname))
                continue
            if label is None:
                report.skip("class not used by CLIFER", os.path.join(subject, cname))
                continue
            c_path = os.path.join(s_path, cname)
            clip = 0
            for vname in _subdirs(c_path, report, "video"):
                v_path = os.path.join(c_path, vname)
                files = sorted(os.listdir(v_path), key=natural_key)
                frames = tuple(os.path.join(v_path, f) for f in files
                               if f.lower().endswith(IMAGE_EXTENSIONS))
                if len(frames) < len([f for f in files if not f.startswith(".")]):
                    report.skip("non-image file in a video folder", v_path)
                if not frames:
                    report.skip("video folder without frames", v_path)
                    continue
                found.append(Video(s_idx, subject, label, clip, vname, frames))
                clip += 1
        classes = {v.expression for v in found}
        if not found:
            report.skip("subject without usable videos", subject)
            continue
        if require_all_classes and len(classes) < NUM_CLASSES:
            missing = [EXPRESSIONS[c] for c in range(NUM_CLASSES) if c not in classes]
            report.skip("subject lacks a class", f"{subject} (no {', '.join(missing)})")
            continue
        videos.extend(found)
    if not videos:
        raise ValueError(
            f"no usable videos under {root!r}: expected <root>/<subject>/<Class>/<video>/"
            f"<frames> with class folders among {sorted(set(CLASS_ALIASES.values()))}; "
            f"skipped: {dict(report.counts)}")
    return videos


def split_video_frames(videos: list[Video], scheme: str, window: int = 15
                       ) -> Iterator[tuple[Video, int, str, int]]:
    """(video, frame index, frame path, split) for every sampled frame.

    Split, per (subject, class): the last video is the test split when there are two or
    more; a lone video gives the later half of its sampled frames to the test split.
    """
    by_key: dict[tuple[int, int], list[Video]] = {}
    for v in videos:
        by_key.setdefault((v.subject, v.expression), []).append(v)
    for group in by_key.values():
        for v in group:
            idx = sample_frames(len(v.frames), scheme, window)
            if len(group) > 1:
                split = np.full(len(idx), int(v.clip == group[-1].clip))
            else:
                split = (np.arange(len(idx)) >= (len(idx) + 1) // 2).astype(int)
            for i, sp in zip(idx, split):
                yield v, int(i), v.frames[i], int(sp)


def read_image(path: str) -> np.ndarray | None:
    """uint8 RGB [H, W, 3] (grayscale files are expanded), or ``None`` if unreadable."""
    import cv2

    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        return None
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
