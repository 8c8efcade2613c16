"""The experiment runner end to end on a tiny configuration: resume after an
interruption gives the results of an uninterrupted run; bad input fails clearly."""

import json

import pytest

from experiments import cli
from experiments.configs import ExperimentConfig
from experiments.runner import ExperimentError, run_experiment

pytestmark = pytest.mark.filterwarnings("ignore")

TINY = ExperimentConfig(models=("gdm", "mlp_finetune", "clifer"), caae_preset="tiny",
                        synthetic_subjects=2, synthetic_train_identities=6, synthetic_clips=2,
                        synthetic_frames=3, seed=3)


def _scores(results):
    return {k: v for k, v in results.items() if k != "timings_s"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    return out, run_experiment(TINY, out, progress=False, log=lambda *_: None)


def test_writes_results_report_and_plots(uninterrupted):
    out, results = uninterrupted
    assert set(results["models"]) == {"gdm", "mlp_finetune", "clifer"}
    assert set(results["models"]["clifer"]) == {"episodic", "semantic"}
    f1 = results["models"]["gdm"]["episodic"]["exp1_f1"]["mean"]
    assert len(f1) == 6 and all(0.0 <= v <= 1.0 for v in f1)
    assert json.loads((out / "results.json").read_text())["protocol"] == "heldout"
    report = (out / "report.md").read_text()
    assert "Protocol **heldout**" in report and "| clifer | episodic |" in report
    for plot in ("f1_curves.png", "cl_matrices.png"):
        assert (out / "plots" / plot).stat().st_size > 10_000


def test_results_report_the_datas_difficulty(uninterrupted):
    out, results = uninterrupted
    d = json.loads((out / "results.json").read_text())["difficulty"]
    assert d["preset"] == "posed"
    for k in ("feature_1nn", "pixel_1nn"):
        assert 0.0 <= d[k]["mean"] <= 1.0 and len(d[k]["per_subject"]) == 2
    assert d["feature_distance_ratio"] > 0 and d["pixel_distance_ratio"] > 0
    assert 0.0 < d["low_intensity_share"] < 1.0
    assert set(d["domain_gap"]) == {"pool_to_eval", "reference_to_eval", "gap"}


def test_killed_run_resumes_to_identical_results(uninterrupted, tmp_path):
    _, full = uninterrupted
    assert run_experiment(TINY, tmp_path, progress=False, max_units=1, log=lambda *_: None) is None
    assert not (tmp_path / "results.json").exists()          # nothing half-written passed off
    finished = sorted(p.parent.name for p in (tmp_path / "units").glob("*/done"))
    assert finished == ["features", "gdm@default"]
    resumed = run_experiment(TINY, tmp_path, progress=False, log=lambda *_: None)
    assert _scores(resumed) == _scores(full)
    assert "model:gdm@default" in resumed["timings_s"]


def test_reference_protocol_is_named(tmp_path):
    cfg = TINY.replace(models=("gdm",), protocol="reference")
    results = run_experiment(cfg, tmp_path, progress=False, log=lambda *_: None)
    assert results["protocol"] == "reference"
    assert "tested on the training samples" in (tmp_path / "report.md").read_text()


def test_bad_input_gives_clear_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown dataset"):
        ExperimentConfig(dataset="affectnet")
    with pytest.raises(ValueError, match="unknown model"):
        ExperimentConfig(models=("gdm", "transformer"))
    with pytest.raises(ExperimentError, match="not prepared"):
        run_experiment(ExperimentConfig(dataset="ravdess"), tmp_path / "r", progress=False)
    with pytest.raises(ExperimentError, match="asked for 5 subjects"):
        run_experiment(TINY.replace(subjects=5), tmp_path / "s", progress=False)
    run_dir = tmp_path / "m"
    run_experiment(TINY.replace(models=("gdm",)), run_dir, progress=False, max_units=0,
                   log=lambda *_: None)
    with pytest.raises(ExperimentError, match="another configuration"):
        run_experiment(TINY.replace(models=("gdm",), seed=4), run_dir, progress=False)
    assert cli.main(["run", "--dataset", "mmi", "--out", str(tmp_path / "c")]) == 2
    assert "not prepared" in capsys.readouterr().err
    assert cli.main(["run", "--models", "gdm", "svm", "--out", str(tmp_path / "d")]) == 2
    with pytest.raises(ValueError, match="synthetic_preset.*'studio'"):
        ExperimentConfig(synthetic_preset="studio")
    assert cli.main(["run", "--synthetic", "studio", "--out", str(tmp_path / "e")]) == 2
    assert "unknown synthetic preset 'studio'" in capsys.readouterr().err


def test_order_study_runs_six_orders_and_tests_them(tmp_path):
    cfg = TINY.replace(models=("gdm",), order_study=True, order_models=("gdm",))
    results = run_experiment(cfg, tmp_path, progress=False, log=lambda *_: None)
    study = results["order_study"]["gdm"]["episodic"]
    assert len(study["orders"]) == 6
    firsts = sorted(o[0] for o in study["orders"].values())
    assert firsts == sorted(["Anger", "Sadness", "Happiness", "Surprise", "Fear", "Neutral"])
    for key in ("exp2_f1_first_step", "exp2_f1_last_step"):
        groups = study[key]["per_order"]
        assert len(groups) == 6 and all(len(v) == 2 for v in groups.values())
        assert "H" in study[key] and "p" in study[key]
    assert (tmp_path / "plots" / "order_study.png").stat().st_size > 10_000
    assert "Order study" in (tmp_path / "report.md").read_text()


def test_order_asking_for_classes_the_data_lacks(tmp_path, monkeypatch):
    from experiments import runner

    real = runner.loading.load_subjects

    def five_classes(name, split, **kw):
        return real(name, split, classes=(0, 1, 2, 3, 4), **kw)      # no Neutral

    monkeypatch.setattr(runner.loading, "load_subjects", five_classes)
    with pytest.raises(ExperimentError, match=r"does not have.*Neutral|Neutral.*does not have"):
        run_experiment(TINY, tmp_path, progress=False, log=lambda *_: None)
    assert not (tmp_path / "results.json").exists()
