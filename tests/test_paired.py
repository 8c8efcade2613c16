"""Evidence a reviewer accepts: paired comparisons of models on the same subjects (t-interval
of the differences, Wilcoxon signed-rank, Holm within a figure), the CI of a mean over data
seeds × CAAE seeds (two-way crossed random effects), Experiment 1's headline over steps
2..T, and their sections in the report and the sweep (docs/metrics.md)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from clifer_jax import metrics
from clifer_jax.study import orders, report, scores, sweeper

# ---------------------------------------------------------------- paired_difference


def test_paired_difference_against_scipy():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 0.9, 24)
    b = a - 0.03 + 0.02 * rng.standard_normal(24)
    r = metrics.paired_difference(a, b)
    d = a - b
    lo, hi = stats.t.interval(0.95, d.size - 1, loc=d.mean(), scale=stats.sem(d))
    assert r["n"] == 24
    assert r["mean"] == pytest.approx(d.mean())
    assert r["ci95"] == pytest.approx((hi - lo) / 2)
    assert r["p"] == pytest.approx(stats.wilcoxon(a, b).pvalue)
    # the paired test sees a shift the unpaired intervals hide
    assert r["p"] < 0.01
    wide = metrics.mean_ci(a)[1] + metrics.mean_ci(b)[1]
    assert abs(a.mean() - b.mean()) < wide           # the CIs of the means overlap
    # other confidence levels, and the direction of the difference
    assert metrics.paired_difference(a, b, 0.9)["ci95"] < r["ci95"]
    back = metrics.paired_difference(b, a)
    assert back["mean"] == pytest.approx(-r["mean"]) and back["p"] == pytest.approx(r["p"])


def test_paired_difference_edge_cases_and_validation():
    same = metrics.paired_difference([0.5, 0.7, 0.9], [0.5, 0.7, 0.9])
    assert same == {"mean": 0.0, "ci95": 0.0, "p": 1.0, "n": 3}
    one = metrics.paired_difference([0.6], [0.5])
    assert one["mean"] == pytest.approx(0.1) and math.isnan(one["ci95"]) and one["n"] == 1
    shift = metrics.paired_difference([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])   # equal differences
    assert shift["ci95"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="equal length"):
        metrics.paired_difference([0.1, 0.2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="1-D"):
        metrics.paired_difference([[0.1, 0.2]], [[0.1, 0.2]])
    with pytest.raises(ValueError, match="NaN"):
        metrics.paired_difference([0.1, np.nan], [0.1, 0.2])
    with pytest.raises(ValueError, match="no subjects"):
        metrics.paired_difference([], [])


def test_holm_lives_in_metrics_and_orders_uses_it():
    assert orders.holm is metrics.holm
    np.testing.assert_allclose(metrics.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])


# ---------------------------------------------------------------- crossed_mean_ci


def reference_crossed(v, confidence=0.95):
    """The crossed random-effects CI written out independently: sums of squares from the
    two-way ANOVA table (SS_total = SS_A + SS_B + SS_E), variance components truncated at 0."""
    v = np.asarray(v, float)
    a, b = v.shape
    grand = v.sum() / (a * b)
    ss_total = float(((v - grand) ** 2).sum())
    ss_a = sum(b * (v[i].sum() / b - grand) ** 2 for i in range(a))
    ss_b = sum(a * (v[:, j].sum() / a - grand) ** 2 for j in range(b))
    ss_e = ss_total - ss_a - ss_b
    df_a, df_b, df_e = a - 1, b - 1, (a - 1) * (b - 1)
    ms_a, ms_b, ms_e = ss_a / df_a, ss_b / df_b, ss_e / df_e
    var_a = max(0.0, (ms_a - ms_e) / b)
    var_b = max(0.0, (ms_b - ms_e) / a)
    var_mean = var_a / a + var_b / b + ms_e / (a * b)
    # Satterthwaite on the terms kept: a·b·Var = Σ c_k MS_k
    terms = [(ms_a, df_a)] * int(var_a > 0) + [(ms_b, df_b)] * int(var_b > 0)
    c_e = 1 - len(terms)
    denom = sum(m ** 2 / d for m, d in terms) + (c_e * ms_e) ** 2 / df_e
    df = (a * b * var_mean) ** 2 / denom
    return grand, stats.t.ppf((1 + confidence) / 2, df) * math.sqrt(var_mean), df


def test_crossed_mean_ci_against_independent_anova():
    rng = np.random.default_rng(1)
    for a, b in ((2, 2), (3, 4), (5, 3), (4, 6)):
        for _ in range(20):
            v = (rng.normal(0, rng.uniform(0, 0.05), (a, 1)) + rng.normal(0, rng.uniform(0, 0.05), (1, b))
                 + rng.normal(0, rng.uniform(0.001, 0.05), (a, b)) + 0.8)
            got = metrics.crossed_mean_ci(v)
            np.testing.assert_allclose(got, reference_crossed(v), rtol=1e-9)
    # a hand case without truncation: rows 0/1 and columns 0/1 effects, no interaction
    v = np.array([[0.0, 1.0], [2.0, 3.0]]) + np.array([[0.1, -0.1], [-0.1, 0.1]])
    # MS_A = 2·((0.5-1.5)² + (2.5-1.5)²) = 4, MS_B = 2·(0.5² + 0.5²) = 1, MS_E = 4·0.1² = 0.04
    var = (4 + 1 - 0.04) / 4
    df = (4 + 1 - 0.04) ** 2 / (4 ** 2 + 1 ** 2 + 0.04 ** 2)
    mean, half, dof = metrics.crossed_mean_ci(v)
    assert mean == pytest.approx(1.5) and dof == pytest.approx(df)
    assert half == pytest.approx(stats.t.ppf(0.975, df) * math.sqrt(var))


def test_crossed_mean_ci_reduces_to_the_t_interval_with_one_row_or_column():
    row = np.array([0.81, 0.78, 0.84, 0.80])
    want = stats.t.interval(0.95, 3, loc=row.mean(), scale=stats.sem(row))
    for v in (row[None, :], row[:, None]):
        mean, half, df = metrics.crossed_mean_ci(v)
        assert (mean, df) == (pytest.approx(row.mean()), 3.0)
        assert half == pytest.approx((want[1] - want[0]) / 2)
        assert (mean, half) == metrics.mean_ci(row)
    mean, half, df = metrics.crossed_mean_ci([[0.7]])
    assert mean == 0.7 and math.isnan(half) and df == 0.0


def test_crossed_mean_ci_truncation_is_conservative():
    # pure cell noise: MS_A and MS_B fall below MS_E in some draws; the truncated estimate is
    # never below the untruncated one nor below MS_E/(ab), and its dof follow the kept terms
    rng = np.random.default_rng(2)
    seen_truncated = 0
    for _ in range(200):
        v = rng.normal(0, 1, (3, 4))
        a, b = v.shape
        rows, cols, g = v.mean(1), v.mean(0), v.mean()
        ms_a = b * ((rows - g) ** 2).sum() / (a - 1)
        ms_b = a * ((cols - g) ** 2).sum() / (b - 1)
        ms_e = ((v - rows[:, None] - cols[None] + g) ** 2).sum() / ((a - 1) * (b - 1))
        _, half, df = metrics.crossed_mean_ci(v)
        var = (half / stats.t.ppf(0.975, df)) ** 2
        assert var >= (ms_a + ms_b - ms_e) / (a * b) - 1e-12
        assert var >= ms_e / (a * b) - 1e-12
        if ms_a <= ms_e and ms_b <= ms_e:
            seen_truncated += 1
            assert df == pytest.approx((a - 1) * (b - 1)) and var == pytest.approx(ms_e / (a * b))
        elif ms_a <= ms_e:
            assert df == pytest.approx(b - 1) and var == pytest.approx(ms_b / (a * b))
    assert seen_truncated > 0
    assert metrics.crossed_mean_ci(np.full((3, 2), 0.4)) == (pytest.approx(0.4), 0.0, 2.0)


def test_crossed_mean_ci_covers_the_mean_of_the_random_effects_model():
    # y = μ + A_i + B_j + E_ij: about 95% of the intervals hold μ
    rng = np.random.default_rng(3)
    a, b, n = 4, 5, 2000
    hits = 0
    for _ in range(n):
        v = 0.7 + rng.normal(0, 0.03, (a, 1)) + rng.normal(0, 0.02, (1, b)) + rng.normal(0, 0.02, (a, b))
        mean, half, _ = metrics.crossed_mean_ci(v)
        hits += abs(mean - 0.7) <= half
    assert 0.92 <= hits / n <= 0.98


def test_crossed_mean_ci_validation():
    for bad, match in (([0.1, 0.2], "grid"), (np.zeros((0, 3)), "grid"), ([[0.1, np.nan]], "NaN"),
                       (np.zeros((2, 2, 2)), "grid")):
        with pytest.raises(ValueError, match=match):
            metrics.crossed_mean_ci(bad)
    with pytest.raises(ValueError, match="confidence"):
        metrics.crossed_mean_ci([[0.1, 0.2]], confidence=1.0)


grids = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2 ** 31 - 1))


def _grid(shape_seed):
    a, b, seed = shape_seed
    rng = np.random.default_rng(seed)
    return (rng.normal(0, rng.uniform(0.001, 0.1), (a, 1)) + rng.normal(0, rng.uniform(0.001, 0.1), (1, b))
            + rng.normal(0, rng.uniform(0.001, 0.1), (a, b)))


@settings(max_examples=60, deadline=None)
@given(grids, st.randoms(use_true_random=False))
def test_crossed_mean_ci_properties(shape_seed, rnd):
    v = _grid(shape_seed)
    a, b = v.shape
    mean, half, df = metrics.crossed_mean_ci(v)
    rows, cols = list(range(a)), list(range(b))
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    # the seeds' order does not matter
    np.testing.assert_allclose(metrics.crossed_mean_ci(v[rows][:, cols]), (mean, half, df),
                               rtol=1e-9, atol=1e-12, equal_nan=True)
    # data seeds and CAAE seeds play symmetric roles
    np.testing.assert_allclose(metrics.crossed_mean_ci(v.T), (mean, half, df), rtol=1e-9, atol=1e-12,
                               equal_nan=True)
    # a shift moves the mean only; shrinking the spread shrinks the CI in proportion, same dof
    m2, h2, d2 = metrics.crossed_mean_ci(v + 0.5)
    assert m2 == pytest.approx(mean + 0.5) and d2 == pytest.approx(df, nan_ok=True)
    assert h2 == pytest.approx(half, rel=1e-6, abs=1e-12, nan_ok=True)
    m3, h3, d3 = metrics.crossed_mean_ci(mean + 0.25 * (v - mean))
    assert m3 == pytest.approx(mean) and d3 == pytest.approx(df, rel=1e-6, nan_ok=True)
    assert h3 == pytest.approx(0.25 * half, rel=1e-6, abs=1e-12, nan_ok=True)
    if a > 1 or b > 1:
        assert half >= 0 and df > 0
        # a wider interval at a higher confidence
        assert metrics.crossed_mean_ci(v, 0.99)[1] >= half


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 5), st.integers(2, 5), st.integers(0, 2 ** 31 - 1))
def test_crossed_mean_ci_shrinks_with_the_cell_noise(a, b, seed):
    # With the seeds' effects fixed in distribution, less noise in the cells gives narrower
    # intervals on average (one draw need not: the estimate subtracts MS_E from MS_A + MS_B).
    rng = np.random.default_rng(seed)
    mean_half = []
    for noise in (0.1, 0.03, 0.01):
        halves = [metrics.crossed_mean_ci(rng.normal(0, 0.01, (a, 1)) + rng.normal(0, 0.01, (1, b))
                                          + rng.normal(0, noise, (a, b)))[1] for _ in range(200)]
        mean_half.append(np.mean(halves))
    assert mean_half[0] > mean_half[1] > mean_half[2]


# ---------------------------------------------------------------- Experiment 1's headline


def _scores(exp1, exp2=None, bwt=None, fwt=None):
    exp1 = np.asarray(exp1, float)
    s, t = exp1.shape
    exp2 = exp1 if exp2 is None else np.asarray(exp2, float)
    return {"exp1_f1": exp1, "exp1_acc": exp1, "exp2_f1": exp2, "exp2_acc": exp2, "R": np.zeros((s, t, t)),
            "average_accuracy": exp2[:, -1],
            "backward_transfer": np.zeros(s) if bwt is None else np.asarray(bwt, float),
            "forward_transfer": np.full(s, -1 / 6) if fwt is None else np.asarray(fwt, float)}


def test_exp1_headline_leaves_step_one_out():
    exp1 = np.array([[1.0, 0.8, 0.6, 0.7], [1.0, 0.5, 0.5, 0.8]])
    want = [np.mean([0.8, 0.6, 0.7]), np.mean([0.5, 0.5, 0.8])]
    np.testing.assert_allclose(scores.exp1_average(exp1), want)
    np.testing.assert_allclose(scores.headline_figures(_scores(exp1))["exp1_f1_avg"], want)
    s = scores.summarise(_scores(exp1))
    assert s["exp1_f1_avg"]["per_subject"] == pytest.approx(want)
    assert s["exp1_f1_avg"]["mean"] == pytest.approx(np.mean(want))
    assert s["exp1_f1"]["mean"][0] == 1.0                 # the per-step table keeps step 1
    np.testing.assert_allclose(scores.exp1_average([[0.9], [0.7]]), [0.9, 0.7])   # T == 1: step 1
    with pytest.raises(ValueError, match="exp1_f1"):
        scores.exp1_average(np.zeros((2, 0)))


# ---------------------------------------------------------------- which pairs


def test_comparison_pairs_rule():
    models = ("mlp_finetune", "mlp_joint", "gdm", "gdm_replay", "clifer", "clifer_none", "clifer_oracle")
    pairs = scores.comparison_pairs(models)
    keys = [frozenset(p) for p in pairs]
    assert len(keys) == len(set(keys)) and all(a != b for a, b in pairs)
    want = {
        ("mlp_finetune/mlp", "gdm_replay/episodic"), ("mlp_finetune/mlp", "gdm_replay/semantic"),
        ("mlp_finetune/mlp", "mlp_joint/mlp"),
        ("mlp_joint/mlp", "gdm_replay/episodic"), ("mlp_joint/mlp", "gdm_replay/semantic"),
        ("clifer/episodic", "clifer_none/episodic"), ("clifer/semantic", "clifer_none/semantic"),
        ("clifer_oracle/episodic", "clifer/episodic"), ("clifer_oracle/semantic", "clifer/semantic"),
    }
    for m in ("gdm", "clifer", "clifer_none", "clifer_oracle"):
        for mem in ("episodic", "semantic"):
            want |= {(f"{m}/{mem}", f"gdm_replay/{mem}"), (f"{m}/{mem}", "mlp_joint/mlp")}
    assert set(pairs) == want
    # only the models present; the rule written against the names
    assert scores.comparison_pairs(["gdm", "clifer"]) == []
    assert set(scores.comparison_pairs(["clifer", "gdm_replay"])) == {
        ("clifer/episodic", "gdm_replay/episodic"), ("clifer/semantic", "gdm_replay/semantic")}
    assert scores.comparison_pairs(["clifer_oracle", "clifer"]) == [
        ("clifer_oracle/episodic", "clifer/episodic"), ("clifer_oracle/semantic", "clifer/semantic")]
    assert scores.comparison_pairs(["mlp_joint", "mlp_finetune"]) == [("mlp_finetune/mlp", "mlp_joint/mlp")]
    with pytest.raises(ValueError, match="unknown model"):
        scores.comparison_pairs(["gdm", "nope"])


def test_paired_comparisons_holm_within_each_figure():
    rng = np.random.default_rng(4)
    s = 12
    base = rng.uniform(0.6, 0.8, s)
    per_subject = {}
    for label, shift in (("gdm_replay/episodic", 0.0), ("clifer/episodic", 0.05), ("gdm/episodic", -0.001),
                         ("mlp_joint/mlp", -0.02)):
        v = base + shift + 0.01 * rng.standard_normal(s)
        per_subject[label] = {f: v + k for k, f in enumerate(scores.HEADLINE_FIGURES)}
    pairs = [p for p in scores.comparison_pairs(["mlp_joint", "gdm", "gdm_replay", "clifer"])
             if set(p) <= set(per_subject)]
    assert len(pairs) == 5
    out = scores.paired_comparisons(per_subject, pairs)
    assert set(out) == set(scores.HEADLINE_FIGURES)
    for fig, rows in out.items():
        assert [(r["a"], r["b"]) for r in rows] == pairs
        ps = [r["p"] for r in rows]
        np.testing.assert_allclose([r["p_holm"] for r in rows], metrics.holm(ps))
        for r in rows:
            d = np.asarray(per_subject[r["a"]][fig]) - np.asarray(per_subject[r["b"]][fig])
            assert r["mean"] == pytest.approx(d.mean()) and r["n"] == s
            assert r["p"] == pytest.approx(stats.wilcoxon(d).pvalue)
    big = next(r for r in out["exp2_f1_final"] if r["a"] == "clifer/episodic" and r["b"] == "gdm_replay/episodic")
    assert big["mean"] > 0.03 and big["p_holm"] < 0.05
    with pytest.raises(ValueError, match="no per-subject values"):
        scores.paired_comparisons(per_subject, [("clifer/episodic", "gdm_replay/semantic")])


def test_paired_comparisons_leave_undefined_figures_out_of_the_family():
    one_step = {"x/m": scores.headline_figures(_scores([[1.0], [0.5]], bwt=[np.nan] * 2, fwt=[np.nan] * 2)),
                "y/m": scores.headline_figures(_scores([[0.9], [0.4]], bwt=[np.nan] * 2, fwt=[np.nan] * 2))}
    out = scores.paired_comparisons(one_step, [("x/m", "y/m")])
    assert math.isnan(out["backward_transfer"][0]["mean"]) and math.isnan(out["backward_transfer"][0]["p_holm"])
    e = out["exp1_f1_avg"][0]       # T == 1: step 1's F1; two equal differences of 0.1
    assert e["mean"] == pytest.approx(0.1) and e["p"] == pytest.approx(0.5) and e["p_holm"] == e["p"]


# ---------------------------------------------------------------- over seeds


def test_over_seed_grid_and_its_one_row_case():
    rng = np.random.default_rng(5)
    cells = [[_scores(rng.uniform(0.5, 1.0, (3, 4)), bwt=rng.uniform(-0.2, 0, 3)) for _ in range(3)]
             for _ in range(2)]
    out = scores.over_seed_grid(cells, data_seeds=[0, 7], caae_seeds=[1, 2, 3])
    e = out["exp1_f1_avg"]
    want = np.array([[scores.exp1_average(c["exp1_f1"]).mean() for c in row] for row in cells])
    np.testing.assert_allclose(e["per_cell"], want)
    assert (e["mean"], e["ci95"], e["df"]) == pytest.approx(metrics.crossed_mean_ci(want))
    assert e["data_seeds"] == [0, 7] and e["caae_seeds"] == [1, 2, 3]
    # one data seed: the t-interval over the CAAE seeds
    one = scores.over_seed_grid([cells[0]])
    for f in scores.HEADLINE_FIGURES:
        per_seed = [float(np.mean(scores.headline_figures(c)[f])) for c in cells[0]]
        assert one[f]["per_cell"][0] == pytest.approx(per_seed)
        mean, ci = metrics.mean_ci(np.asarray(per_seed))
        assert (one[f]["mean"], one[f]["ci95"]) == (pytest.approx(mean), pytest.approx(ci))
        assert one[f]["df"] == 2.0
    with pytest.raises(ValueError, match="rectangular"):
        scores.over_seed_grid([cells[0], cells[1][:2]])
    with pytest.raises(ValueError, match="data_seeds"):
        scores.over_seed_grid(cells, data_seeds=[0])
    nan = scores.over_seed_grid([[_scores([[0.9], [0.8]], bwt=[np.nan] * 2)]])
    assert math.isnan(nan["backward_transfer"]["mean"]) and nan["exp1_f1_avg"]["mean"] == pytest.approx(0.85)


# ---------------------------------------------------------------- report and sweep


def test_report_paired_section_and_seed_grid():
    rows = [{"a": "clifer/episodic", "b": "gdm_replay/episodic", "mean": 0.0123, "ci95": 0.004, "p": 0.0004,
             "p_holm": 0.0021, "n": 24},
            {"a": "gdm/episodic", "b": "mlp_joint/mlp", "mean": -0.01, "ci95": 0.02, "p": 0.3, "p_holm": 0.6, "n": 24}]
    lines = report.paired_lines({f: rows for f in scores.HEADLINE_FIGURES}, 6)
    text = "\n".join(lines)
    assert "## Paired comparisons (same subjects)" in text and "### Exp. 1 F1, avg over steps 2–6" in text
    assert "| clifer/episodic | gdm_replay/episodic | **+0.012 ± 0.004** | 0.0004 | **0.002** |" in text
    assert "| gdm/episodic | mlp_joint/mlp | -0.010 ± 0.020 | 0.300 | 0.600 |" in text
    assert report.paired_lines(None) == [] and report.paired_lines({}) == []

    fig = {"mean": 0.8, "ci95": 0.05, "df": 3.2, "per_cell": [[0.81, 0.79, 0.8], [0.78, 0.8, 0.82]]}
    over = {"clifer": {"episodic": {k: fig for k in scores.HEADLINE_FIGURES}}}
    s = report.seed_lines(over, [0, 1, 2], [10, 11])
    assert s[1] == "## Over data seeds 10, 11 × CAAE seeds 0, 1, 2"
    assert "crossed random-effects" in s[3]
    assert s[-1].startswith("| clifer | episodic | 0.80 ± 0.05 (0.81 / 0.79 / 0.80; 0.78 / 0.80 / 0.82) |")
    one_row = {"clifer": {"episodic": {k: {**fig, "per_cell": [[0.81, 0.79]]} for k in scores.HEADLINE_FIGURES}}}
    assert report.seed_lines(one_row, [0, 1], [10])[1] == "## Over CAAE seeds 0, 1 (data seed 10)"


def test_report_headline_names_the_steps_and_renders_old_and_new_seed_layouts():
    summary = {"exp1_f1_avg": {"mean": 0.8, "ci95": 0.01},
               "exp2_f1": {"mean": [0.1] * 6, "ci95": [0.01] * 6}, "exp1_f1": {"mean": [0.9] * 6, "ci95": [0.01] * 6},
               "exp2_acc": {"mean": [0.1] * 6, "ci95": [0.01] * 6}}
    base = {"dataset": "synthetic", "protocol": "heldout", "subjects": [0, 1], "backend": "cpu",
            "config": {"seed": 0}, "order": ["Neutral", "Happiness", "Surprise", "Anger", "Fear", "Sadness"],
            "models": {"gdm": {"episodic": summary}}}
    md = report.markdown(base)
    assert "Exp. 1 F1, avg over steps 2–6" in md and "Paired comparisons" not in md
    old = {"gdm": {"episodic": {k: {"mean": 0.5, "ci95": 0.1, "per_seed": [0.4, 0.6]} for k in scores.HEADLINE_FIGURES}}}
    assert "## Over CAAE seeds 3, 5" in report.markdown({**base, "over_caae_seeds": old, "caae_seeds": [3, 5]})
    grid = {"gdm": {"episodic": {k: {"mean": 0.5, "ci95": 0.1, "df": 1.0, "per_cell": [[0.4], [0.6]]}
                                 for k in scores.HEADLINE_FIGURES}}}
    md = report.markdown({**base, "over_seeds": grid, "caae_seeds": [3], "data_seeds": [0, 1],
                          "paired": {"exp1_f1_avg": [{"a": "gdm/episodic", "b": "x/y", "mean": 0.1, "ci95": 0.01,
                                                      "p": 0.01, "p_holm": 0.01, "n": 2}]}})
    assert "## Over data seeds 0, 1 (CAAE seed 3)" in md and "## Paired comparisons" in md


def test_sweep_baseline_and_paired_rows():
    from clifer_jax.study.config import StudyConfig

    path = "gdm_params.episodic.activity_threshold"
    cfg = StudyConfig()
    configured = cfg.gdm_params.episodic.activity_threshold
    points = [{path: v} for v in (0.2, configured, 0.6)]
    assert sweeper.baseline_index(cfg, {path: [0.2, configured, 0.6]}, points) == 1
    assert sweeper.baseline_index(cfg, {path: [0.2, 0.6]}, [points[0], points[2]]) == 0
    assert sweeper.baseline_index(cfg, {"order": ["first-Anger", "default"]},
                                  [{"order": "first-Anger"}, {"order": "default"}]) == 1
    rng = np.random.default_rng(6)
    base = rng.uniform(0.6, 0.8, 10)
    rows = []
    for i, pt in enumerate(points):
        shift = (-0.1, 0.0, 0.0005)[i]
        per = {f: (base + shift + 0.002 * rng.standard_normal(10)).tolist() for f in scores.HEADLINE_FIGURES}
        rows.append({**pt, "model": "gdm", "memory": "episodic", "per_subject": per,
                     **{f: float(np.mean(per[f])) for f in scores.HEADLINE_FIGURES},
                     **{f"{f}_ci95": 0.01 for f in scores.HEADLINE_FIGURES}})
    out = sweeper.paired_vs_baseline(rows, points, 1)
    assert out["baseline_index"] == 1 and out["baseline"] == points[1]
    cmp = out["comparisons"]["gdm/episodic"]["exp1_f1_avg"]
    assert [c["index"] for c in cmp] == [0, 2] and cmp[0]["point"] == points[0]
    d = np.asarray(rows[0]["per_subject"]["exp1_f1_avg"]) - np.asarray(rows[1]["per_subject"]["exp1_f1_avg"])
    assert cmp[0]["mean"] == pytest.approx(d.mean()) and cmp[0]["p_holm"] < 0.05
    np.testing.assert_allclose([c["p_holm"] for c in cmp], metrics.holm([c["p"] for c in cmp]))
    table = sweeper.table({"grid": {path: [p[path] for p in points]}, "points": points, "rows": rows,
                           "paired": out})
    assert "(baseline)" in table and "Holm p" in table and "*" in table.splitlines()[2]
    # sweep.json of older runs, without "paired"
    assert "Holm" not in sweeper.table({"grid": {path: [0.2]}, "rows": rows[:1]})
