"""`clifer sweep` and `--set` end to end on a tiny configuration: a sweep point equals the
single `clifer run --set` with that setting; the sweep resumes; config.json holds the tree."""

import csv
import json

import numpy as np
import orbax.checkpoint as ocp
import pytest

from experiments import cli

pytestmark = pytest.mark.filterwarnings("ignore")

TINY = ["--caae-preset", "tiny", "--seed", "3", "--no-progress",
        "--set", "synthetic_subjects=2", "--set", "synthetic_train_identities=6",
        "--set", "synthetic_clips=2", "--set", "synthetic_frames=3"]


def _unit(folder, name):
    return ocp.PyTreeCheckpointer().restore(folder / "units" / name / "data")


def test_sweep_point_equals_single_run_with_set(tmp_path, capsys):
    run_dir, sweep_dir = tmp_path / "run", tmp_path / "sweep"
    assert cli.main(["run", *TINY, "--models", "gdm", "--set", "gdm.episodic.a_t=0.6",
                     "--set", "gdm.semantic.h_t=0.3", "--out", str(run_dir)]) == 0
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["gdm"]["episodic"]["a_t"] == 0.6 and cfg["gdm"]["semantic"]["h_t"] == 0.3
    assert cfg["mlp"]["epochs"] == 20                                    # the whole tree
    args = ["sweep", *TINY, "--models", "gdm", "--set", "gdm.semantic.h_t=0.3",
            "--grid", "gdm.episodic.a_t=0.3,0.6", "--caae-dir", str(run_dir / "caae"),
            "--out", str(sweep_dir)]
    assert cli.main(args) == 0
    single, swept = _unit(run_dir, "gdm@default"), _unit(sweep_dir, "sweep-gdm")
    for memory in ("episodic", "semantic"):
        assert swept[memory].shape[:2] == (2, 2)                         # [points, subjects]
        np.testing.assert_array_equal(swept[memory][1], single[memory])
    out = json.loads((sweep_dir / "sweep.json").read_text())
    assert out["grid"] == {"gdm.episodic.a_t": [0.3, 0.6]} and len(out["rows"]) == 4
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
    other = [a if a != "gdm.episodic.a_t=0.3,0.6" else "gdm.episodic.a_t=0.4" for a in args]
    assert cli.main(other) == 2
    assert "another configuration" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["run", "--set", "gdm.episodic.at=0.5"], "unknown config path 'gdm.episodic.at'; did you mean gdm.episodic.a_t"),
    (["run", "--set", "gdm.episodic.a_t=1.5"], "gdm.episodic.a_t=1.5 refused"),
    (["run", "--set", "mlp.epochs=many"], "mlp.epochs: expected an integer"),
    (["run", "--set", "gdm"], "expected PATH=VALUE"),
    (["run", "--set", "caae.latent_class_weight=-0.1"], "caae.latent_class_weight must be a number >= 0"),
    (["run", "--set", "caae.expr_dims=-3"], "caae.expr_dims must be an integer >= 0"),
    (["sweep", "--grid", "gdm.epochs=2,3"], "gdm.epochs is a static setting"),
    (["sweep", "--grid", "order=sideways"], "unknown order"),
    (["sweep", "--grid", "gdm.episodic.a_t=0.2", "--models", "mlp_joint"], "has no GDM params"),
])
def test_bad_paths_and_values_are_named(argv, message, tmp_path, capsys):
    assert cli.main(argv + ["--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_config_lists_every_path(capsys):
    assert cli.main(["config", "--set", "gdm.episodic.a_t=0.25"]) == 0
    text = capsys.readouterr().out
    assert "gdm.episodic.a_t           = 0.25  (float)" in text
    for path in ("gdm.semantic.max_age", "mlp.learning_rate", "caae_preset", "gdm.batch_size"):
        assert path in text


def test_caae_settings_override_the_preset_weights():
    from experiments.configs import ExperimentConfig, caae_preset

    base = caae_preset("cpu")
    cfg = ExperimentConfig().set("caae.latent_class_weight=0.5")
    ccfg = caae_preset(cfg.caae_preset, cfg.caae_epochs, cfg.caae)
    assert ccfg.latent_class_weight == 0.5 and base.latent_class_weight != 0.5
    assert ccfg.replace(latent_class_weight=base.latent_class_weight) == base   # nothing else moved
    assert caae_preset("cpu", None, ExperimentConfig().caae) == base           # none: the preset's
    film = ExperimentConfig().set("caae.gen_film=true").caae
    assert caae_preset("cpu", None, film) == base.replace(gen_film=True)
    split = ExperimentConfig().set("caae.expr_dims=7").caae
    assert caae_preset("cpu", None, split) == base.replace(expr_dims=7)
    assert isinstance(caae_preset("cpu", None, split).expr_dims, int)
    res = ExperimentConfig().set("caae.gen_res_blocks=2").caae
    assert caae_preset("cpu", None, res) == base.replace(gen_res_blocks=2)
    assert isinstance(caae_preset("cpu", None, res).gen_res_blocks, int)


def test_caae_settings_identity_loss_matches_train_caae():
    """`--set caae.identity_net=synthetic` gives the config `train_caae --identity-net
    synthetic` trains (weight 1, reconstructions and translations), so its checkpoint is
    reused; the weight and the translations can be overridden after it."""
    from experiments.configs import ExperimentConfig, caae_preset

    base = caae_preset("cpu")
    on = caae_preset("cpu", None, ExperimentConfig().set("caae.identity_net=synthetic").caae)
    assert on == base.replace(identity_net="synthetic", identity_weight=1.0, identity_translation=True)
    rec = ExperimentConfig().set("caae.identity_net=synthetic", "caae.identity_translation=false",
                                 "caae.identity_weight=0.3").caae
    assert caae_preset("cpu", None, rec) == base.replace(identity_net="synthetic", identity_weight=0.3,
                                                         identity_translation=False)
    assert caae_preset("cpu", None, ExperimentConfig().set("caae.identity_net=none").caae) == base
    for bad in (["caae.identity_weight=1"], ["caae.identity_net=none", "caae.identity_translation=true"]):
        with pytest.raises(ValueError, match="need caae.identity_net=synthetic"):
            ExperimentConfig().set(*bad)
    with pytest.raises(ValueError, match="not one of"):
        ExperimentConfig().set("caae.identity_net=vgg-face")
