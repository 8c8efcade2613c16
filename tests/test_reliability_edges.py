"""Reliability at the edges of the config and the library (second round): no silent
substitute CAAE, no silent NaN, no compiler abort on a huge capacity, no traceback after
a correct error, the library's own errors for misuse, messages about stored state, and
sweep inputs checked first (docs/troubleshooting.md)."""

import gc
import shutil
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from clifer_jax import cli, clifer, gdm, gwr, study
from clifer_jax.study import store as store_lib
from clifer_jax.study.store import RunLock, Store, StudyError

SMALL = ["--caae-preset", "tiny", "--no-progress", "--set", "synthetic.n_subjects=2",
         "--set", "caae_pool.identities=6", "--set", "synthetic.clips_per_class=2",
         "--set", "synthetic.frames_per_clip=3"]


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("clifer: error: ")]
    assert len(lines) == 1, err
    return lines[0]


# ----------------------------------------------------------------------------- 1. --caae-dir


def test_a_caae_dir_that_holds_no_caae_stops_before_any_work(tmp_path, capsys):
    missing, out = tmp_path / "runs" / "nonexistent" / "caae", tmp_path / "sw"
    rc = cli.main(["sweep", *SMALL, "--models", "gdm", "--caae-dir", str(missing), "--out", str(out),
                   "--grid", "gdm_params.episodic.activity_threshold=0.3"])
    assert rc == 2
    msg = _error(capsys)
    assert "--caae-dir" in msg and "no such folder" in msg
    assert not missing.exists() and not out.exists()           # nothing trained, nothing written
    empty = tmp_path / "empty"
    empty.mkdir()
    rc = cli.main(["sweep", *SMALL, "--models", "gdm", "--caae-dir", str(empty), "--out", str(out),
                   "--grid", "gdm_params.episodic.activity_threshold=0.3"])
    assert rc == 2 and "holds no CAAE checkpoint" in _error(capsys)
    assert list(empty.iterdir()) == [] and not out.exists()


# ----------------------------------------------------------------------------- 2. non-finite values


def _stream(n=40, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, 3, n).astype(np.int32)


def test_inputs_too_large_for_float32_distances_are_refused():
    cfg = gwr.GWRConfig(dim=4, capacity=16, num_classes=3)
    x, y = _stream()
    state = gwr.init(cfg, x[:2], y[:2])
    with pytest.raises(ValueError, match=r"too large for float32 distances: \|x\| up to 2.4e\+30, at most 4.61e\+18"):
        gwr.train(cfg, state, x * np.float32(1e30), y)
    with pytest.raises(ValueError, match="NaN/inf"):
        gwr.train(cfg, state, np.where(np.arange(40)[:, None] == 3, np.nan, x), y)
    assert gwr.checks.largest_sample(cfg) > 1e17                # ordinary features are far below


def test_a_non_finite_state_is_reported_by_every_entry_point():
    cfg = gwr.GWRConfig(dim=4, capacity=16, num_classes=3)
    x, y = _stream()
    state = gwr.init(cfg, x[:2], y[:2])
    broken = state.replace(weights=state.weights.at[1].set(jnp.nan))
    with pytest.warns(RuntimeWarning, match="NaN/inf weights"):
        gwr.train(cfg, broken, x, y)
    states = gwr.init_sharded(cfg, x[None, :2], y[None, :2])
    with pytest.warns(RuntimeWarning, match="NaN/inf weights"):
        gwr.train_sharded(cfg, states.replace(weights=states.weights.at[0, 1].set(jnp.nan)), x[None], y[None])
    # CLIFER with an imagination that returns NaN: the memories hold NaN, and it says so
    g = gdm.GDMConfig(dim=4, capacity=40, num_classes=3)
    s = gdm.init(g, x[:10], y[:10] * 0)
    with pytest.warns(RuntimeWarning, match="memory holds .* NaN/inf weights"):
        clifer.learn_class(g, s, x[:10], y[:10] * 0, imagine=lambda p, v, c: jnp.full_like(v, jnp.nan))
    gs = gdm.init_sharded(g, x[None, :10], (y[None, :10] * 0))
    gs = gs.replace(episodic=gs.episodic.replace(weights=gs.episodic.weights.at[0, 0].set(jnp.nan)))
    with pytest.warns(RuntimeWarning, match="NaN/inf weights"):
        gdm.learn_class_sharded(g, gs, x[None, 10:20], y[None, 10:20])


# ----------------------------------------------------------------------------- 3. a huge capacity


def test_a_huge_capacity_is_refused_with_an_estimate_not_an_abort(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["run", *SMALL, "--set", "gdm.capacity=1000000000", "--out", str(out)]) == 2
    msg = _error(capsys)
    assert "gdm.capacity=1000000000" in msg and "would take about" in msg and "available on" in msg
    assert not out.exists()
    with pytest.raises(ValueError, match="a network of capacity 1000000000 would take about .* available"):
        gwr.init(gwr.GWRConfig(dim=4, capacity=10**9), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="would take about"):
        gdm.init(gdm.GDMConfig(dim=4, capacity=10**9), np.zeros((4, 4), np.float32), np.zeros(4, np.int32))


# ----------------------------------------------------------------------------- 4. the lock's cleanup


def test_a_lock_that_cannot_be_opened_leaves_no_traceback_behind(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".lock"))

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(u))
    monkeypatch.setattr(store_lib.os, "open", refuse)
    with pytest.raises(PermissionError):
        RunLock(tmp_path)
    gc.collect()
    assert unraisable == []                     # was: AttributeError in RunLock.__del__


# ----------------------------------------------------------------------------- 5. misuse


def test_swapped_arguments_get_the_librarys_own_error():
    g = gdm.GDMConfig(dim=4, capacity=40, num_classes=3)
    x, y = _stream()
    state = gdm.init(g, x[:10], y[:10] * 0)
    with pytest.raises(TypeError, match="config must be a GDMConfig, got GDMState"):
        gdm.learn_class(state, g, x[:10], y[:10])
    with pytest.raises(TypeError, match="config must be a GDMConfig, got GDMState"):
        clifer.learn_class(state, g, x[:10], y[:10], imagine=lambda p, v, c: v)
    with pytest.raises(ValueError, match=r"imagine must return floats \[B, D\]"):
        clifer.learn_class(g, state, x[:10], y[:10], imagine=lambda p, v, c: v[:, :1])


# ----------------------------------------------------------------------------- 7. stored state


def test_a_corrupt_or_missing_unit_names_itself_and_the_remedy(tmp_path):
    store = Store(tmp_path, {"x": 1})
    store.save("gdm@default", {"episodic": np.zeros((2, 3), np.int32)})
    for f in (tmp_path / "units" / "gdm@default" / "data").rglob("*"):
        if f.is_file():
            f.write_bytes(b"\x00garbage")
    with pytest.raises(StudyError, match=r"unit 'gdm@default' cannot be read \(.*\); delete .*gdm@default "
                                         r"and run the same command again"):
        store.load("gdm@default")
    store.save("features", {"train": np.zeros(3, np.float32)})
    shutil.rmtree(tmp_path / "units" / "features" / "data")
    with pytest.raises(StudyError, match="'features' is marked finished but its data is missing; delete"):
        store.load("features")


def test_a_changed_leaf_is_named_once(tmp_path):
    cfg = study.StudyConfig()
    Store(tmp_path, cfg.to_dict())
    with pytest.raises(StudyError) as e:
        Store(tmp_path, cfg.set("mlp.epochs=7").to_dict())
    assert "(mlp.epochs: 20 here, 7 asked)" in str(e.value) and str(e.value).count("epochs") == 1


# ----------------------------------------------------------------------------- 8, 9. checked first


def test_small_config_edges(capsys):
    assert cli.main(["config", "--set", "mlp.hidden="]) == 2
    assert "mlp.hidden=() refused: MLPConfig: hidden must list at least one layer width" in _error(capsys)
    assert cli.main(["config", "--set", "mlp.epochs=3", "--set", "mlp.epochs=5", "--models", "gdm"]) == 0
    err = capsys.readouterr().err
    assert "--set mlp.epochs given twice (3, then 5); the last applies" in err
    assert "--set mlp.epochs: no chosen model reads mlp.* (models: gdm)" in err
    assert cli.main(["config", "--set", "clifer.times=2"]) == 0          # clifer is among the models
    assert "warning" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "tiny" in capsys.readouterr().out.split("--caae-preset")[1].split("--")[0]


def test_no_progress_silences_the_datasets_build_bars(monkeypatch):
    from clifer_jax.data import tfds_builders
    from clifer_jax.study import data as study_data

    calls = []
    monkeypatch.setattr(tfds_builders, "disable_progress_bars", lambda: calls.append(1))
    with pytest.raises(StudyError):                 # no manual_dir: refused after the switch
        study_data.load_data(study.StudyConfig(dataset="ravdess"), progress=False)
    assert calls == [1]
    study_data.load_data(study.StudyConfig().set("synthetic.n_subjects=1", "synthetic.clips_per_class=2",
                                                 "synthetic.frames_per_clip=2"), progress=False)
    assert calls == [1]                             # synthetic data: no TFDS build to silence
