"""RAVDESS video files: names, archives and folders, decoding and frame sampling (docs/data.md).

RAVDESS (Livingstone & Russo 2018) is free for non-commercial use and must be downloaded
by the user (https://zenodo.org/record/1188976): the ``Video_Speech_Actor_NN.zip``
archives, kept as zips or extracted into ``Actor_NN`` folders, all in one ``manual_dir``.

A file name is seven two-digit fields ``MM-VV-EE-II-SS-RR-AA.mp4``: modality (01
audio-video, 02 video-only, 03 audio-only), vocal channel (01 speech, 02 song), emotion
(01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised),
intensity (01 normal, 02 strong), statement (01, 02), repetition (01, 02), actor (01-24).
Audio-video and video-only files of one take hold the same frames: one is kept.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import re
import zipfile
from typing import Callable, Iterator

import numpy as np

from clifer_jax.classes import class_index
from clifer_jax.data.frames import natural_key, sample_frames
from clifer_jax.data.report import SkipReport

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download the RAVDESS video archives Video_Speech_Actor_01.zip ... Video_Speech_Actor_24.zip
from https://zenodo.org/record/1188976 (free for non-commercial use; accept its licence)
and put them, as zips or extracted into Actor_NN folders, in one folder: the manual_dir."""

EMOTIONS: dict[int, str | None] = {
    1: "Neutral", 2: None, 3: "Happiness", 4: "Sadness", 5: "Anger", 6: "Fear", 7: None,
    8: "Surprise",
}  # None: calm and disgust, not among CLIFER's six classes
VOCAL_CHANNELS: dict[str, int] = {"speech": 1, "song": 2}
FPS = 30
_MAX_FRAMES = 10**6  # longer videos are refused (RAVDESS takes are ~4 s)

_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.mp4$", re.IGNORECASE)
_ARCHIVE = re.compile(r"^Video_(Speech|Song)_Actor_(\d{2})\.zip$")
_FOLDER = re.compile(r"^Actor_(\d{2})$")


@dataclasses.dataclass(frozen=True)
class RavdessName:
    """The seven fields of a RAVDESS file name."""

    modality: int
    channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def expression(self) -> int | None:
        """Canonical class index, or ``None`` for calm and disgust."""
        name = EMOTIONS[self.emotion]
        return None if name is None else class_index(name)

    @property
    def clip(self) -> int:
        """Index of the take among one actor's takes of one emotion (0..15)."""
        return ((self.channel - 1) * 8 + (self.intensity - 1) * 4 + (self.statement - 1) * 2
                + (self.repetition - 1))

    @property
    def split(self) -> int:
        """0 train (repetition 01), 1 test (repetition 02)."""
        return self.repetition - 1

    @property
    def take(self) -> tuple[int, ...]:
        """Identifies the performance, whatever the modality."""
        return (self.channel, self.emotion, self.intensity, self.statement, self.repetition,
                self.actor)


def parse_name(filename: str) -> RavdessName:
    """Parse ``MM-VV-EE-II-SS-RR-AA.mp4``; ``ValueError`` says what is wrong."""
    base = os.path.basename(filename)
    m = _NAME.match(base)
    if not m:
        raise ValueError(f"{base!r} is not a RAVDESS video name MM-VV-EE-II-SS-RR-AA.mp4")
    f = RavdessName(*(int(g) for g in m.groups()))
    ranges = {"modality": (1, 3), "channel": (1, 2), "emotion": (1, 8), "intensity": (1, 2),
              "statement": (1, 2), "repetition": (1, 2), "actor": (1, 24)}
    bad = [k for k, (lo, hi) in ranges.items() if not lo <= getattr(f, k) <= hi]
    if f.emotion == 1 and f.intensity == 2:
        bad.append("intensity (neutral has no strong intensity)")
    if bad:
        raise ValueError(f"{base!r}: field(s) out of range: {', '.join(bad)}")
    return f


@dataclasses.dataclass(frozen=True)
class VideoRef:
    """Where a video lives: a file, or a member of a zip archive."""

    name: RavdessName
    path: str
    member: str | None = None

    def open(self):
        if self.member is None:
            return open(self.path, "rb")
        with zipfile.ZipFile(self.path) as z:
            return io.BytesIO(z.read(self.member))

    def __str__(self) -> str:
        return self.path if self.member is None else f"{self.path}:{self.member}"


def find_videos(manual_dir: str | os.PathLike, report: SkipReport,
                channels: tuple[str, ...] = ("speech",)) -> list[VideoRef]:
    """Every usable video in ``manual_dir`` (zips and ``Actor_NN`` folders, searched
    recursively), one per take, in (actor, emotion, take) order.

    Raises ``FileNotFoundError`` for a missing folder and ``ValueError`` when no RAVDESS
    video is found. Malformed names, audio files, unused channels and duplicate
    modalities are skipped and counted in ``report``.
    """
    root = os.fspath(manual_dir)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"RAVDESS manual_dir {root!r} does not exist.\n"
                                + MANUAL_DOWNLOAD_INSTRUCTIONS)
    wanted = {VOCAL_CHANNELS[c] for c in channels}
    refs: list[VideoRef] = []

    def consider(name: str, ref_fn: Callable[[RavdessName], VideoRef]) -> None:
        if not name.lower().endswith(".mp4"):
            if not name.endswith("/") and not os.path.basename(name).startswith("."):
                report.skip("not an .mp4 video", name)
            return
        try:
            parsed = parse_name(name)
        except ValueError as e:
            report.skip("malformed file name", e)
            return
        if parsed.modality == 3:
            report.skip("audio-only modality", name)
        elif parsed.expression is None:
            report.skip("class not used by CLIFER (calm, disgust)", name)
        elif parsed.channel not in wanted:
            report.skip("vocal channel not selected", name)
        else:
            refs.append(ref_fn(parsed))

    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort(key=natural_key)
        in_actor = _FOLDER.match(os.path.basename(dirpath)) is not None
        for fn in sorted(filenames, key=natural_key):
            path = os.path.join(dirpath, fn)
            if _ARCHIVE.match(fn):
                try:
                    with zipfile.ZipFile(path) as z:
                        members = sorted(z.namelist(), key=natural_key)
                except (zipfile.BadZipFile, OSError) as e:
                    report.skip("unreadable archive", f"{path} ({e})")
                    continue
                for m in members:
                    consider(m, lambda p, m=m, path=path: VideoRef(p, path, m))
            elif in_actor:
                consider(path, lambda p, path=path: VideoRef(p, path))
            elif not fn.startswith("."):
                report.skip("file outside Actor_NN folders and archives", path)

    by_take: dict[tuple, VideoRef] = {}
    for r in refs:  # prefer the video-only file: same frames, no audio stream
        old = by_take.get(r.name.take)
        if old is None or (r.name.modality == 2 and old.name.modality != 2):
            if old is not None:
                report.skip("duplicate take (other modality)", old)
            by_take[r.name.take] = r
        else:
            report.skip("duplicate take (other modality)", r)
    if not by_take:
        raise ValueError(f"no RAVDESS videos found in {root!r} (skipped: "
                         f"{dict(report.counts)}).\n" + MANUAL_DOWNLOAD_INSTRUCTIONS)
    return sorted(by_take.values(), key=lambda r: (r.name.actor, r.name.emotion, r.name.clip))


@functools.lru_cache(maxsize=8)
def _candidates(scheme: str, window: int) -> frozenset:
    return frozenset(sample_frames(_MAX_FRAMES, scheme, window).tolist())


def decode_sampled(ref: VideoRef, transform: Callable[[np.ndarray], np.ndarray],
                   scheme: str = "ravdess", window: int = FPS // 2
                   ) -> list[tuple[int, np.ndarray]]:
    """Decode ``ref`` once, apply ``transform`` (RGB uint8 [H, W, 3] → anything) to the
    sampled frames only (after decoding succeeded), and return
    ``[(frame index, transformed)]`` in time order.

    Raises ``ValueError`` when the video cannot be opened or decoded (truncated, not a
    video); callers count it as a skip.
    """
    import av

    # The frames to keep depend on the frame count, known only at the end: hold the
    # candidates that some longer video would keep (two per window), then filter.
    candidate = _candidates(scheme, window)
    kept: dict[int, np.ndarray] = {}
    n = 0
    try:
        with ref.open() as fh, av.open(fh, mode="r") as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            for frame in container.decode(video=0):
                if n in candidate:
                    kept[n] = frame.to_ndarray(format="rgb24")
                n += 1
    except (av.FFmpegError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"cannot decode {ref}: {e}") from e
    if n == 0:
        raise ValueError(f"cannot decode {ref}: no frames")
    if n > _MAX_FRAMES:
        raise ValueError(f"{ref}: {n} frames, more than the {_MAX_FRAMES} supported")
    return [(int(i), transform(kept[int(i)])) for i in sample_frames(n, scheme, window)]


def iter_examples(refs: list[VideoRef], split: int, transform, report: SkipReport,
                  window: int = FPS // 2) -> Iterator[tuple[str, dict]]:
    """TFDS ``(key, example)`` pairs of one split; unreadable or too short videos are
    skipped and counted. ``transform`` maps an RGB frame to the record's image."""
    for ref in refs:
        if ref.name.split != split:
            continue
        label = ref.name.expression
        try:
            frames = decode_sampled(ref, transform, "ravdess", window)
        except ValueError as e:
            report.skip("unreadable or truncated video", e)
            continue
        if not frames:
            report.skip("video too short for the frame sampling", ref)
            continue
        stem = os.path.splitext(os.path.basename(ref.member or ref.path))[0]
        for i, image in frames:
            yield f"{stem}/{i:05d}", {
                "image": image, "expression": label, "subject": ref.name.actor,
                "clip": ref.name.clip, "frame": i,
            }
