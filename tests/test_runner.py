"""A study end to end on a tiny configuration (`study.run`): resume after an interruption
gives the results of an uninterrupted run; bad input fails clearly."""

import json
from types import SimpleNamespace

import numpy as np
import orbax.checkpoint as ocp
import pytest
from scipy import stats

from clifer_jax import cli, metrics, study
from clifer_jax.study import orders, report, runner
from clifer_jax.study import data as study_data
from clifer_jax.study.config import StudyConfig
from clifer_jax.study.store import StudyError

pytestmark = pytest.mark.filterwarnings("ignore")

TINY = StudyConfig(models=("gdm", "mlp_finetune", "clifer"), seed=3).with_caae_preset("tiny").set(
    "synthetic.n_subjects=2", "synthetic.clips_per_class=2", "synthetic.frames_per_clip=3",
    "synthetic.seed=3", "caae_pool.identities=6")


def run_experiment(cfg, out, **kw):
    return study.run(cfg, out, **kw)


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
    # three frames a clip: its kept frames come after the onset (docs/data.md), so the
    # share may be 0; it is a share all the same (tests/test_data_presets.py checks it > 0
    # at the default eight frames)
    assert 0.0 <= d["low_intensity_share"] < 1.0
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
        StudyConfig(dataset="affectnet")
    with pytest.raises(ValueError, match="unknown model"):
        StudyConfig(models=("gdm", "transformer"))
    with pytest.raises(StudyError, match="not prepared"):
        run_experiment(StudyConfig(dataset="ravdess"), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()                   # a refused run writes nothing
    with pytest.raises(StudyError, match="asked for 5 subjects"):
        run_experiment(TINY.replace(subjects=5), tmp_path / "s", progress=False)
    run_dir = tmp_path / "m"
    run_experiment(TINY.replace(models=("gdm",)), run_dir, progress=False, max_units=0,
                   log=lambda *_: None)
    with pytest.raises(StudyError, match=r"another configuration \(seed: 3 here, 4 asked\)"):
        run_experiment(TINY.replace(models=("gdm",), seed=4), run_dir, progress=False)
    assert cli.main(["run", "--dataset", "mmi", "--out", str(tmp_path / "c")]) == 2
    assert "not prepared" in capsys.readouterr().err
    assert cli.main(["run", "--models", "gdm", "svm", "--out", str(tmp_path / "d")]) == 2
    with pytest.raises(ValueError, match="synthetic.preset.*'studio'"):
        StudyConfig().set("synthetic.preset=studio")
    assert cli.main(["run", "--synthetic", "studio", "--out", str(tmp_path / "e")]) == 2
    assert "unknown synthetic preset 'studio'" in capsys.readouterr().err


def test_order_study_runs_each_class_first_with_several_tails_and_tests_them(tmp_path):
    cfg = TINY.replace(models=("gdm",), order_study=True, order_models=("gdm",), order_tails=2)
    results = run_experiment(cfg, tmp_path, progress=False, log=lambda *_: None)
    study = results["order_study"]["gdm"]["episodic"]
    assert len(study["orders"]) == 12 and study["tails"] == 2
    firsts = sorted(o[0] for o in study["orders"].values())
    assert firsts == sorted(["Anger", "Sadness", "Happiness", "Surprise", "Fear", "Neutral"] * 2)
    for key in ("exp2_f1_first_step", "exp2_f1_last_step"):
        groups = study[key]["per_order"]
        assert len(groups) == 6 and all(len(v) == 2 for v in groups.values())
        tails = study[key]["per_tail_order"]
        assert len(tails) == 12
        # a first class's group is the mean of its tails, subject by subject
        np.testing.assert_allclose(groups["first-Anger"],
                                   np.mean([tails["first-Anger_t1"], tails["first-Anger_t2"]], axis=0))
        assert "H" in study[key] and "p" in study[key]
        assert set(study[key]["friedman"]) == {"statistic", "p_value", "kendall_w"}
        assert len(study[key]["posthoc"]) == 15
        assert study[key]["neutral_first"]["order"] == "first-Neutral"
    assert (tmp_path / "plots" / "order_study.png").stat().st_size > 10_000
    assert "Order study" in (tmp_path / "report.md").read_text()


def test_order_asking_for_classes_the_data_lacks(tmp_path, monkeypatch):
    real = study_data.loading.load_subjects

    def five_classes(name, split, **kw):
        return real(name, split, classes=(0, 1, 2, 3, 4), **kw)      # no Neutral

    monkeypatch.setattr(study_data.loading, "load_subjects", five_classes)
    with pytest.raises(StudyError, match=r"does not have.*Neutral|Neutral.*does not have"):
        run_experiment(TINY, tmp_path / "x", progress=False, log=lambda *_: None)
    assert not (tmp_path / "x").exists()


def test_library_rebuilds_the_runs_features_from_its_checkpoint(uninterrupted):
    """The CAAE checkpoint and feature transform saved with a run give back its features."""
    import numpy as np
    import orbax.checkpoint as ocp

    from clifer_jax import features
    from clifer_jax.caae.train import restore_params

    out, _ = uninterrupted
    params, meta = restore_params(TINY.caae, str(out / "caae"))
    assert meta["done"]
    transform, kind = features.load(out / "feature_transform.json")
    assert kind == "pool"
    train, test = study.load_data(TINY)
    stored = ocp.PyTreeCheckpointer().restore(out / "units" / "features" / "data")
    rebuilt = features.encode_masked(params, transform, test.x, test.mask)
    np.testing.assert_allclose(rebuilt, stored["test"], rtol=1e-5, atol=1e-5)


def test_library_reproduces_the_runs_scores_step_by_step(uninterrupted):
    """The study's stages called one by one from Python (docs/study.md, "From Python")
    give the run's features and scores."""
    out, results = uninterrupted
    train, test = study.load_data(TINY)
    pool = study.pool_images(TINY)
    params = study.load_caae(TINY, out / "caae", TINY.seed, pool)       # the run's CAAE, as is
    feats = study.encode_features(TINY, params, train, test, pool)
    saved = ocp.PyTreeCheckpointer().restore(out / "units" / "features" / "data")
    np.testing.assert_array_equal(feats["train"], saved["train"])
    data = study.subject_data(feats, train, test)
    for model in ("clifer", "mlp_finetune"):
        preds = study.run_model(TINY, model, data, study.imagine_params(params, feats))
        for memory in study.memories(model):
            s = study.summarise(study.score(preds[memory], data.y_test, data.mask_test, TINY.order))
            want = results["models"][model][memory]
            assert s["exp2_f1"]["mean"] == want["exp2_f1"]["mean"]
            assert s["exp1_f1_avg"]["mean"] == want["exp1_f1_avg"]["mean"]


@pytest.mark.slow
def test_data_seeds_by_caae_seeds_report_figures_over_both(tmp_path):
    cfg = TINY.replace(models=("gdm", "clifer"), caae_seeds=(3, 5), data_seeds=(3, 4))
    results = run_experiment(cfg, tmp_path, progress=False, log=lambda *_: None)
    assert results["caae_seeds"] == [3, 5] and results["data_seeds"] == [3, 4]
    over = results["over_seeds"]
    assert set(over) == {"gdm", "clifer"} and set(over["clifer"]) == {"episodic", "semantic"}
    for fig in ("exp1_f1_avg", "exp2_f1_first_step", "exp2_f1_final", "backward_transfer", "forward_transfer"):
        e = over["clifer"]["episodic"][fig]
        cells = np.asarray(e["per_cell"])
        assert cells.shape == (2, 2) and np.isclose(e["mean"], cells.mean())
        assert np.isclose(e["ci95"], metrics.crossed_mean_ci(cells)[1], equal_nan=True)
    # The first cell's figures are the headline ones.
    head = results["models"]["clifer"]["episodic"]["exp2_f1"]["mean"][-1]
    assert np.isclose(over["clifer"]["episodic"]["exp2_f1_final"]["per_cell"][0][0], head)
    # One CAAE per CAAE seed serves every data seed; each cell has its own features.
    assert (tmp_path / "caae-seed5").exists() and not list(tmp_path.glob("caae*data*"))
    for unit in ("clifer@default~caae5", "clifer@default~data4", "clifer@default~data4~caae5",
                 "features~data4~caae5"):
        assert (tmp_path / "units" / unit / "done").exists()
    # A data seed draws other subjects: its features differ from the first seed's.
    a = ocp.PyTreeCheckpointer().restore(tmp_path / "units" / "features" / "data")["test"]
    b = ocp.PyTreeCheckpointer().restore(tmp_path / "units" / "features~data4" / "data")["test"]
    assert a.shape == b.shape and not np.allclose(a, b)
    for bad in (dict(caae_seeds=(1, 1)), dict(data_seeds=(2, 2)), dict(data_seeds=())):
        with pytest.raises(ValueError, match="seeds"):
            TINY.replace(**bad)
class FakeStore:
    """Predictions made up per unit: the `collect` step alone, on figures known by hand."""

    def __init__(self, units):
        self._units = units
        self.timings = {}

    def load(self, name):
        return self._units(name)


def hand_case(order_study=False):
    """2 subjects, one test sample per class. Subject 0 is always right; subject 1
    always predicts the first class of the order (under "first-Neutral" it is right too)."""
    cfg = TINY.replace(models=("gdm", "mlp_joint"), order_study=order_study, order_models=("gdm",))
    c = 6
    y_test = np.broadcast_to(np.arange(c)[None, :, None], (2, c, 1)).astype(np.int32)
    data = SimpleNamespace(y_test=y_test, mask_test=np.ones((2, c, 1), bool))
    train = SimpleNamespace(subjects=np.array([10, 11]), classes=tuple(range(c)))
    by_name = {"default": cfg.order, **orders.orders(cfg.order, cfg.seed, cfg.order_tails)}

    def preds(name):
        model, order_name = name.split("@")
        order = by_name[order_name]
        p = np.broadcast_to(np.arange(c)[None, None, :, None], (2, c, c, 1)).copy()
        if orders.first_class(order_name) != "first-Neutral":
            p[1] = order[0]
        out = {m: p for m in ("episodic", "semantic")} if model == "gdm" else {"mlp": p}
        if model == "mlp_joint":
            out["train_acc"] = np.array([[1.0] * c, [1.0, 0.5, 1.0, 1.0, 1.0, 1.0]])
        return out

    return cfg, FakeStore(preds), data, train


def test_collect_reports_experiment_1_over_steps_and_mlp_fit():
    cfg, store, data, train = hand_case()
    out = runner.collect(cfg, store, data, train)
    # subject 1 at step t: t + 1 classes seen, all predicted as the first one:
    # its F1 is 2 / (2 + t) (1 TP, t FP), the others 0, so macro-F1 = 2 / ((2 + t)(t + 1));
    # the headline averages steps 2..6 (t = 1..5): step 1 is 1.0 for every model
    s1 = np.mean([2 / ((2 + t) * (t + 1)) for t in range(1, 6)])
    for model, memory in (("gdm", "episodic"), ("gdm", "semantic"), ("mlp_joint", "mlp")):
        e = out["models"][model][memory]["exp1_f1_avg"]
        assert e["per_subject"] == pytest.approx([1.0, s1])
        assert e["mean"] == pytest.approx((1 + s1) / 2)
        assert e["ci95"] == pytest.approx(stats.t.ppf(0.975, 1) * np.std([1.0, s1], ddof=1) / np.sqrt(2))
    t = out["models"]["mlp_joint"]["train_acc"]
    assert set(out["models"]["mlp_joint"]) == {"mlp", "train_acc"}
    assert t["mean"] == pytest.approx([1.0, 0.75, 1.0, 1.0, 1.0, 1.0])
    assert t["per_subject"][1][1] == 0.5 and len(t["ci95"]) == 6
    assert "train_acc" not in out["models"]["gdm"]


def test_collect_order_study_statistics_and_report(tmp_path):
    cfg, store, data, train = hand_case(order_study=True)
    out = runner.collect(cfg, store, data, train)
    e = out["order_study"]["gdm"]["episodic"]["exp2_f1_last_step"]
    assert {"per_order", "H", "p", "friedman", "posthoc", "best_order", "neutral_first"} <= set(e)
    want = stats.friedmanchisquare(*e["per_order"].values())
    assert e["friedman"]["statistic"] == pytest.approx(want.statistic)
    assert e["friedman"]["p_value"] == pytest.approx(want.pvalue)
    assert len(e["posthoc"]) == 15 and all({"a", "b", "p_holm"} <= set(r) for r in e["posthoc"])
    assert len(e["per_tail_order"]) == 6 * cfg.order_tails
    assert e["best_order"]["order"] == "first-Neutral" and e["neutral_first"]["is_best"]
    assert not e["best_order"]["significantly_best"]        # 2 subjects: nothing is significant
    md = report.markdown(out)
    assert "Friedman" in md and "Kendall" in md and "Exp. 1 F1, avg over steps" in md
    assert "MLP training accuracy" in md and "| mlp_joint | mlp |" in md
    report.write_all(out, tmp_path)
    assert (tmp_path / "plots" / "order_study.png").stat().st_size > 10_000
