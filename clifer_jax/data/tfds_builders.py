"""TFDS builders (array_record, no TensorFlow) for synthetic FER, RAVDESS, MMI and BAUM-1s.

Every record: ``image`` uint8 [H, W, C] (a ``tfds.features.Tensor``: ``Image`` would need
TensorFlow to encode), ``expression`` (canonical class, ``clifer_jax.classes``),
``subject``, ``clip``, ``frame`` (int32); synthetic records also ``aus`` float32 [11].
Splits: ``train`` and ``test`` (synthetic: by clip; RAVDESS: by repetition; MMI/BAUM:
the last video of a (subject, class), see ``frames.split_video_frames``).

What a builder skipped, how many faces it found and how many frames fell back to a centre
crop are written to the dataset's metadata (``builder.info.metadata``) and logged.

    builder = make_builder("ravdess", data_dir="~/tensorflow_datasets")
    prepare(builder, manual_dir="~/Downloads/ravdess")
    source = builder.as_data_source("train")
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds

from clifer_jax.classes import EXPRESSIONS, NUM_CLASSES
from clifer_jax.data import frames as frames_lib
from clifer_jax.data import ravdess as ravdess_lib
from clifer_jax.data import synthetic
from clifer_jax.data.faces import FaceCropper
from clifer_jax.data.report import SkipReport, log

FILE_FORMAT = "array_record"
_SPLITS = {"train": 0, "test": 1}


def _features(size: int, channels: int, with_aus: bool) -> tfds.features.FeaturesDict:
    f = {
        "image": tfds.features.Tensor(shape=(size, size, channels), dtype=np.uint8),
        "expression": tfds.features.ClassLabel(names=list(EXPRESSIONS)),
        "subject": tfds.features.Scalar(dtype=np.int32),
        "clip": tfds.features.Scalar(dtype=np.int32),
        "frame": tfds.features.Scalar(dtype=np.int32),
    }
    if with_aus:
        f["aus"] = tfds.features.Tensor(shape=(synthetic.NUM_AUS,), dtype=np.float32)
    return tfds.features.FeaturesDict(f)


# ----------------------------------------------------------------------------- synthetic


class SyntheticFerConfig(tfds.core.BuilderConfig):
    """A ``SyntheticConfig`` and the identity pool (``"eval"`` or ``"train"``)."""

    def __init__(self, *, pool: str = "eval",
                 synthetic_config: synthetic.SyntheticConfig = synthetic.SyntheticConfig(),
                 name: str | None = None, **kwargs):
        if name is None:
            name = _synthetic_config_name(synthetic_config, pool)
        super().__init__(name=name, **kwargs)
        self.pool = pool
        self.synthetic_config = synthetic_config


def _synthetic_config_name(cfg: synthetic.SyntheticConfig, pool: str) -> str:
    base = "eval" if pool == "eval" else "train_pool"
    if cfg == synthetic.SyntheticConfig():
        return base
    return f"{base}_{hashlib.sha1(repr(cfg).encode()).hexdigest()[:10]}"


class _Builder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of our builders. ``code_path`` is only used to find a checksums file for
    downloads, which these builders never make; TFDS 4.9.10 computes it by importing
    ``importlib_resources``, which recent ``etils`` no longer installs."""

    code_path = None


class SyntheticFer(_Builder, skip_registration=True):
    """Procedural synthetic FER (docs/data.md): evaluation subjects or the CAAE training pool."""

    VERSION = tfds.core.Version("4.0.0")
    RELEASE_NOTES = {"1.0.0": "First release.",
                     "2.0.0": "Default preset 'posed' (clip dynamics, speech, pose, lighting).",
                     "3.0.0": "Posed frames sampled as the reference samples RAVDESS video, held-out "
                              "clips as second takes, a longer neutral lead-in; spontaneous frames by "
                              "the BAUM-1s scheme.",
                     "4.0.0": "A pool holds n_subjects identities, the CAAE's training pool too "
                              "(SyntheticConfig.n_train_identities removed)."}
    BUILDER_CONFIGS = [SyntheticFerConfig(pool="eval"), SyntheticFerConfig(pool="train")]

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config.synthetic_config
        return tfds.core.DatasetInfo(
            builder=self,
            description="Procedural grayscale faces with action-unit expressions (clifer-jax).",
            features=_features(cfg.image_size, 1, with_aus=True),
            metadata=tfds.core.MetadataDict(synthetic_config=repr(cfg),
                                            pool=self.builder_config.pool),
        )

    def _split_generators(self, dl_manager):
        data = synthetic.generate(self.builder_config.synthetic_config,
                                  self.builder_config.pool)
        return {name: self._generate_examples(data, code) for name, code in _SPLITS.items()}

    def _generate_examples(self, data, split):
        keys = ("image", "expression", "subject", "clip", "frame", "aus")
        for i in np.flatnonzero(data["split"] == split):
            ex = {k: data[k][i] for k in keys}
            yield (f"{ex['subject']}_{ex['expression']}_{ex['clip']}_{ex['frame']}", ex)


# ----------------------------------------------------------------------------- real data


class ImageConfig(tfds.core.BuilderConfig):
    """Record image size and channels (1 grayscale, 3 RGB), face cropping, window."""

    def __init__(self, *, image_size: int = 64, channels: int = 1, crop_faces: bool = True,
                 window: int = 15, **kwargs):
        super().__init__(**kwargs)
        if channels not in (1, 3) or image_size < 8 or window < 2:
            raise ValueError(f"bad ImageConfig: size {image_size}, channels {channels}, "
                             f"window {window}")
        self.image_size, self.channels = image_size, channels
        self.crop_faces, self.window = crop_faces, window


_IMAGE_CONFIGS = [
    ImageConfig(name="gray64", description="64×64 grayscale face crops (CPU preset)."),
    ImageConfig(name="rgb96", image_size=96, channels=3,
                description="96×96 RGB face crops (the paper's CAAE input)."),
]


class _RealBuilder(_Builder, skip_registration=True):
    """Shared parts: features, the face cropper, per-split bookkeeping into metadata."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = _IMAGE_CONFIGS

    def _info(self) -> tfds.core.DatasetInfo:
        c = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self, description=self.__doc__,
            features=_features(c.image_size, c.channels, with_aus=False),
            metadata=tfds.core.MetadataDict(),
        )

    def _start(self, manual_dir) -> tuple[SkipReport, FaceCropper]:
        if manual_dir is None or not os.path.isdir(os.fspath(manual_dir)):
            raise FileNotFoundError(f"{self.name}: manual_dir {manual_dir!r} is not a folder.\n"
                                    + self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        c = self.builder_config
        detector = None if c.crop_faces else (lambda gray: [])
        self._report, self._cropper = SkipReport(), FaceCropper(c.image_size, c.channels,
                                                                detector=detector)
        self._seen: dict[str, set] = {}
        return self._report, self._cropper

    def _track(self, split: str, examples):
        """Pass examples through, noting (subject, class) pairs; then update metadata."""
        seen = self._seen.setdefault(split, set())
        for key, ex in examples:
            seen.add((int(ex["subject"]), int(ex["expression"])))
            yield key, ex
        subjects = sorted({s for s, _ in seen})
        missing = [f"subject {s}: {EXPRESSIONS[c]}" for s in subjects for c in range(NUM_CLASSES)
                   if (s, c) not in seen]
        if missing:
            log.warning("%s/%s: %d (subject, class) pairs have no samples: %s", self.name,
                        split, len(missing), ", ".join(missing[:10]))
        stats = self._cropper.stats.as_dict() if self.builder_config.crop_faces else {
            "faces_detected": 0, "centre_crop_fallbacks": 0, "face_detection": "off"}
        self.info.metadata.update(self._report.as_dict())
        self.info.metadata.update(stats)
        self.info.metadata[f"missing_classes_{split}"] = missing
        self.info.metadata[f"subjects_{split}"] = subjects
        self._report.log(f"{self.name}/{split}")


class Ravdess(_RealBuilder):
    """RAVDESS speech videos (24 actors), six classes, face crops; split by repetition."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = ravdess_lib.MANUAL_DOWNLOAD_INSTRUCTIONS

    def _split_generators(self, dl_manager):
        report, cropper = self._start(dl_manager.manual_dir)
        refs = ravdess_lib.find_videos(dl_manager.manual_dir, report)
        return {name: self._generate_examples(refs, code, name) for name, code in _SPLITS.items()}

    def _generate_examples(self, refs, split, split_name):
        examples = ravdess_lib.iter_examples(refs, split, self._cropper, self._report,
                                             self.builder_config.window)
        yield from self._track(split_name, examples)


class _FramesBuilder(_RealBuilder):
    """``<manual_dir>/<subject>/<Class>/<video>/<frames>`` with the reference's sampling."""

    SCHEME = "mmi"
    REQUIRE_ALL_CLASSES = False

    def _split_generators(self, dl_manager):
        self._start(dl_manager.manual_dir)
        videos = frames_lib.scan_frames(dl_manager.manual_dir, self._report,
                                        require_all_classes=self.REQUIRE_ALL_CLASSES)
        names = {v.subject: v.subject_name for v in videos}
        self.info.metadata["subject_names"] = {str(k): n for k, n in sorted(names.items())}
        return {name: self._generate_examples(videos, code, name)
                for name, code in _SPLITS.items()}

    def _generate_examples(self, videos, split, split_name):
        yield from self._track(split_name, self._examples(videos, split))

    def _examples(self, videos, split):
        for v, i, path, sp in frames_lib.split_video_frames(videos, self.SCHEME,
                                                              self.builder_config.window):
            if sp != split:
                continue
            img = frames_lib.read_image(path)
            if img is None:
                self._report.skip("unreadable frame image", path)
                continue
            key = f"{v.subject_name}/{EXPRESSIONS[v.expression]}/{v.name}/{i:05d}"
            yield key, {"image": self._cropper(img), "expression": v.expression,
                        "subject": v.subject, "clip": v.clip, "frame": i}


_FRAMES_INSTRUCTIONS = """\
{name} is licensed: request it from its authors ({where}). Extract frames (any image
format) into <manual_dir>/<subject>/<Class>/<video>/<frames>, class folders named e.g.
Anger/Angry, Sadness/Sad, Happiness/Happy, Surprise, Fear, Neutral (others are skipped)."""


class Mmi(_FramesBuilder):
    """MMI facial expression database from pre-extracted frames; middle ten of each window."""

    SCHEME = "mmi"
    MANUAL_DOWNLOAD_INSTRUCTIONS = _FRAMES_INSTRUCTIONS.format(
        name="MMI", where="https://mmifacedb.eu")


class Baum1(_FramesBuilder):
    """BAUM-1s from pre-extracted frames; last two of each window; subjects with all six
    classes only (others are dropped and counted)."""

    SCHEME = "baum"
    REQUIRE_ALL_CLASSES = True
    MANUAL_DOWNLOAD_INSTRUCTIONS = _FRAMES_INSTRUCTIONS.format(
        name="BAUM-1s", where="https://archive.ics.uci.edu/dataset/473")


# ----------------------------------------------------------------------------- helpers

BUILDERS = {"synthetic": SyntheticFer, "synthetic_train": SyntheticFer, "ravdess": Ravdess,
            "mmi": Mmi, "baum1": Baum1}


def disable_progress_bars() -> None:
    """Silence TFDS's own progress bars (a build's "Generating splits"), for `--no-progress`."""
    tfds.disable_progress_bar()


def make_builder(name: str, *, data_dir=None, config=None) -> tfds.core.DatasetBuilder:
    """The builder of a dataset ``name`` (see ``BUILDERS``) in ``data_dir``.

    ``config``: for synthetic data a ``SyntheticConfig`` (default: the default one); for
    the real datasets a builder config name (``"gray64"`` default, ``"rgb96"``) or an
    ``ImageConfig``.
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {tuple(BUILDERS)}")
    data_dir = None if data_dir is None else os.path.expanduser(os.fspath(data_dir))
    if name.startswith("synthetic"):
        cfg = synthetic.SyntheticConfig() if config is None else config
        if not isinstance(cfg, synthetic.SyntheticConfig):
            raise TypeError(f"config for {name} must be a SyntheticConfig, got {cfg!r}")
        pool = "train" if name == "synthetic_train" else "eval"
        bc = SyntheticFerConfig(pool=pool, synthetic_config=cfg)
        if bc.name in {c.name for c in SyntheticFer.BUILDER_CONFIGS}:
            bc = bc.name  # TFDS refuses a custom config that shares a registered name
    else:
        bc = "gray64" if config is None else config
        if not isinstance(bc, (str, ImageConfig)):
            raise TypeError(f"config for {name} must be a config name or an ImageConfig, "
                            f"got {bc!r}")
    return BUILDERS[name](data_dir=data_dir, config=bc, file_format=FILE_FORMAT)


def source_fingerprint(builder: tfds.core.DatasetBuilder, manual_dir) -> str:
    """SHA-256 of what a real dataset's build depends on: every file under ``manual_dir``
    (relative path, size, modification time) and the builder's name, version and image
    options. A build whose fingerprint differs was made from another source."""
    root = os.path.expanduser(os.fspath(manual_dir))
    h = hashlib.sha256()
    c = builder.builder_config
    h.update(repr((builder.name, str(builder.version), c.name, c.image_size, c.channels,
                   c.crop_faces, c.window)).encode())
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            st = os.stat(os.path.join(dirpath, f))
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _is_empty(folder: str) -> bool:
    return not any(not n.startswith(".") for n in os.listdir(folder))


def prepare(builder: tfds.core.DatasetBuilder, manual_dir=None) -> tfds.core.DatasetBuilder:
    """Build the dataset unless it is already there; real datasets need ``manual_dir``.
    Returns the builder to read from (a new one after a rebuild).

    A real dataset's build records ``source_fingerprint`` (of ``manual_dir`` and the image
    options) in its metadata; given a ``manual_dir`` whose fingerprint differs (other
    files, files added or changed), the old build is deleted and rebuilt. Without
    ``manual_dir`` an existing build is used as it is. An empty folder, or one where every
    video or frame was skipped, raises ``ValueError`` naming the skips.
    """
    real = isinstance(builder, _RealBuilder)
    if real and manual_dir is not None:
        manual_dir = os.path.expanduser(os.fspath(manual_dir))
    if builder.is_prepared():
        if not real or manual_dir is None or not os.path.isdir(manual_dir):
            return builder
        have = builder.info.metadata.get("source_fingerprint")
        want = source_fingerprint(builder, manual_dir)
        if have == want:
            return builder
        log.warning("%s: the build in %s was made from %s (%s); rebuilding from %s", builder.name,
                    builder.data_dir, builder.info.metadata.get("source_dir", "an unrecorded source"),
                    "other files" if have else "no fingerprint", manual_dir)
        import shutil

        shutil.rmtree(builder.data_dir)
        builder = type(builder)(data_dir=builder._data_dir_root, config=builder.builder_config,
                                file_format=FILE_FORMAT)
    if real:
        if manual_dir is None or not os.path.isdir(manual_dir):
            raise FileNotFoundError(
                f"{builder.name} is not prepared in {builder.data_dir} and manual_dir "
                f"{manual_dir!r} is not a folder.\n{builder.MANUAL_DOWNLOAD_INSTRUCTIONS}")
        if _is_empty(manual_dir):
            raise ValueError(f"{builder.name}: manual_dir {manual_dir!r} is empty; put the "
                             f"downloaded files there.\n{builder.MANUAL_DOWNLOAD_INSTRUCTIONS}")
        builder.info.metadata["source_fingerprint"] = source_fingerprint(builder, manual_dir)
        builder.info.metadata["source_dir"] = manual_dir
    dl = tfds.download.DownloadConfig(manual_dir=manual_dir)
    try:
        builder.download_and_prepare(download_config=dl, file_format=FILE_FORMAT)
    except AssertionError as e:
        if "No examples were yielded" not in str(e) or not real:
            raise
        skipped = getattr(builder, "_report", None)
        counts = skipped.as_dict().get("skipped", {}) if skipped is not None else {}
        why = ", ".join(f"{n} {k}" for k, n in counts.items()) or "nothing usable found"
        raise ValueError(f"{builder.name}: no usable example in {manual_dir!r} (skipped: {why}); "
                         f"every video or frame was corrupt, empty, too short or unnamed; "
                         f"see docs/troubleshooting.md") from None
    return builder
