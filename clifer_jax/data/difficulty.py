"""How hard a dataset is, measured, not assumed (docs/data.md, "Difficulty").

Inputs use the layout of ``SubjectArrays``: features ``x`` [S, C, L, ...] (images are
flattened), labels ``y`` [S, C, L] and ``mask`` [S, C, L]; everything is vectorised NumPy
over subjects and samples.

* ``within_subject_1nn``: each subject's held-out samples labelled by their nearest
  neighbour among that subject's own training samples (what an episodic memory that
  stores everything would score);
* ``distance_ratio``: mean distance between samples of different classes over mean
  distance between samples of the same class, within a subject (1: classes overlap);
* ``low_intensity_share``: share of expressive (non-Neutral) frames below a fraction of
  their class's full intensity (synthetic data records it);
* ``repetition_distance``: how close a held-out clip is to the training clip it repeats
  (its twin, a second take) against the class's other training clips, frame by frame;
* ``domain_gap``: an expression classifier (nearest class mean on each face's change from
  its own Neutral) fitted on the CAAE's pool and on a gap-free pool of the same size, both
  scored on the evaluation subjects.
"""

from __future__ import annotations

import numpy as np

from clifer_jax.classes import EXPRESSIONS


def _flat(x, y, mask, name: str):
    x = np.asarray(x)
    y, mask = np.asarray(y), np.asarray(mask, bool)
    if y.ndim != 3 or mask.shape != y.shape:
        raise ValueError(f"{name}: y and mask must both be [S, C, L], got {y.shape} and {mask.shape}")
    if x.shape[:3] != y.shape:
        raise ValueError(f"{name}: x must be [S, C, L, ...] like y {y.shape}, got {x.shape}")
    S = x.shape[0]
    x = x.reshape(S, y.shape[1] * y.shape[2], int(np.prod(x.shape[3:], dtype=np.int64)))
    x = x.astype(np.float32)
    if not np.isfinite(x[mask.reshape(S, -1)]).all():
        raise ValueError(f"{name}: x contains NaN or inf")
    return x, y.reshape(S, -1), mask.reshape(S, -1)


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[S, N, D], [S, M, D] -> squared Euclidean distances [S, N, M] (float64 sums)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    d = ((a64**2).sum(-1)[:, :, None] + (b64**2).sum(-1)[:, None, :]
         - 2.0 * np.einsum("snd,smd->snm", a64, b64))
    return np.maximum(d, 0.0)


def within_subject_1nn(x_train, y_train, mask_train, x_test, y_test, mask_test) -> dict:
    """1-NN accuracy from each subject's training samples to its held-out samples.

    Returns ``{"mean", "min", "per_subject"}`` (accuracy over each subject's valid test
    samples; subjects without test or training samples are left out).
    """
    xa, ya, ma = _flat(x_train, y_train, mask_train, "train")
    xb, yb, mb = _flat(x_test, y_test, mask_test, "test")
    if xa.shape[0] != xb.shape[0] or xa.shape[-1] != xb.shape[-1]:
        raise ValueError(f"train and test must have the same subjects and feature size, got "
                         f"{xa.shape} and {xb.shape}")
    d = _sq_dists(xb, xa)
    d = np.where(ma[:, None, :], d, np.inf)
    nn = d.argmin(-1)  # [S, M]
    pred = np.take_along_axis(ya, nn, axis=1)
    ok = (pred == yb) & mb
    valid = mb.sum(1) > 0
    valid &= ma.sum(1) > 0
    if not valid.any():
        raise ValueError("no subject has both training and test samples")
    acc = ok.sum(1)[valid] / mb.sum(1)[valid]
    return {"mean": float(acc.mean()), "min": float(acc.min()), "per_subject": acc.tolist()}


def distance_ratio(x, y, mask) -> float:
    """Mean between-class over mean within-class Euclidean distance, pairs within each
    subject (self pairs excluded), averaged over subjects."""
    xa, ya, ma = _flat(x, y, mask, "x")
    d = np.sqrt(_sq_dists(xa, xa))
    pair = ma[:, :, None] & ma[:, None, :]
    same = ya[:, :, None] == ya[:, None, :]
    eye = np.eye(xa.shape[1], dtype=bool)[None]
    within, between = pair & same & ~eye, pair & ~same
    ok = (within.sum((1, 2)) > 0) & (between.sum((1, 2)) > 0)
    if not ok.any():
        raise ValueError("distance_ratio needs a subject with two classes and a repeated class")
    w = (d * within).sum((1, 2))[ok] / within.sum((1, 2))[ok]
    b = (d * between).sum((1, 2))[ok] / between.sum((1, 2))[ok]
    return float(np.mean(b / np.maximum(w, 1e-12)))


def low_intensity_share(intensity, expression, threshold: float = 0.3) -> float:
    """Share of expressive (non-Neutral) frames whose intensity is below ``threshold``
    of their class's full prototype."""
    intensity, expression = np.asarray(intensity, np.float64), np.asarray(expression)
    if intensity.shape != expression.shape:
        raise ValueError(f"intensity {intensity.shape} and expression {expression.shape} differ")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    expressive = expression != EXPRESSIONS.index("Neutral")
    if not expressive.any():
        raise ValueError("no expressive (non-Neutral) frames")
    return float(np.mean(intensity[expressive] < threshold))


def expression_displacements(images, labels, subjects) -> np.ndarray:
    """Images [N, ...] -> rows [N, D]: each image minus its subject's mean Neutral image
    (identity and the session's viewing conditions cancel), scaled to unit norm."""
    x = np.asarray(images, np.float32).reshape(len(images), -1) / 255.0
    labels, subjects = np.asarray(labels), np.asarray(subjects)
    if not len(x) == len(labels) == len(subjects):
        raise ValueError(f"images, labels and subjects differ in length: "
                         f"{len(x)}, {len(labels)}, {len(subjects)}")
    neutral = labels == EXPRESSIONS.index("Neutral")
    ids, pos = np.unique(subjects, return_inverse=True)
    counts = np.bincount(pos[neutral], minlength=len(ids))
    if (counts == 0).any():
        raise ValueError(f"subjects {ids[counts == 0].tolist()[:5]} have no Neutral frame")
    sums = np.zeros((len(ids), x.shape[1]), np.float64)
    np.add.at(sums, pos[neutral], x[neutral])
    d = x - (sums / counts[:, None]).astype(np.float32)[pos]
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)


def nearest_class_mean(train_x, train_y, test_x, test_y) -> float:
    """Accuracy of a nearest-class-mean classifier on feature rows [N, D]."""
    a, b = np.asarray(train_x, np.float32), np.asarray(test_x, np.float32)
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    if len(a) != len(train_y) or len(b) != len(test_y):
        raise ValueError("features and labels differ in length")
    classes = np.unique(train_y)
    means = np.stack([a[train_y == c].mean(0) for c in classes])
    pred = classes[(b @ means.T - 0.5 * (means**2).sum(1)[None]).argmax(1)]
    return float(np.mean(pred == test_y))


def domain_gap(pool: dict, reference: dict, evaluation: dict) -> dict:
    """The size of a training pool's domain gap, as an expression classifier sees it.

    Each argument is records with ``image``, ``expression`` and ``subject``: ``pool`` the
    CAAE's training pool, ``reference`` a pool of the same size drawn like the evaluation
    subjects (no gap), ``evaluation`` the evaluation subjects' frames. A nearest-class-mean
    classifier on expression displacements (``expression_displacements``) is fitted on
    each pool and scored on the evaluation frames: ``gap`` = ``reference_to_eval`` −
    ``pool_to_eval``, the accuracy the domain change costs.
    """
    feats = {k: (expression_displacements(r["image"], r["expression"], r["subject"]),
                 np.asarray(r["expression"]))
             for k, r in (("pool", pool), ("reference", reference), ("eval", evaluation))}
    ex, ey = feats["eval"]
    out = {f"{k}_to_eval": nearest_class_mean(*feats[k], ex, ey) for k in ("pool", "reference")}
    out["gap"] = out["reference_to_eval"] - out["pool_to_eval"]
    return out


def repetition_distance(x, twin) -> dict:
    """How much a held-out clip resembles the training clip it repeats (its twin).

    ``x`` [S, C, K, F, ...]: a per-frame feature (action units, pixels, ...) of every clip,
    the last T clips of each (subject, class) held out; ``twin`` int [S, C, T]: the
    training clip (0..K-T-1) that held-out clip K-T+j repeats, -1 where it repeats none
    (those are left out). For every frame of a held-out clip with a twin: the Euclidean
    distance to the same frame of its twin, and the mean distance to the same frame of the
    class's other training clips. Returns ``{"twin", "other", "ratio"}``: the two
    distances averaged over those frames and ``twin / other`` (1: a held-out clip is no
    closer to its twin than to any other take of its class).
    """
    x = np.asarray(x)
    twin = np.asarray(twin)
    if x.ndim < 4 or twin.ndim != 3 or twin.shape[:2] != x.shape[:2]:
        raise ValueError(f"repetition_distance: x must be [S, C, K, F, ...] and twin [S, C, T] "
                         f"with the same S, C; got {x.shape} and {twin.shape}")
    S, C, K, F = x.shape[:4]
    T = twin.shape[2]
    n_train = K - T
    if not 0 < T < K:
        raise ValueError(f"repetition_distance: {T} held-out clips of {K}: need 0 < T < K")
    if n_train < 2:
        raise ValueError(f"repetition_distance needs two training clips per class to compare "
                         f"a twin with another clip, got {n_train}")
    if not np.issubdtype(twin.dtype, np.integer) or twin.min() < -1 or twin.max() >= n_train:
        raise ValueError(f"twin must hold training clip indices in 0..{n_train - 1} or -1")
    valid = twin >= 0
    if not valid.any():
        raise ValueError("repetition_distance: no held-out clip has a twin (repetition off?)")
    x = x.reshape(S, C, K, F, -1).astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError("repetition_distance: x contains NaN or inf")
    held, train = x[:, :, n_train:], x[:, :, :n_train]          # [S, C, T, F, D], [S, C, N, F, D]
    d = np.stack([np.sqrt(((held - train[:, :, n, None]) ** 2).sum(-1))   # [S, C, T, N, F]
                  for n in range(n_train)], axis=3)
    is_twin = np.arange(n_train)[None, None, None, :] == twin[..., None]    # [S, C, T, N]
    d_twin = (d * is_twin[..., None]).sum(3)                                 # [S, C, T, F]
    d_other = (d * ~is_twin[..., None]).sum(3) / (n_train - 1)
    t, o = float(d_twin[valid].mean()), float(d_other[valid].mean())
    return {"twin": t, "other": o, "ratio": t / o if o > 0 else float("nan")}
