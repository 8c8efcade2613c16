"""The order study (docs/metrics.md, "Order study"): its orders and its statistics.

The same subjects learn the classes in several orders (repeated measures): Friedman's test
with Kendall's W, pairwise Wilcoxon signed-rank tests with Holm's correction, and the
Kruskal-Wallis H-test beside them, as the poster reported it (it treats the orders as
independent groups).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from clifer_jax.classes import EXPRESSIONS
from clifer_jax.metrics import holm  # its home is metrics; orders.holm stays importable
from clifer_jax.validate import finite_array


def orders(order, seed: int, tails: int = 1) -> dict[str, tuple[int, ...]]:
    """The order study's orders: for each class of `order`, `tails` orders that start with it,
    each followed by a distinct random permutation of the other classes (a generator seeded
    with `seed`); named "first-<Class>" with one tail, "first-<Class>_t<i>" (i = 1..tails)
    with several. `first_class(name)` maps a name back to its first class's group."""
    tails = int(tails)
    if tails < 1:
        raise ValueError(f"tails must be >= 1, got {tails}")
    rng = np.random.default_rng(seed)
    out = {}
    for c in sorted(order):
        rest = [k for k in order if k != c]
        if tails > math.factorial(len(rest)):
            raise ValueError(f"{tails} tails asked for, but only {math.factorial(len(rest))} orders "
                             f"of the other {len(rest)} classes exist")
        drawn: list[tuple[int, ...]] = []
        while len(drawn) < tails:
            tail = tuple(int(k) for k in rng.permutation(rest))
            if tail not in drawn:
                drawn.append(tail)
        for i, tail in enumerate(drawn):
            name = f"first-{EXPRESSIONS[c]}" + (f"_t{i + 1}" if tails > 1 else "")
            out[name] = (c, *tail)
    return out


def first_class(name: str) -> str:
    """The group of an order-study order name: "first-<Class>" (its tail suffix dropped)."""
    return name.split("_t")[0]


def by_first_class(per_order: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    """Per-subject scores of each first class, averaged over its tails: the order study's
    groups, so that "X first" is compared over the rest of the order, not one tail."""
    groups: dict[str, list[np.ndarray]] = {}
    for name, values in per_order.items():
        groups.setdefault(first_class(name), []).append(np.asarray(values, np.float64))
    return {g: np.mean(v, axis=0).tolist() for g, v in groups.items()}


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
        arrs.append(finite_array(a, f"order group {i}"))
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
        cols.append(finite_array(a, f"order {name!r}"))
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
    means = {n: float(np.mean(finite_array(v, f"order {n!r}"))) for n, v in scores_by_order.items()}
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


def order_tests(groups: Mapping[str, Sequence[float]], alpha: float = 0.05) -> dict:
    """What a run reports for one figure of the order study: per order, the per-subject
    values; Kruskal-Wallis; and, with at least 3 orders and 2 subjects, Friedman with
    Kendall's W, the Holm-corrected Wilcoxon pairs, the best order and where the
    Neutral-first order stands (`order_study_stats`)."""
    out = {"per_order": {k: list(v) for k, v in groups.items()}, **kruskal_orders(groups)}
    if len(groups) < 3 or len(next(iter(groups.values()))) < 2:
        return out
    focus = "first-Neutral" if "first-Neutral" in groups else None
    st = order_study_stats(groups, focus=focus, alpha=alpha)
    out.update(friedman=st["friedman"], posthoc=st["posthoc"], best_order=st["best_order"])
    if focus is not None:
        out["neutral_first"] = st["focus"]
    return out
