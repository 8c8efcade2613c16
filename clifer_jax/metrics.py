"""Scores of docs/metrics.md: macro-F1, accuracy, mean ± CI over subjects, the
continual-learning matrix and its transfer measures, paired comparisons of two models on
the same subjects with Holm's correction, and the CI of a mean over a grid of data seeds ×
CAAE seeds. The order study's tests are in ``clifer_jax.study.orders``.

The functions validate their inputs and raise ``ValueError`` on bad ones. Definitions
and formulas: ``docs/metrics.md``.

Labels are class indices in ``[0, num_classes)``. A ``mask`` marks the valid
entries of padded arrays; masked-out entries may hold anything (-1, garbage)
and are neither validated nor counted.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

from clifer_jax.classes import NUM_CLASSES
from clifer_jax.validate import finite_array

__all__ = ["accuracy", "average_accuracy", "backward_transfer", "cl_matrix", "crossed_mean_ci",
           "forward_transfer", "holm", "macro_f1", "mean_ci", "paired_difference", "per_class_accuracy"]


# --------------------------------------------------------------------------- validation


def _labels_and_mask(y_true, y_pred, mask, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Valid entries of y_true [n] and y_pred [n] (after mask [n]), checked."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.ndim != 1 or yt.shape != yp.shape:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got shapes "
                         f"{yt.shape} and {yp.shape}")
    if mask is None:
        m = np.ones(yt.shape, bool)
    else:
        m = np.asarray(mask)
        if m.shape != yt.shape:
            raise ValueError(f"mask must have the labels' shape {yt.shape}, got {m.shape}")
        if m.dtype != bool:
            if not np.all((m == 0) | (m == 1)):
                raise ValueError("mask must be boolean (or 0/1)")
            m = m.astype(bool)
    yt, yp = yt[m], yp[m]
    for name, y in (("y_true", yt), ("y_pred", yp)):
        if y.size and not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.isfinite(y)):
                raise ValueError(f"{name} contains NaN/inf")
            if not np.all(y == np.round(y)):
                raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}); found values in "
                             f"[{y.min()}, {y.max()}] (pass num_classes= for other label sets)")
    return yt.astype(np.int64), yp.astype(np.int64)


def _class_list(classes, num_classes: int) -> np.ndarray:
    c = np.asarray(classes)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"classes must be a non-empty 1-D sequence, got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.integer) or c.min() < 0 or c.max() >= num_classes:
        raise ValueError(f"classes must be integers in [0, {num_classes}), got {c.tolist()}")
    if len(np.unique(c)) != c.size:
        raise ValueError(f"classes must not repeat, got {c.tolist()}")
    return c.astype(np.int64)


# --------------------------------------------------------------------------- NumPy scores


def _f1_per_class(yt: np.ndarray, yp: np.ndarray, classes: np.ndarray) -> np.ndarray:
    tp = np.array([np.sum((yt == c) & (yp == c)) for c in classes], np.float64)
    fp = np.array([np.sum((yt != c) & (yp == c)) for c in classes], np.float64)
    fn = np.array([np.sum((yt == c) & (yp != c)) for c in classes], np.float64)
    den = 2 * tp + fp + fn
    # sklearn's zero_division=0: a class with no support and no prediction scores 0.
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)


def macro_f1(y_true, y_pred, classes=None, mask=None, *, num_classes: int = NUM_CLASSES) -> float:
    """Macro-averaged F1 over the classes present in the (valid) test labels.

    F1_c = 2·TP_c / (2·TP_c + FP_c + FN_c); the mean runs over ``classes``
    (default: the distinct values of ``y_true[mask]``), so a present class
    never predicted scores 0 and a predicted-only class is not averaged (its
    false positives still lower the F1 of the true classes). Equal to
    ``sklearn.metrics.f1_score(y_true, y_pred, labels=classes, average="macro")``.

    Args:
      y_true, y_pred: [n] int class indices in [0, num_classes).
      classes: optional [k] classes to average over (an absent class then counts 0).
      mask: optional [n] bool, valid entries.
      num_classes: C, for validating the labels.
    Returns:
      float in [0, 1].
    Raises:
      ValueError: on bad shapes or labels, or when no valid sample remains.
    """
    yt, yp = _labels_and_mask(y_true, y_pred, mask, num_classes)
    if yt.size == 0:
        raise ValueError("macro_f1 of an empty test set is undefined (no valid samples)")
    cls = np.unique(yt) if classes is None else _class_list(classes, num_classes)
    return float(np.mean(_f1_per_class(yt, yp, cls)))


def accuracy(y_true, y_pred, mask=None, *, num_classes: int = NUM_CLASSES) -> float:
    """Fraction of valid samples predicted right. y_true, y_pred, mask: [n]."""
    yt, yp = _labels_and_mask(y_true, y_pred, mask, num_classes)
    if yt.size == 0:
        raise ValueError("accuracy of an empty test set is undefined (no valid samples)")
    return float(np.mean(yt == yp))


def per_class_accuracy(y_true, y_pred, classes, mask=None, *,
                       num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Recall of each class: R_c = #{y = c, ŷ = c} / #{y = c}.

    Args:
      y_true, y_pred: [n] int; mask: optional [n] bool.
      classes: [k] the classes to score, in the order wanted (e.g. learning order).
    Returns:
      [k] float64; NaN for a class without valid test samples.
    """
    yt, yp = _labels_and_mask(y_true, y_pred, mask, num_classes)
    cls = _class_list(classes, num_classes)
    out = np.full(cls.shape, np.nan)
    for i, c in enumerate(cls):
        sel = yt == c
        if sel.any():
            out[i] = np.mean(yp[sel] == c)
    return out


def mean_ci(values, confidence: float = 0.95, axis: int = 0):
    """Mean and half-width of the Student-t confidence interval (docs/metrics.md).

    half = t_{(1+confidence)/2, n−1} · s / √n, s the sample standard deviation
    (ddof = 1); the interval is mean ± half, equal to
    ``scipy.stats.t.interval(confidence, n − 1, mean, s / √n)``. With n = 1 the
    half-width is NaN (no spread can be estimated); with s = 0 it is 0.

    Args:
      values: [..., n, ...] finite scores, n along ``axis`` (e.g. subjects).
      confidence: in (0, 1).
      axis: the axis to reduce.
    Returns:
      (mean, half_width): floats for 1-D input, else arrays without ``axis``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    v = finite_array(values, "values")
    if v.ndim == 0:
        raise ValueError("values must have at least one axis")
    n = v.shape[axis]
    if n == 0:
        raise ValueError("mean_ci of no values is undefined")
    mean = np.mean(v, axis=axis)
    if n == 1:
        half = np.full_like(mean, np.nan)
    else:
        sem = np.std(v, axis=axis, ddof=1) / np.sqrt(n)
        half = stats.t.ppf(0.5 + confidence / 2.0, n - 1) * sem
    if v.ndim == 1:
        return float(mean), float(half)
    return mean, half


# --------------------------------------------------------------------------- continual-learning matrix


def cl_matrix(y_true, y_preds, order, mask=None, *, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """R[t, i]: accuracy on class ``order[i]`` after learning step t.

    Built on one fixed test set holding every class (Experiment 2's), so that
    entries of classes not learned yet exist (they feed forward transfer).

    Args:
      y_true: [n] test labels; mask: optional [n] bool.
      y_preds: [T, n] predictions after each of the T steps.
      order: [C'] learning order of the classes (T ≤ C').
    Returns:
      R [T, C'] float64, columns in learning order; NaN columns for classes
      without test samples.
    """
    p = np.asarray(y_preds)
    if p.ndim != 2:
        raise ValueError(f"y_preds must be [T, n] (one row per step), got shape {p.shape}")
    order = _class_list(order, num_classes)
    if p.shape[0] > order.size:
        raise ValueError(f"{p.shape[0]} steps but only {order.size} classes in the order")
    return np.stack([per_class_accuracy(y_true, row, order, mask, num_classes=num_classes)
                     for row in p])


def _check_r(r, name: str = "R") -> np.ndarray:
    a = np.asarray(r, dtype=np.float64)
    if a.ndim < 2 or a.shape[-2] < 1:
        raise ValueError(f"{name} must be [..., T, C] with T >= 1, got shape {a.shape}")
    if a.shape[-2] > a.shape[-1]:
        raise ValueError(f"{name} has T={a.shape[-2]} steps but only C={a.shape[-1]} classes")
    return a


def average_accuracy(r) -> np.ndarray | float:
    """ACC = (1/T) Σ_{c<T} R[T−1, c]: final score averaged over the T learned classes.

    R: [..., T, C] (leading axes, e.g. subjects, are kept). Raises on NaN among
    the entries used.
    """
    a = _check_r(r)
    t = a.shape[-2]
    used = finite_array(a[..., t - 1, :t], "R[T-1, :T]")
    out = used.mean(-1)
    return float(out) if out.ndim == 0 else out


def backward_transfer(r) -> np.ndarray | float:
    """BWT = (1/(T−1)) Σ_{c<T−1} (R[T−1, c] − R[c, c]) (Lopez-Paz & Ranzato 2017).

    Negative: forgetting. R: [..., T, C]; T = 1 gives NaN (nothing to forget).
    """
    a = _check_r(r)
    t = a.shape[-2]
    if t == 1:
        out = np.full(a.shape[:-2], np.nan)
    else:
        final = finite_array(a[..., t - 1, : t - 1], "R[T-1, :T-1]")
        diag = finite_array(np.diagonal(a, axis1=-2, axis2=-1)[..., : t - 1], "diag(R)")
        out = (final - diag).mean(-1)
    return float(out) if out.ndim == 0 else out


def forward_transfer(r, baseline=None) -> np.ndarray | float:
    """FWT = (1/(T−1)) Σ_{c=1}^{T−1} (R[c−1, c] − b_c) (Lopez-Paz & Ranzato 2017).

    The score on class c just *before* it is learned, against a baseline b_c.
    Default b_c = 1/C (C = R.shape[-1]): a uniform-chance classifier, standing in
    for the paper's "randomly initialised model". R: [..., T, C]; baseline:
    scalar or [C] (learning order); T = 1 gives NaN.
    """
    a = _check_r(r)
    t, c = a.shape[-2:]
    b = np.full(c, 1.0 / c) if baseline is None else np.broadcast_to(
        finite_array(baseline, "baseline"), (c,))
    if t == 1:
        out = np.full(a.shape[:-2], np.nan)
    else:
        before = finite_array(np.diagonal(a, offset=1, axis1=-2, axis2=-1)[..., : t - 1],
                         "R[c-1, c]")
        out = (before - b[1:t]).mean(-1)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- paired comparisons


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of m p-values (family-wise error control).

    Sorted ascending, p_(1) ≤ … ≤ p_(m), the adjusted values are
    p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j)) — monotone in the sorted
    order and capped at 1 — returned in the input's order. Reject H_i at level
    α exactly when p̃_i ≤ α.

    Args:
      p_values: [m] in [0, 1].
    Returns:
      [m] float64 adjusted p-values.
    """
    p = finite_array(p_values, "p_values")
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p_values must lie in [0, 1], got {p.tolist()}")
    m = p.size
    idx = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[idx])
    out = np.empty(m)
    out[idx] = np.maximum.accumulate(stepped)
    return out


def paired_difference(a, b, confidence: float = 0.95) -> dict:
    """Two models compared on the same subjects: the mean of the per-subject differences
    a − b, its t-interval and a two-sided Wilcoxon signed-rank test (docs/metrics.md,
    "Paired comparisons").

    Args:
      a, b: [S] finite per-subject values of the same figure, subjects in the same order.
      confidence: of the interval, in (0, 1).
    Returns:
      {"mean": mean(a − b), "ci95": half-width of the t-interval of that mean
      (``mean_ci`` of the differences: NaN for S = 1, 0 when every difference is equal),
      "p": two-sided p of ``scipy.stats.wilcoxon`` on the differences (zero differences
      dropped; 1.0 when every difference is zero), "n": S}.
    Raises:
      ValueError: a or b not 1-D, of different lengths, empty, or holding NaN/inf.
    """
    x, y = finite_array(a, "a"), finite_array(b, "b")
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be 1-D per-subject values of equal length, got shapes "
                         f"{x.shape} and {y.shape}")
    if x.size == 0:
        raise ValueError("a paired comparison of no subjects is undefined")
    d = x - y
    mean, half = mean_ci(d, confidence)
    if np.all(d == 0):
        p = 1.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (RuntimeWarning, UserWarning))
            p = float(stats.wilcoxon(d).pvalue)
    return {"mean": mean, "ci95": half, "p": p, "n": int(d.size)}


# --------------------------------------------------------------------------- seeds: a crossed grid


def crossed_mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of a grid of values [a, b] (e.g. a data seeds × b CAAE seeds, one figure per
    cell) with a confidence interval that covers the variation of both factors.

    Model: two-way crossed random effects without replication,
    y_ij = μ + A_i + B_j + E_ij. With the ANOVA mean squares MS_A (a − 1 dof),
    MS_B (b − 1) and MS_E ((a − 1)(b − 1)),
    Var(ȳ) = σ²_A/a + σ²_B/b + σ²_E/(ab) is estimated by (MS_A + MS_B − MS_E)/(ab),
    with Satterthwaite's degrees of freedom. Conservative rule for a negative estimate:
    each variance component is truncated at zero (σ̂²_A = max(0, (MS_A − MS_E)/b), the
    same for B, σ̂²_E = MS_E), i.e. a mean square below MS_E is replaced by MS_E; the
    estimate is then never below the untruncated one nor below MS_E/(ab), and the
    Satterthwaite dof are those of the mean squares that remain (MS_B alone when
    MS_A ≤ MS_E: b − 1; MS_E alone when both are: (a − 1)(b − 1)).

    With a == 1 or b == 1 this is exactly ``mean_ci`` over the other factor (t-interval,
    n − 1 dof); with a == b == 1 the half-width is NaN and dof 0. All values equal: half 0.

    Args:
      values: [a, b] finite values.
      confidence: in (0, 1).
    Returns:
      (mean, half_width, dof) as floats.
    Raises:
      ValueError: values not 2-D, empty, or holding NaN/inf.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    v = finite_array(values, "values")
    if v.ndim != 2 or v.size == 0:
        raise ValueError(f"values must be a non-empty [a, b] grid, got shape {v.shape}")
    a, b = v.shape
    if a == 1 or b == 1:
        mean, half = mean_ci(v.ravel(), confidence)
        return mean, half, float(v.size - 1)
    grand = v.mean()
    if np.ptp(v) == 0:                    # every value equal (rounding would leave MS ~1e-32)
        return float(grand), 0.0, float((a - 1) * (b - 1))
    rows, cols = v.mean(axis=1), v.mean(axis=0)
    df_a, df_b, df_e = a - 1, b - 1, (a - 1) * (b - 1)
    ms_a = b * np.sum((rows - grand) ** 2) / df_a
    ms_b = a * np.sum((cols - grand) ** 2) / df_b
    ms_e = np.sum((v - rows[:, None] - cols[None, :] + grand) ** 2) / df_e
    # coefficients of the (truncated) combination c_A·MS_A + c_B·MS_B + c_E·MS_E
    c_a = 1.0 if ms_a > ms_e else 0.0
    c_b = 1.0 if ms_b > ms_e else 0.0
    c_e = 1.0 - c_a - c_b
    comb = c_a * ms_a + c_b * ms_b + c_e * ms_e
    denom = (c_a * ms_a) ** 2 / df_a + (c_b * ms_b) ** 2 / df_b + (c_e * ms_e) ** 2 / df_e
    if comb <= 0 or denom <= 0:           # not reached: comb >= MS_E, > 0 unless all equal
        return float(grand), 0.0, float(df_e)
    dof = comb ** 2 / denom
    half = stats.t.ppf(0.5 + confidence / 2.0, dof) * np.sqrt(comb / (a * b))
    return float(grand), float(half), float(dof)
