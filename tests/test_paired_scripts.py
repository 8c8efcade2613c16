"""`experiments.paired` (the figures docs/results.md quotes beyond results.json) and the
lead-in rows of `experiments.difficulty_ablation`, on small files the tests make."""

import json

import numpy as np
import pytest
from scipy import stats

from experiments import difficulty_ablation, paired
from clifer_jax.study import orders


def _entry(f1):                       # f1 [S, T]: a model/memory entry of results.json
    f1 = np.asarray(f1, float)
    return {"exp1_f1_avg": {"per_subject": f1[:, 1:].mean(axis=1).tolist()},
            "exp2_f1": {"per_subject": f1.tolist()}}


def _write(folder, results):
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def test_runs_compares_the_same_model_on_the_same_subjects(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, (8, 6)), rng.uniform(0, 1, (8, 6))
    base = {"subjects": list(range(8)), "subject_set": "dev"}
    ra = _write(tmp_path / "a", {**base, "models": {"gdm": {"episodic": _entry(a), "semantic": _entry(a)}}})
    rb = _write(tmp_path / "b", {**base, "models": {"gdm": {"episodic": _entry(b), "semantic": _entry(b)},
                                                   "mlp_joint": {"mlp": _entry(b)}}})
    out = paired.runs(ra, rb)
    assert set(out) == {f"gdm/{m}/{f}" for m in ("episodic", "semantic")
                        for f in ("exp1_f1_avg", "exp2_f1_first_step", "exp2_f1_final")}
    d = out["gdm/episodic/exp2_f1_final"]
    assert d["mean"] == pytest.approx((a[:, -1] - b[:, -1]).mean())
    assert d["p"] == pytest.approx(stats.wilcoxon(a[:, -1], b[:, -1]).pvalue)
    other = _write(tmp_path / "c", {**base, "subject_set": "test", "models": {}})
    assert paired.main(["runs", str(ra), str(other)]) == 2
    assert "not on the same subjects" in capsys.readouterr().err
    assert paired.main(["runs", str(ra), str(tmp_path / "none")]) == 2


def test_tails_tests_one_tail_per_first_class_at_a_time(tmp_path):
    rng = np.random.default_rng(1)
    names = orders.orders(tuple(range(6)), seed=0, tails=2)
    per_tail = {n: rng.uniform(0, 1, 5).tolist() for n in names}
    entry = {"tails": 2, "exp2_f1_last_step": {"per_tail_order": per_tail, "friedman": {"p_value": 0.5}}}
    run = _write(tmp_path / "order", {"order_study": {"gdm": {"episodic": entry}}})
    row = paired.tails(run)["gdm/episodic"]
    tail2 = [per_tail[n] for n in names if n.endswith("_t2")]
    assert row["tail 2"] == pytest.approx(stats.friedmanchisquare(*tail2).pvalue)
    assert row["mean of tails"] == 0.5 and set(row) == {"tail 1", "tail 2", "mean of tails"}


def test_lead_in_rows(capsys):
    assert difficulty_ablation.main(["--lead-ins", "--subjects", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("| lead-in ") == 3 and "20%–30%" in out
    assert difficulty_ablation.main(["--lead-ins", "--preset", "easy"]) == 2
