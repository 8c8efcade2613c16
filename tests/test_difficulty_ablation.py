"""`experiments.difficulty_ablation`: one row per nuisance turned off and per sampling
change, clear errors."""

from experiments import difficulty_ablation


def test_ablation_table_and_errors(capsys):
    assert difficulty_ablation.main(["--subjects", "2"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| ") and "variant" not in r]
    assert len(rows) == 2 + len(difficulty_ablation.OFF) + len(difficulty_ablation.SAMPLING)
    values = [float(v) for r in rows for v in r.split("|")[2:4]]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert difficulty_ablation.main(["--preset", "studio"]) == 2
    assert "unknown synthetic preset" in capsys.readouterr().err
    assert difficulty_ablation.main(["--subjects", "0"]) == 2


def test_development_subjects_by_default_and_the_second_takes_distance(capsys):
    from clifer_jax.data import synthetic

    assert difficulty_ablation.main(["--subjects", "2", "--preset", "easy"]) == 0
    assert capsys.readouterr().out.startswith("dev subjects (2)")
    assert difficulty_ablation.main(["--subjects", "2", "--preset", "easy", "--subject-set", "test"]) == 0
    assert capsys.readouterr().out.startswith("test subjects (2)")
    dev = difficulty_ablation.measure(synthetic.preset("posed"), 2)
    test = difficulty_ablation.measure(synthetic.preset("posed"), 2, pool="eval")
    assert dev != test and set(dev) == {"pixel_1nn", "au_1nn", "repetition"}
    assert 0 < dev["repetition"]["aus"]["ratio"] < 1
    assert "repetition" not in difficulty_ablation.measure(synthetic.preset("posed", repetition=False), 2)


def test_true_au_1nn_is_perfect_without_dynamics_and_bounded_by_the_onset():
    """With the easy ramp every frame shows its class: 1-NN on the true AUs is 1. Posed
    clips keep frames of the neutral lead-in, which no feature can tell apart."""
    from clifer_jax.data import synthetic

    assert difficulty_ablation.au_1nn(synthetic.preset("easy"), 3) == 1.0
    posed = difficulty_ablation.au_1nn(synthetic.preset("posed"), 3)
    assert 0.5 < posed < 1.0, posed
