"""Metrics of SPEC §4 and the order-study statistics (`clifer_jax.study.orders`) against
straightforward references, hand cases and scipy."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from clifer_jax import metrics
from clifer_jax.study import orders

PAD = 32  # longest generated label sequence


# ---------------------------------------------------------------- independent references


def ref_macro_f1(y_true, y_pred, classes=None):
    """Textbook macro-F1 by precision and recall, in plain Python."""
    y_true, y_pred = list(y_true), list(y_pred)
    if classes is None:
        classes = sorted(set(y_true))
    f1s = []
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(y_true, y_pred))
        n_pred = sum(p == c for p in y_pred)
        n_true = sum(t == c for t in y_true)
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_true if n_true else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(f1s) / len(f1s)


def ref_bwt(r):
    t = r.shape[0]
    return sum(r[t - 1, i] - r[i, i] for i in range(t - 1)) / (t - 1)


def ref_fwt(r, b):
    t = r.shape[0]
    return sum(r[i - 1, i] - b[i] for i in range(1, t)) / (t - 1)


labelled = st.integers(1, PAD).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 5), min_size=n, max_size=n),
    st.lists(st.integers(0, 5), min_size=n, max_size=n)))


# ---------------------------------------------------------------- F1 and accuracy


def test_macro_f1_hand_case():
    y_true = [0, 0, 1, 1]
    y_pred = [0, 1, 1, 2]
    # class 0: TP 1, FP 0, FN 1 -> 2/3; class 1: TP 1, FP 1, FN 1 -> 1/2;
    # class 2 is only predicted: not averaged
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx((2 / 3 + 1 / 2) / 2)
    # present but never predicted scores 0
    assert metrics.macro_f1([0, 1], [0, 0]) == pytest.approx((2 / 3 + 0) / 2)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(0.5)


def test_macro_f1_mask_and_explicit_classes():
    y_true = np.array([0, 1, 2, 3, 3])
    y_pred = np.array([0, 1, 1, 3, -7])
    mask = np.array([1, 1, 0, 1, 0], bool)  # masked entries are not even validated
    assert metrics.macro_f1(y_true, y_pred, mask=mask) == 1.0
    assert metrics.accuracy(y_true, y_pred, mask=mask) == 1.0
    # an explicitly requested class without support counts 0 (sklearn's labels=)
    assert metrics.macro_f1(y_true, y_pred, classes=[0, 1, 3, 5], mask=mask) == pytest.approx(0.75)


@settings(max_examples=60, deadline=None)
@given(labelled)
def test_macro_f1_matches_reference(pair):
    yt, yp = pair
    f1 = metrics.macro_f1(yt, yp)
    assert f1 == pytest.approx(ref_macro_f1(yt, yp), abs=1e-12)
    assert 0.0 <= f1 <= 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=PAD), st.permutations(range(6)))
def test_f1_perfect_and_permutation_invariant(yt, perm):
    assert metrics.macro_f1(yt, yt) == 1.0
    rng = np.random.default_rng(len(yt))
    yp = rng.integers(0, 6, len(yt))
    rename = np.asarray(perm)
    assert metrics.macro_f1(rename[yt], rename[yp]) == pytest.approx(metrics.macro_f1(yt, yp))


def test_per_class_accuracy_and_cl_matrix():
    y = np.array([0, 0, 1, 1, 2, 2])
    preds = np.array([[0, 0, 0, 0, 0, 0],     # after step 0 (learned class 0)
                      [0, 1, 1, 1, 1, 1]])    # after step 1 (learned class 2)
    order = [0, 2, 1]
    np.testing.assert_allclose(metrics.per_class_accuracy(y, preds[1], [0, 1, 2, 3]),
                               [0.5, 1.0, 0.0, np.nan])
    r = metrics.cl_matrix(y, preds, order)
    np.testing.assert_allclose(r, [[1.0, 0.0, 0.0], [0.5, 0.0, 1.0]])


# ---------------------------------------------------------------- CI


@pytest.mark.parametrize("n", [2, 3, 24])
@pytest.mark.parametrize("conf", [0.9, 0.95])
def test_mean_ci_matches_scipy(n, conf):
    v = np.random.default_rng(n).normal(0.7, 0.1, n)
    mean, half = metrics.mean_ci(v, conf)
    lo, hi = stats.t.interval(conf, n - 1, loc=v.mean(), scale=stats.sem(v))
    assert mean == pytest.approx(v.mean())
    assert mean - half == pytest.approx(lo) and mean + half == pytest.approx(hi)


def test_mean_ci_edge_cases_and_axis():
    m, h = metrics.mean_ci([0.4])
    assert m == 0.4 and math.isnan(h)
    assert metrics.mean_ci([0.5, 0.5, 0.5]) == (0.5, 0.0)
    v = np.random.default_rng(1).random((5, 3))
    means, halves = metrics.mean_ci(v, axis=0)
    for j in range(3):
        assert (means[j], halves[j]) == pytest.approx(metrics.mean_ci(v[:, j]))
    for bad in ([], [0.1, np.nan]):
        with pytest.raises(ValueError):
            metrics.mean_ci(bad)
    with pytest.raises(ValueError, match="confidence"):
        metrics.mean_ci([0.1, 0.2], confidence=95)


# ---------------------------------------------------------------- transfer


def test_transfer_hand_made_matrix():
    r = np.array([[0.9, 0.1, 0.2],
                  [0.5, 0.8, 0.3],
                  [0.4, 0.6, 0.7]])
    assert metrics.average_accuracy(r) == pytest.approx((0.4 + 0.6 + 0.7) / 3)
    assert metrics.backward_transfer(r) == pytest.approx(((0.4 - 0.9) + (0.6 - 0.8)) / 2)
    assert metrics.forward_transfer(r) == pytest.approx(((0.1 - 1 / 3) + (0.3 - 1 / 3)) / 2)
    assert metrics.forward_transfer(r, baseline=0.0) == pytest.approx((0.1 + 0.3) / 2)
    # partial run: T = 2 rows of 3 classes -> only the first two learned classes count
    assert metrics.average_accuracy(r[:2]) == pytest.approx((0.5 + 0.8) / 2)
    assert metrics.backward_transfer(r[:2]) == pytest.approx(0.5 - 0.9)
    assert math.isnan(metrics.backward_transfer(r[:1]))
    assert math.isnan(metrics.forward_transfer(r[:1]))


def test_transfer_random_batched_against_reference():
    rng = np.random.default_rng(3)
    rs = rng.random((4, 6, 6))
    b = rng.random(6)
    np.testing.assert_allclose(metrics.backward_transfer(rs), [ref_bwt(r) for r in rs])
    np.testing.assert_allclose(metrics.forward_transfer(rs, b), [ref_fwt(r, b) for r in rs])
    np.testing.assert_allclose(metrics.average_accuracy(rs), rs[:, -1].mean(-1))


def test_transfer_validation():
    with pytest.raises(ValueError, match="steps"):
        metrics.average_accuracy(np.zeros((3, 2)))
    with pytest.raises(ValueError):
        metrics.backward_transfer(np.zeros(3))
    r = np.eye(3)
    r[2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.backward_transfer(r)
    # NaN where no formula looks (a class without test samples, not learned yet) is fine
    r = np.eye(3)
    r[0, 2] = np.nan
    assert metrics.backward_transfer(r) == -1.0


# ---------------------------------------------------------------- Kruskal-Wallis


def test_kruskal_matches_scipy():
    rng = np.random.default_rng(5)
    groups = {f"order{i}": rng.normal(0.6 + 0.05 * i, 0.1, 8) for i in range(6)}
    got = orders.kruskal_orders(groups)
    want = stats.kruskal(*groups.values())
    assert got == {"H": pytest.approx(want.statistic), "p": pytest.approx(want.pvalue)}
    assert orders.kruskal_orders(list(groups.values())) == got
    same = orders.kruskal_orders([[1.0, 1.0], [1.0]])
    assert math.isnan(same["H"]) and math.isnan(same["p"])


@pytest.mark.parametrize("bad, match", [
    ([[0.1, 0.2]], "at least 2"),
    ({}, "at least 2"),
    ([[0.1], []], "non-empty"),
    ([[0.1], [np.nan]], "NaN"),
])
def test_kruskal_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        orders.kruskal_orders(bad)



# ---------------------------------------------------------------- Friedman, Wilcoxon + Holm


def repeated_scores(seed, n=12, k=6):
    """Per-order scores of n subjects: a subject effect, an order effect, noise; no ties."""
    rng = np.random.default_rng(seed)
    subject = rng.normal(0.6, 0.1, (n, 1))
    order = np.linspace(0.0, 0.05, k)[None, :]
    m = subject + order + rng.normal(0, 0.03, (n, k))
    return {f"first-{i}": m[:, i].tolist() for i in range(k)}, m


def test_friedman_matches_scipy_and_kendall_w_formula():
    groups, m = repeated_scores(0)
    n, k = m.shape
    got = orders.friedman_orders(groups)
    want = stats.friedmanchisquare(*groups.values())
    assert got["statistic"] == pytest.approx(want.statistic)
    assert got["p_value"] == pytest.approx(want.pvalue)
    # Kendall's W by its own definition (no ties): 12 S / (n² (k³ − k)), S the
    # squared deviations of the orders' rank sums from their mean n (k + 1) / 2.
    ranks = np.argsort(np.argsort(m, axis=1), axis=1) + 1.0
    s = np.sum((ranks.sum(0) - n * (k + 1) / 2) ** 2)
    assert got["kendall_w"] == pytest.approx(12 * s / (n ** 2 * (k ** 3 - k)))
    assert 0.0 <= got["kendall_w"] <= 1.0
    # the same test as independent groups would be Kruskal-Wallis: a different figure
    assert orders.kruskal_orders(groups)["p"] != pytest.approx(got["p_value"])


def test_friedman_concordant_and_tied_cases():
    # every subject ranks the orders alike: W = 1
    m = np.arange(5.0)[:, None] + np.array([0.1, 0.3, 0.2])[None, :]
    got = orders.friedman_orders({c: m[:, i] for i, c in enumerate("abc")})
    assert got["kendall_w"] == pytest.approx(1.0)
    assert got["statistic"] == pytest.approx(2 * 5 * 1.0)        # χ² = n (k − 1) W
    # all orders alike within every subject: undefined, NaN (not "no difference")
    flat = orders.friedman_orders({"a": [0.5, 0.7], "b": [0.5, 0.7], "c": [0.5, 0.7]})
    assert all(math.isnan(v) for v in flat.values())


def test_holm_hand_example():
    # sorted 0.005, 0.01, 0.03, 0.04 -> ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04,
    # running maximum 0.02, 0.03, 0.06, 0.06; back in input order:
    np.testing.assert_allclose(orders.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(orders.holm([0.5, 0.6]), [1.0, 1.0])         # capped at 1
    np.testing.assert_allclose(orders.holm([0.02, 0.021]), [0.04, 0.04])    # monotone
    assert orders.holm([]).size == 0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        orders.holm([0.1, 1.5])


def test_wilcoxon_posthoc_pairs_against_scipy():
    groups, m = repeated_scores(1)
    groups["copy"] = list(groups["first-0"])                      # an identical pair
    rows = orders.wilcoxon_holm(groups)
    k = len(groups)
    assert len(rows) == k * (k - 1) // 2
    names = list(groups)
    assert [(r["a"], r["b"]) for r in rows] == [(names[i], names[j]) for i in range(k)
                                                for j in range(i + 1, k)]
    for r in rows:
        if {r["a"], r["b"]} == {"first-0", "copy"}:
            assert r["p_value"] == 1.0 and r["statistic"] == 0.0 and r["mean_diff"] == 0.0
            continue
        want = stats.wilcoxon(groups[r["a"]], groups[r["b"]])
        assert r["p_value"] == pytest.approx(want.pvalue)
        assert r["statistic"] == pytest.approx(want.statistic)
        assert r["mean_diff"] == pytest.approx(np.mean(np.subtract(groups[r["a"]], groups[r["b"]])))
    np.testing.assert_allclose([r["p_holm"] for r in rows], orders.holm([r["p_value"] for r in rows]))


def test_order_study_stats_finds_the_best_order():
    # 10 subjects, the orders' ranks identical in every subject: each pair's
    # exact Wilcoxon p is 2/2¹⁰, ×15 by Holm at most 0.029 < 0.05.
    base = np.random.default_rng(2).normal(0.6, 0.1, (10, 1))
    m = base + np.array([0.02, 0.10, 0.04, 0.01, 0.03, 0.05])[None, :]
    names = ["first-Anger", "first-Neutral", "first-Fear", "first-Sadness", "first-Happiness",
             "first-Surprise"]
    groups = {n: m[:, i] for i, n in enumerate(names)}
    out = orders.order_study_stats(groups, focus="first-Sadness")
    assert set(out) == {"friedman", "posthoc", "best_order", "focus"}
    assert out["friedman"]["kendall_w"] == pytest.approx(1.0)
    best = out["best_order"]
    assert best["order"] == "first-Neutral" and best["is_best"] and best["rank"] == 1
    assert best["significantly_best"]
    assert sorted(best["better_than"]) == sorted(set(names) - {"first-Neutral"})
    worst = out["focus"]
    assert worst["rank"] == 6 and not worst["is_best"] and worst["better_than"] == []
    assert len(worst["worse_than"]) == 5
    # with 3 subjects nothing survives the correction (smallest exact p = 0.25)
    few = orders.order_study_stats({n: v[:3] for n, v in groups.items()})
    assert few["best_order"]["order"] == "first-Neutral"
    assert not few["best_order"]["significantly_best"]
    assert len(few["best_order"]["not_separated_from"]) == 5


@pytest.mark.parametrize("bad, match", [
    ({"a": [0.1, 0.2], "b": [0.3, 0.4]}, "at least 3 orders"),
    ([[0.1, 0.2]] * 3, "mapping"),
    ({"a": [0.1, 0.2], "b": [0.3, 0.4], "c": [0.5]}, "same subjects"),
    ({"a": [0.1], "b": [0.3], "c": [0.5]}, "at least 2 subjects"),
    ({"a": [0.1, np.nan], "b": [0.3, 0.4], "c": [0.5, 0.6]}, "NaN"),
    ({"a": [[0.1, 0.2]], "b": [[0.3, 0.4]], "c": [[0.5, 0.6]]}, "1-D"),
])
def test_friedman_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        orders.friedman_orders(bad)
    if "3 orders" not in match:
        with pytest.raises(ValueError, match=match):
            orders.order_study_stats(bad)


def test_posthoc_and_summary_validation():
    with pytest.raises(ValueError, match="at least 2 orders"):
        orders.wilcoxon_holm({"a": [0.1, 0.2]})
    with pytest.raises(ValueError, match="unknown order"):
        orders.order_study_stats({"a": [1.0, 2.0], "b": [2.0, 3.0], "c": [0.0, 1.0]}, focus="z")


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.macro_f1([0, 1], [0]), "equal length"),
    (lambda: metrics.macro_f1([0, 6], [0, 1]), r"\[0, 6\)"),
    (lambda: metrics.macro_f1([0, -1], [0, 1]), r"\[0, 6\)"),
    (lambda: metrics.macro_f1([0.0, np.nan], [0, 1]), "NaN"),
    (lambda: metrics.macro_f1([0, 1], [0, 1], mask=[True]), "mask"),
    (lambda: metrics.macro_f1([0, 1], [0, 1], mask=[False, False]), "empty"),
    (lambda: metrics.accuracy([[0, 1]], [[0, 1]]), "1-D"),
    (lambda: metrics.per_class_accuracy([0, 1], [0, 1], [0, 0]), "repeat"),
    (lambda: metrics.cl_matrix([0, 1], [[0, 1]] * 3, [0, 1]), "steps"),
])
def test_validation_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_num_classes_widens_label_range():
    assert metrics.macro_f1([7, 8], [7, 8], num_classes=10) == 1.0
