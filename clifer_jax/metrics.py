"""Scores of docs/metrics.md: macro-F1, accuracy, mean ± CI over subjects, the
continual-learning matrix and its transfer measures, the order study's tests
(Kruskal-Wallis as the poster used it; Friedman with Kendall's W and a
Holm-corrected Wilcoxon post-hoc for the repeated measures it really is).

NumPy functions validate their inputs and raise ``ValueError`` on bad ones;
the ``*_unchecked`` functions are pure ``jnp`` kernels for use under ``jit``/``vmap``
(over subjects, steps, ...), validate only shapes, and return NaN where the
NumPy function would raise for an undefined score. Definitions and formulas:
``docs/metrics.md``.

Labels are class indices in ``[0, num_classes)``. A ``mask`` marks the valid
entries of padded arrays; masked-out entries may hold anything (-1, garbage)
and are neither validated nor counted.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from clifer_jax.classes import NUM_CLASSES

__all__ = [
    "accuracy",
    "accuracy_unchecked",
    "average_accuracy",
    "backward_transfer",
    "cl_matrix",
    "cl_matrix_unchecked",
    "forward_transfer",
    "friedman_orders",
    "holm",
    "kruskal_orders",
    "macro_f1",
    "macro_f1_unchecked",
    "mean_ci",
    "order_study_stats",
    "order_summary",
    "per_class_accuracy",
    "per_class_accuracy_unchecked",
    "wilcoxon_holm",
]


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


def _finite(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN/inf")
    return a


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
    v = _finite(values, "values")
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
    used = _finite(a[..., t - 1, :t], "R[T-1, :T]")
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
        final = _finite(a[..., t - 1, : t - 1], "R[T-1, :T-1]")
        diag = _finite(np.diagonal(a, axis1=-2, axis2=-1)[..., : t - 1], "diag(R)")
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
        _finite(baseline, "baseline"), (c,))
    if t == 1:
        out = np.full(a.shape[:-2], np.nan)
    else:
        before = _finite(np.diagonal(a, offset=1, axis1=-2, axis2=-1)[..., : t - 1],
                         "R[c-1, c]")
        out = (before - b[1:t]).mean(-1)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- order study


def kruskal_orders(scores_by_order: Mapping[str, Sequence[float]] | Sequence[Sequence[float]]
                   ) -> dict[str, float]:
    """Kruskal-Wallis H-test across class orders (docs/metrics.md, order study).

    Args:
      scores_by_order: per order, the per-subject scores (e.g. F1 at the last
        step): a mapping name -> [n_k] or a sequence of [n_k].
    Returns:
      {"H": statistic, "p": p-value} from ``scipy.stats.kruskal``. When all
      scores are identical the test is undefined and both are NaN.
    Raises:
      ValueError: fewer than 2 groups, an empty group, or a NaN score.
    """
    groups = list(scores_by_order.values() if isinstance(scores_by_order, Mapping)
                  else scores_by_order)
    if len(groups) < 2:
        raise ValueError(f"the Kruskal-Wallis test needs at least 2 orders, got {len(groups)}")
    arrs = []
    for i, g in enumerate(groups):
        a = np.asarray(g, dtype=np.float64)
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"order group {i} must be a non-empty 1-D list of scores, "
                             f"got shape {a.shape}")
        arrs.append(_finite(a, f"order group {i}"))
    if np.ptp(np.concatenate(arrs)) == 0:
        return {"H": float("nan"), "p": float("nan")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.kruskal(*arrs)
    return {"H": float(res.statistic), "p": float(res.pvalue)}


def _paired_orders(scores_by_order: Mapping[str, Sequence[float]], min_orders: int,
                   test: str) -> tuple[list[str], np.ndarray]:
    """Order names and the [n subjects, k orders] matrix of paired scores, checked."""
    if not isinstance(scores_by_order, Mapping):
        raise ValueError(f"{test} needs a mapping order name -> per-subject scores, "
                         f"got {type(scores_by_order).__name__}")
    names = [str(n) for n in scores_by_order]
    if len(names) < min_orders:
        raise ValueError(f"{test} needs at least {min_orders} orders, got {len(names)}")
    cols = []
    for name in names:
        a = np.asarray(scores_by_order[name], dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"order {name!r}: scores must be 1-D (one per subject), got shape {a.shape}")
        cols.append(_finite(a, f"order {name!r}"))
    sizes = {c.size for c in cols}
    if len(sizes) != 1:
        raise ValueError(f"{test} compares the same subjects under every order; got "
                         f"{dict(zip(names, (c.size for c in cols)))} scores per order")
    n = sizes.pop()
    if n < 2:
        raise ValueError(f"{test} needs at least 2 subjects, got {n}")
    return names, np.stack(cols, axis=1)


def friedman_orders(scores_by_order: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Friedman's test across class orders run on the same subjects, with Kendall's W.

    The order study runs every order on the same subjects, so the scores are
    repeated measures (blocks = subjects, treatments = orders), not the
    independent groups Kruskal-Wallis assumes. Within each subject the k
    orders are ranked (ties get mean ranks); χ²_F is
    ``scipy.stats.friedmanchisquare`` (tie-corrected, χ² with k − 1 dof), and
    Kendall's coefficient of concordance is W = χ²_F / (n (k − 1)) in [0, 1]:
    0 when the orders' mean ranks are equal, 1 when every subject ranks the
    orders the same way.

    Args:
      scores_by_order: order name -> [n] per-subject scores, subjects in the
        same order in every list.
    Returns:
      {"statistic": χ²_F, "p_value", "kendall_w"}. When every subject scores
      all orders alike (all ranks tied) the test is undefined: all three NaN.
    Raises:
      ValueError: fewer than 3 orders, fewer than 2 subjects, lists of
        different lengths, or a NaN score.
    """
    _, m = _paired_orders(scores_by_order, 3, "Friedman's test")
    n, k = m.shape
    if np.all(np.ptp(m, axis=1) == 0):
        nan = float("nan")
        return {"statistic": nan, "p_value": nan, "kendall_w": nan}
    res = stats.friedmanchisquare(*m.T)
    chi2 = float(res.statistic)
    return {"statistic": chi2, "p_value": float(res.pvalue), "kendall_w": chi2 / (n * (k - 1))}


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
    p = _finite(p_values, "p_values")
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


def wilcoxon_holm(scores_by_order: Mapping[str, Sequence[float]]) -> list[dict]:
    """Post-hoc: a Wilcoxon signed-rank test for every pair of orders, Holm-corrected.

    For each of the k (k − 1) / 2 pairs (a, b), in the mapping's order, the
    paired per-subject differences a − b are tested with
    ``scipy.stats.wilcoxon`` (two-sided, zero differences dropped, exact
    distribution where scipy uses it); the p-values of all pairs are then
    adjusted together with ``holm``.

    Returns:
      [{"a", "b", "mean_diff" (mean of a − b), "statistic", "p_value",
      "p_holm"}, …]. A pair whose differences are all zero is not
      distinguishable: statistic 0, p_value 1.
    Raises:
      ValueError: fewer than 2 orders or subjects, unequal lengths, NaN.
    """
    names, m = _paired_orders(scores_by_order, 2, "the Wilcoxon post-hoc")
    rows = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            d = m[:, i] - m[:, j]
            if np.all(d == 0):
                stat, p = 0.0, 1.0
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    res = stats.wilcoxon(m[:, i], m[:, j])
                stat, p = float(res.statistic), float(res.pvalue)
            rows.append({"a": names[i], "b": names[j], "mean_diff": float(d.mean()),
                         "statistic": stat, "p_value": p})
    for row, ph in zip(rows, holm([r["p_value"] for r in rows])):
        row["p_holm"] = float(ph)
    return rows


def order_summary(scores_by_order: Mapping[str, Sequence[float]], posthoc: Sequence[Mapping],
                  name: str, alpha: float = 0.05) -> dict:
    """Where one order stands: its mean, rank by mean, and the orders it beats or
    loses to with a Holm-corrected post-hoc p ≤ ``alpha``.

    Returns:
      {"order", "mean", "rank" (1 = highest mean), "is_best" (highest mean, ties
      included), "better_than", "worse_than" (significant pairs, by the sign of
      the mean difference), "not_separated_from" (the rest)}.
    """
    if name not in scores_by_order:
        raise ValueError(f"unknown order {name!r}; expected one of {list(scores_by_order)}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    means = {n: float(np.mean(_finite(v, f"order {n!r}"))) for n, v in scores_by_order.items()}
    better, worse, unseparated = [], [], []
    for row in posthoc:
        if name not in (row["a"], row["b"]):
            continue
        other = row["b"] if row["a"] == name else row["a"]
        diff = row["mean_diff"] if row["a"] == name else -row["mean_diff"]
        if row["p_holm"] <= alpha and diff > 0:
            better.append(other)
        elif row["p_holm"] <= alpha and diff < 0:
            worse.append(other)
        else:
            unseparated.append(other)
    top = max(means.values())
    return {"order": name, "mean": means[name],
            "rank": 1 + sum(v > means[name] for v in means.values()),
            "is_best": means[name] == top, "better_than": better, "worse_than": worse,
            "not_separated_from": unseparated}


def order_study_stats(scores_by_order: Mapping[str, Sequence[float]], focus: str | None = None,
                      alpha: float = 0.05) -> dict:
    """Everything the order study reports for one step: Friedman with Kendall's W,
    the Holm-corrected Wilcoxon post-hoc, the best order by mean and (optionally)
    where the ``focus`` order (e.g. "first-Neutral") stands.

    Returns:
      {"friedman": friedman_orders(...), "posthoc": wilcoxon_holm(...),
      "best_order": order_summary(best) + {"significantly_best": beats every
      other order at ``alpha``}, "focus": order_summary(focus) or absent}.
      The best order is the first with the highest mean.
    """
    friedman = friedman_orders(scores_by_order)
    posthoc = wilcoxon_holm(scores_by_order)
    means = {n: float(np.mean(v)) for n, v in scores_by_order.items()}
    best = max(means, key=means.get)
    best_summary = order_summary(scores_by_order, posthoc, best, alpha)
    best_summary["significantly_best"] = len(best_summary["better_than"]) == len(means) - 1
    out = {"friedman": friedman, "posthoc": posthoc, "best_order": best_summary}
    if focus is not None:
        out["focus"] = order_summary(scores_by_order, posthoc, focus, alpha)
    return out


# --------------------------------------------------------------------------- jnp kernels


def _counts(y_true, y_pred, mask, num_classes: int):
    """Masked one-hot counts: (tp [C], support [C], predicted [C])."""
    if y_true.shape != y_pred.shape or y_true.shape != mask.shape or y_true.ndim != 1:
        raise ValueError(f"y_true, y_pred, mask must be [n] of one shape, got "
                         f"{y_true.shape}, {y_pred.shape}, {mask.shape}")
    w = mask.astype(jnp.float32)[:, None]
    t = jax.nn.one_hot(y_true, num_classes, dtype=jnp.float32) * w
    p = jax.nn.one_hot(y_pred, num_classes, dtype=jnp.float32) * w
    return jnp.sum(t * p, 0), jnp.sum(t, 0), jnp.sum(p, 0)


def macro_f1_unchecked(y_true: jax.Array, y_pred: jax.Array, mask: jax.Array,
                 num_classes: int) -> jax.Array:
    """``macro_f1`` as a jnp kernel: [n], [n], [n] bool -> [] float32.

    ``num_classes`` must be static. Classes averaged: those with valid support.
    NaN when no valid sample. Labels out of range count as no class (no check).
    """
    tp, support, predicted = _counts(y_true, y_pred, mask, num_classes)
    den = support + predicted  # = 2TP + FP + FN
    f1 = jnp.where(den > 0, 2.0 * tp / jnp.maximum(den, 1.0), 0.0)
    present = support > 0
    return jnp.sum(jnp.where(present, f1, 0.0)) / jnp.sum(present)


def accuracy_unchecked(y_true: jax.Array, y_pred: jax.Array, mask: jax.Array) -> jax.Array:
    """``accuracy`` as a jnp kernel: [n], [n], [n] bool -> [] float32 (NaN if no valid sample)."""
    hit = jnp.logical_and(mask, y_true == y_pred)
    return jnp.sum(hit, dtype=jnp.float32) / jnp.sum(mask, dtype=jnp.float32)


def per_class_accuracy_unchecked(y_true: jax.Array, y_pred: jax.Array, mask: jax.Array,
                           num_classes: int) -> jax.Array:
    """Per-class recall indexed by class id: [n], [n], [n] -> [C]; NaN where no support."""
    tp, support, _ = _counts(y_true, y_pred, mask, num_classes)
    return tp / support


def cl_matrix_unchecked(y_true: jax.Array, y_preds: jax.Array, mask: jax.Array,
                  order: jax.Array, num_classes: int) -> jax.Array:
    """``cl_matrix`` as a jnp kernel: [n], [T, n], [n], order [C'] -> R [T, C']."""
    per_step = jax.vmap(per_class_accuracy_unchecked, in_axes=(None, 0, None, None))(
        y_true, y_preds, mask, num_classes)
    return per_step[:, order]
