"""`experiments.difficulty_ablation`: one row per nuisance turned off, clear errors."""

from experiments import difficulty_ablation


def test_ablation_table_and_errors(capsys):
    assert difficulty_ablation.main(["--subjects", "2"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| ") and "variant" not in r]
    assert len(rows) == 2 + len(difficulty_ablation.OFF)
    values = [float(r.split("|")[2]) for r in rows]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert difficulty_ablation.main(["--preset", "studio"]) == 2
    assert "unknown synthetic preset" in capsys.readouterr().err
    assert difficulty_ablation.main(["--subjects", "0"]) == 2
