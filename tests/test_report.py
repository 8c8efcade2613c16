"""Report sections for difficulty and CAAE seeds, and `experiments.compare` of several runs."""

import json

from clifer_jax.study import report, scores
from experiments import compare


def _summary(step1, final, avg):
    return {"exp1_f1_avg": {"mean": avg, "ci95": 0.01},
            "exp2_f1": {"mean": [step1, 0.5, final], "ci95": [0.02, 0.02, 0.03]}}


def _results(preset, f1nn):
    return {"models": {"gdm": {"episodic": _summary(0.05, 0.9, 0.8)}, "clifer": {"semantic": _summary(0.6, 0.7, 0.75)}},
            "difficulty": {"preset": preset, "feature_1nn": {"mean": f1nn, "min": 0.5},
                           "pixel_1nn": {"mean": 0.7, "min": 0.4}, "low_intensity_share": 0.21,
                           "feature_distance_ratio": 1.9, "pixel_distance_ratio": 1.25}}


def test_compare_puts_runs_side_by_side(tmp_path, capsys):
    for name, nn in (("a", 0.99), ("b", 0.45)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_results("easy" if name == "a" else "posed", nn)))
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "easy: Exp. 2 step 1" in out and "posed: Exp. 2 final" in out
    assert "| gdm | episodic | 0.80 ± 0.01 | 0.05 ± 0.02 | 0.90 ± 0.03 | 0.80 ± 0.01 |" in out
    assert "| feature 1-NN (within subject) | 0.990 | 0.450 |" in out
    assert compare.main([str(tmp_path / "missing")]) == 2
    assert "finished `clifer run` folder" in capsys.readouterr().err


def test_report_sections_for_difficulty_and_seeds():
    d = report.difficulty_lines(_results("posed", 0.45)["difficulty"])
    assert "## Difficulty of the data (preset posed)" in d
    assert "| within-subject 1-NN, memory features | 0.450 (worst subject 0.500) |" in d
    over = {"clifer": {"episodic": {k: {"mean": 0.5, "ci95": 0.1, "per_seed": [0.4, 0.5, 0.6]}
                                    for k in scores.HEADLINE_FIGURES}}}
    s = report.seed_lines(over, [0, 1, 2])
    assert s[1] == "## Over CAAE seeds 0, 1, 2"
    assert s[-1].startswith("| clifer | episodic | 0.50 ± 0.10 (0.40 / 0.50 / 0.60) |")
    assert report.seed_lines(None, None) == [] and report.difficulty_lines(None) == []
