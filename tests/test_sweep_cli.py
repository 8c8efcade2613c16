"""`clifer sweep` and `--set` end to end on a tiny configuration: a sweep point equals the
single `clifer run --set` with that setting; the sweep resumes; config.json holds the tree."""

import csv
import json

import numpy as np
import orbax.checkpoint as ocp
import pytest

from clifer_jax import cli
from clifer_jax.caae import config as caae_config
from clifer_jax.study.config import StudyConfig

pytestmark = pytest.mark.filterwarnings("ignore")

TINY = ["--caae-preset", "tiny", "--seed", "3", "--no-progress",
        "--set", "synthetic.n_subjects=2", "--set", "caae_pool.identities=6",
        "--set", "synthetic.clips_per_class=2", "--set", "synthetic.frames_per_clip=3"]
A_T = "gdm_params.episodic.activity_threshold"
H_T = "gdm_params.semantic.habituation_threshold"


def _unit(folder, name):
    return ocp.PyTreeCheckpointer().restore(folder / "units" / name / "data")


def test_sweep_point_equals_single_run_with_set(tmp_path, capsys):
    run_dir, sweep_dir = tmp_path / "run", tmp_path / "sweep"
    # a sweep screens on the development subjects: the run it equals is a run on them too
    assert cli.main(["run", *TINY, "--models", "gdm", "--set", f"{A_T}=0.6", "--subject-set", "dev",
                     "--set", f"{H_T}=0.3", "--out", str(run_dir)]) == 0
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["subject_set"] == "dev"
    p = cfg["gdm_params"]
    assert p["episodic"]["activity_threshold"] == 0.6 and p["semantic"]["habituation_threshold"] == 0.3
    assert cfg["mlp"]["epochs"] == 20 and cfg["caae"]["name"] == "tiny"   # the whole tree
    args = ["sweep", *TINY, "--models", "gdm", "--set", f"{H_T}=0.3",
            "--grid", f"{A_T}=0.3,0.6", "--caae-dir", str(run_dir / "caae"),
            "--out", str(sweep_dir)]
    assert cli.main(args) == 0
    assert json.loads((sweep_dir / "config.json").read_text())["subject_set"] == "dev"   # its default
    single, swept = _unit(run_dir, "gdm@default"), _unit(sweep_dir, "sweep-gdm")
    for memory in ("episodic", "semantic"):
        assert swept[memory].shape[:2] == (2, 2)                         # [points, subjects]
        np.testing.assert_array_equal(swept[memory][1], single[memory])
    out = json.loads((sweep_dir / "sweep.json").read_text())
    assert out["grid"] == {A_T: [0.3, 0.6]} and len(out["rows"]) == 4
    assert all(len(r["per_subject"]["exp1_f1_avg"]) == 2 for r in out["rows"])   # checkable claims
    with open(sweep_dir / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["memory"] for r in rows} == {"episodic", "semantic"} and len(rows) == 4
    assert (sweep_dir / "plots" / "sweep_exp1_f1_avg.png").stat().st_size > 5_000
    # resume: the finished unit is reused (its time is not measured again), the same rows
    timings = json.loads((sweep_dir / "timings.json").read_text())
    assert cli.main(args) == 0
    assert json.loads((sweep_dir / "sweep.json").read_text())["rows"] == out["rows"]
    assert json.loads((sweep_dir / "timings.json").read_text())["model:sweep-gdm"] == timings["model:sweep-gdm"]
    # another grid in the same folder is refused
    capsys.readouterr()
    other = [a if a != f"{A_T}=0.3,0.6" else f"{A_T}=0.4" for a in args]
    assert cli.main(other) == 2
    assert "another configuration" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["run", "--set", "gdm_params.episodic.activity_treshold=0.5"],
     "unknown config path 'gdm_params.episodic.activity_treshold'; did you mean "
     "gdm_params.episodic.activity_threshold"),
    (["run", "--set", f"{A_T}=1.5"], f"{A_T}=1.5 refused: gdm_params.episodic.activity_threshold must "
                                     "be a finite number in (0, 1), got 1.5"),
    (["run", "--set", "gdm_params.semantic.max_age=2.5"], "gdm_params.semantic.max_age: expected an integer"),
    (["run", "--set", "mlp.epochs=many"], "mlp.epochs: expected an integer"),
    (["run", "--set", "gdm"], "expected PATH=VALUE"),
    (["run", "--set", "gdm.dim=0"], "GDMConfig: dim must be an integer >= 1"),
    (["run", "--set", "caae.name=huge"], "unknown CAAE preset 'huge'"),
    (["run", "--set", "order=Neutral,Joy"], "unknown expression 'Joy'"),
    (["sweep", "--grid", "gdm.epochs=2,3"], "gdm.epochs is a static setting"),
    (["sweep", "--grid", "order=sideways"], "unknown order"),
    (["sweep", "--grid", f"{A_T}=0.2", "--models", "mlp_joint"], "has no GDM params"),
    (["sweep", "--grid", f"{A_T}=0.3,0.3,0.30"], f"--grid {A_T}: value(s) 0.3 given more than once"),
    (["sweep", "--grid", f"{A_T}=0.3", "--point-batch", "0"], "--point-batch must be an integer >= 1"),
])
def test_bad_paths_and_values_are_named(argv, message, tmp_path, capsys):
    assert cli.main(argv + ["--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_config_lists_every_path(capsys):
    assert cli.main(["config", "--set", f"{A_T}=0.25"]) == 0
    text = capsys.readouterr().out
    assert f"{A_T}    = 0.25  (float)" in text
    for path in ("gdm_params.semantic.max_age", "mlp.learning_rate", "caae.name", "gdm.batch_size",
                 "synthetic.n_subjects", "caae_pool.identities", "clifer.imagination"):
        assert path in text
    # one spelling per setting: no number lives in two places
    leaves = [line.split("=")[0].strip() for line in text.splitlines()]
    assert len(leaves) == len(set(leaves)) and not any(p.startswith("gdm.episodic") for p in leaves)


def test_caae_preset_replaces_the_subtree_then_set_applies(capsys):
    """`--caae-preset` (or `--set caae.name=NAME`) replaces the whole CAAE subtree with the
    library's preset; a later `--set caae.X` changes one field of it."""
    cfg = StudyConfig().set("caae.latent_class_weight=0.5")
    base = caae_config.cpu()
    assert cfg.caae == base.replace(latent_class_weight=0.5)                  # nothing else moved
    assert StudyConfig().set("caae.name=paper").caae == caae_config.paper()
    assert StudyConfig().set("caae.epochs=3", "caae.name=tiny").caae == caae_config.tiny()   # in order
    assert cli.main(["config", "--caae-preset", "paper", "--set", "caae.epochs=2"]) == 0
    text = capsys.readouterr().out
    assert "caae.name" in text and "= paper" in text and "caae.image_size" in text
    assert [ln for ln in text.splitlines() if ln.startswith("caae.epochs")][0].split("=")[1].split()[0] == "2"


def test_flags_are_shorthands_of_paths(capsys):
    """Each flag sets its path(s); `--seed` sets the run's and the synthetic subjects' seeds;
    `--order` takes names, `--set order=` names or indices."""
    assert cli.main(["config", "--seed", "4", "--order", "Anger", "Fear", "Happiness", "Sadness",
                     "Surprise", "Neutral", "--imagination", "none", "--synthetic", "easy"]) == 0
    text = capsys.readouterr().out
    get = lambda p: [ln for ln in text.splitlines() if ln.startswith(p + " ")][0].split("=")[1].split()[0]  # noqa: E731
    assert get("seed") == "4" and get("synthetic.seed") == "4"
    assert get("order") == "0,4,2,1,3,5" and get("clifer.imagination") == "none"
    assert get("synthetic.preset") == "easy"
    assert StudyConfig().set("order=Neutral,1,2,3,4,0").order == (5, 1, 2, 3, 4, 0)


def test_config_file_is_the_base(tmp_path, capsys):
    """`--config FILE.py` starts from its get_config(), as Flax's examples do; the flags and
    --set apply on top; a file without get_config() is refused by name."""
    f = tmp_path / "mine.py"
    f.write_text("from clifer_jax.study import StudyConfig\n\n"
                 "def get_config():\n    return StudyConfig(models=('gdm',), order_study=True)\n")
    assert cli.main(["config", "--config", str(f), "--set", "mlp.epochs=3"]) == 0
    text = capsys.readouterr().out
    assert "order_study" in text and "True" in [ln for ln in text.splitlines() if ln.startswith("order_study")][0]
    assert [ln for ln in text.splitlines() if ln.startswith("models")][0].split("=")[1].split()[0] == "gdm"
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    assert cli.main(["config", "--config", str(bad)]) == 2
    assert "defines no get_config()" in capsys.readouterr().err


def test_paper_configs_load():
    """Every file of experiments/configs gives a StudyConfig."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "experiments" / "configs"
    files = sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")
    assert files
    for f in files:
        assert isinstance(cli.load_config_file(f), StudyConfig), f.name
