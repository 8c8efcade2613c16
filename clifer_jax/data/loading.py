"""The one loading API: per-subject, per-class padded arrays for the continual-learning loop.

Every experiment reads its data through ``load_subjects``; ``to_subject_arrays`` turns flat
records (one row per image, as ``synthetic.generate`` or a TFDS split produce them) into a
``SubjectArrays`` whose leading axis is the subject, so the per-subject loop can be
``vmap``-ped.
"""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np
from flax import struct

from clifer_jax.classes import EXPRESSIONS, NUM_CLASSES
from clifer_jax.data import synthetic
from clifer_jax.data.report import log

DATASETS: tuple[str, ...] = ("synthetic", "synthetic_dev", "synthetic_train", "ravdess", "mmi",
                             "baum1")
# The synthetic datasets and their pools (synthetic.POOLS): test subjects, development
# subjects (drawn like them, for screening), the CAAE's identities.
SYNTHETIC_POOLS: dict[str, str] = {"synthetic": "eval", "synthetic_dev": "dev",
                                   "synthetic_train": "train"}
SPLITS: tuple[str, ...] = ("train", "test", "all")
_SPLIT_CODE = {"train": 0, "test": 1}


@struct.dataclass
class SubjectArrays:
    """Samples of S subjects × C classes, each padded to the common length L.

    ``x`` [S, C, L, ...]: images (uint8 [H, W, ch]) or features (float); ``y`` int32
    [S, C, L]: canonical label (``clifer_jax.classes``), -1 on padding; ``mask`` bool
    [S, C, L]: valid sample; ``clip``/``frame`` int32 [S, C, L]: where each sample comes
    from (-1 on padding). Within a (subject, class) row, samples are in clip, frame order.
    Static metadata: ``subjects`` (dataset subject ids, length S) and ``classes``
    (canonical class indices along axis 1, length C).
    """

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    clip: np.ndarray
    frame: np.ndarray
    subjects: tuple[int, ...] = struct.field(pytree_node=False, default=())
    classes: tuple[int, ...] = struct.field(pytree_node=False, default=())

    @property
    def num_subjects(self) -> int:
        return len(self.subjects)

    def counts(self) -> np.ndarray:
        """Valid samples per (subject, class): int [S, C]."""
        return np.asarray(self.mask).sum(-1)

    def subject(self, i: int) -> "SubjectArrays":
        """The ``i``-th subject alone (leading axis of size 1 kept)."""
        return self.replace(
            x=self.x[i:i + 1], y=self.y[i:i + 1], mask=self.mask[i:i + 1],
            clip=self.clip[i:i + 1], frame=self.frame[i:i + 1],
            subjects=(self.subjects[i],),
        )


def _require(records: Mapping, keys) -> None:
    missing = [k for k in keys if k not in records]
    if missing:
        raise KeyError(f"records lack {missing}; they have {sorted(records)}")


def to_subject_arrays(records: Mapping[str, np.ndarray], *, split: str | None = None,
                      x_key: str = "image", classes=None,
                      drop_incomplete: bool = False) -> SubjectArrays:
    """Flat records → ``SubjectArrays`` (pure NumPy).

    ``records`` has ``x_key`` [N, ...], ``expression``, ``subject``, ``clip``, ``frame``
    (int [N]) and, when ``split`` ("train"/"test") is given, ``split`` (0/1 [N]) to filter
    on. ``classes`` (canonical indices, default all six in index order) fixes axis 1;
    records of other classes are dropped. Raises ``ValueError`` when there are no records,
    a label is out of range, or a subject lacks one of ``classes`` — a silently empty
    class would corrupt the continual-learning loop — unless ``drop_incomplete``, which
    drops such subjects with a logged warning naming them.
    """
    _require(records, (x_key, "expression", "subject", "clip", "frame"))
    n = len(records["expression"])
    for k in (x_key, "subject", "clip", "frame"):
        if len(records[k]) != n:
            raise ValueError(f"records[{k!r}] has {len(records[k])} rows, expected {n}")
    keep = np.ones(n, bool)
    if split is not None and split != "all":
        if split not in _SPLIT_CODE:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        _require(records, ("split",))
        keep &= np.asarray(records["split"]) == _SPLIT_CODE[split]
    y_all = np.asarray(records["expression"]).astype(np.int64)
    if n and (y_all.min() < 0 or y_all.max() >= NUM_CLASSES):
        raise ValueError(f"expression labels must be in 0..{NUM_CLASSES - 1}, got "
                         f"{y_all.min()}..{y_all.max()}")
    classes = tuple(range(NUM_CLASSES)) if classes is None else tuple(int(c) for c in classes)
    if not classes or len(set(classes)) != len(classes) or not all(
            0 <= c < NUM_CLASSES for c in classes):
        raise ValueError(f"classes must be distinct indices in 0..{NUM_CLASSES - 1}: {classes}")
    keep &= np.isin(y_all, classes)
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise ValueError(f"no records left (split={split!r}, classes={classes}, {n} rows in)")

    subj = np.asarray(records["subject"])[idx].astype(np.int64)
    y = y_all[idx]
    clip = np.asarray(records["clip"])[idx].astype(np.int64)
    frame = np.asarray(records["frame"])[idx].astype(np.int64)
    subjects = np.unique(subj)
    s_pos = np.searchsorted(subjects, subj)
    c_pos = np.argsort(classes)[np.searchsorted(np.sort(classes), y)]

    counts = np.zeros((len(subjects), len(classes)), np.int64)
    np.add.at(counts, (s_pos, c_pos), 1)
    if (counts == 0).any():
        missing = [f"subject {subjects[s]}: {EXPRESSIONS[classes[c]]}"
                   for s, c in zip(*np.nonzero(counts == 0))]
        complete = (counts > 0).all(1)
        if drop_incomplete and complete.any():
            log.warning("dropping %d of %d subjects that lack a class (split=%r): %s",
                        int((~complete).sum()), len(subjects), split, ", ".join(missing))
            keep_rows = np.isin(s_pos, np.flatnonzero(complete))
            sub = {k: np.asarray(records[k])[idx[keep_rows]]
                   for k in (x_key, "expression", "subject", "clip", "frame")}
            return to_subject_arrays(sub, x_key=x_key, classes=classes)
        raise ValueError(f"{len(missing)} (subject, class) pairs have no samples "
                         f"(split={split!r}): {', '.join(missing[:10])}"
                         f"{' ...' if len(missing) > 10 else ''}; pass classes=... or "
                         "drop_incomplete=True to leave them out")

    order = np.lexsort((frame, clip, c_pos, s_pos))
    s_pos, c_pos, y, clip, frame = s_pos[order], c_pos[order], y[order], clip[order], frame[order]
    rows = idx[order]
    group = s_pos * len(classes) + c_pos
    start = np.searchsorted(group, group, side="left")
    slot = np.arange(len(group)) - start
    S, C, L = len(subjects), len(classes), int(counts.max())

    x_in = np.asarray(records[x_key])
    x = np.zeros((S, C, L) + x_in.shape[1:], x_in.dtype)
    x[s_pos, c_pos, slot] = x_in[rows]
    full = lambda fill: np.full((S, C, L), fill, np.int32)  # noqa: E731
    y_out, clip_out, frame_out = full(-1), full(-1), full(-1)
    y_out[s_pos, c_pos, slot] = y
    clip_out[s_pos, c_pos, slot] = clip
    frame_out[s_pos, c_pos, slot] = frame
    mask = np.zeros((S, C, L), bool)
    mask[s_pos, c_pos, slot] = True
    return SubjectArrays(x=x, y=y_out, mask=mask, clip=clip_out, frame=frame_out,
                         subjects=tuple(int(s) for s in subjects), classes=classes)


def _read_source(source) -> dict:
    """All records of a ``tfds.data_source`` split as a dict of stacked arrays."""
    n = len(source)
    if n == 0:
        return {}
    rows = source.__getitems__(range(n)) if hasattr(source, "__getitems__") else [
        source[i] for i in range(n)]
    return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}


def read_records(name: str, split: str, *, data_dir=None, manual_dir=None, config=None,
                 download_and_prepare: bool = True) -> dict:
    """Flat records of a TFDS split (``"all"`` concatenates train and test) with a ``split``
    column; builds the dataset first when it is not prepared yet."""
    from clifer_jax.data import tfds_builders  # TFDS is imported only when needed

    builder = tfds_builders.make_builder(name, data_dir=data_dir, config=config)
    if download_and_prepare:
        builder = tfds_builders.prepare(builder, manual_dir=manual_dir)
    parts = []
    for sp in (("train", "test") if split == "all" else (split,)):
        rec = _read_source(builder.as_data_source(sp))
        if rec:
            rec["split"] = np.full(len(rec["expression"]), _SPLIT_CODE[sp], np.int32)
            parts.append(rec)
    if not parts:
        raise ValueError(f"{name}: split {split!r} is empty in {builder.data_dir}")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def load_subjects(name: str, split: str, *, data_dir: str | os.PathLike | None = None,
                  manual_dir: str | os.PathLike | None = None, config=None,
                  classes=None, drop_incomplete: bool = False) -> SubjectArrays:
    """Per-subject, per-class arrays of a dataset split, ready for the continual loop.

    ``name``: ``"synthetic"`` (the test subjects), ``"synthetic_dev"`` (development
    subjects: drawn like the test subjects from a stream of their own, for screening and
    calibration), ``"synthetic_train"`` (the disjoint CAAE identity pool), ``"ravdess"``,
    ``"mmi"`` or ``"baum1"``. ``split``: ``"train"``, ``"test"`` or ``"all"``. Synthetic
    data without ``data_dir`` is generated in memory from ``config`` (a
    ``SyntheticConfig``; default one) — nothing to prepare. Otherwise the TFDS builder
    under ``data_dir`` is read (and built first if needed; the real datasets need
    ``manual_dir``, see docs/data.md); ``"synthetic_dev"`` is only generated in memory.
    ``config`` for those: a builder config name (``"gray64"``, the default, or
    ``"rgb96"``) or a ``tfds_builders.ImageConfig``.
    ``classes`` and ``drop_incomplete`` as in ``to_subject_arrays``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if name.startswith("synthetic"):
        if config is None:
            config = synthetic.SyntheticConfig()
        if not isinstance(config, synthetic.SyntheticConfig):
            raise TypeError(f"config for {name} must be a SyntheticConfig, got {config!r}")
        if data_dir is None:
            records = synthetic.generate(config, SYNTHETIC_POOLS[name])
            return to_subject_arrays(records, split=split, classes=classes,
                                     drop_incomplete=drop_incomplete)
        if name == "synthetic_dev":
            raise ValueError("synthetic_dev has no TFDS build: it is generated in memory "
                             "(call load_subjects without data_dir)")
    records = read_records(name, split, data_dir=data_dir, manual_dir=manual_dir, config=config)
    return to_subject_arrays(records, split=split, classes=classes,
                             drop_incomplete=drop_incomplete)


def describe(arrays: SubjectArrays) -> str:
    """One line per subject: samples per class (for logs and reports)."""
    counts = arrays.counts()
    head = "subject " + " ".join(f"{EXPRESSIONS[c][:5]:>6}" for c in arrays.classes)
    lines = [head] + [f"{s:>7} " + " ".join(f"{n:>6}" for n in row)
                      for s, row in zip(arrays.subjects, counts)]
    return "\n".join(lines)


__all__ = ["DATASETS", "SPLITS", "SYNTHETIC_POOLS", "SubjectArrays", "describe", "load_subjects",
           "read_records", "to_subject_arrays"]
