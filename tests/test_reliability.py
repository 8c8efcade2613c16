"""What can go wrong, through the command line: every expected failure is one
`clifer: error: …` line with exit 2 and writes nothing; Ctrl-C stops the run with a
message and exit 130, finished units kept (docs/troubleshooting.md)."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clifer_jax import cli, study
from clifer_jax.cli import errors
from clifer_jax.study.config import StudyConfig
from clifer_jax.study.store import RunLock, Store, StudyError
from experiments import train_caae

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore")


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [l for l in err.splitlines() if l.startswith("clifer: error: ")]
    assert len(lines) == 1, err
    return lines[0]


# ----------------------------------------------------------------------------- numeric options


@pytest.mark.parametrize("flag,value", [("--caae-epochs", "0"), ("--caae-epochs", "-1"),
                                        ("--subjects", "0"), ("--seed", "-3")])
def test_numeric_options_refused_before_anything_is_written(tmp_path, capsys, flag, value):
    out = tmp_path / "run"
    assert cli.main(["run", "--out", str(out), "--no-progress", flag, value]) == 2
    msg = _error(capsys)
    path = {"--caae-epochs": "caae.epochs", "--subjects": "subjects", "--seed": "seed"}[flag]
    assert msg.startswith(f"clifer: error: {flag} {value}: {path}={value} refused") and "must be" in msg, msg
    assert not out.exists()


def test_config_refuses_untrained_caae_and_accepts_numpy_ints():
    import numpy as np

    from clifer_jax.caae import config as caae_config

    with pytest.raises(ValueError, match="caae.epochs"):
        StudyConfig().set("caae.epochs=0")
    with pytest.raises(ValueError, match="clips_per_class"):
        StudyConfig().set("synthetic.clips_per_class=0")
    with pytest.raises(ValueError, match="seed"):
        StudyConfig(seed=1.5)
    assert StudyConfig().set("caae.epochs=2").caae.epochs == 2
    assert caae_config.cpu().replace(epochs=np.int64(2)).epochs == 2

    with pytest.raises(ValueError, match="untrained"):
        caae_config.cpu().replace(epochs=0)


def test_train_caae_refuses_zero_epochs_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["--epochs", "0"], ["--epochs", "-1"], ["--train-identities", "0"], ["--classifier-seed", "-1"],
                 ["--feature-1nn", "--data-dir", str(tmp_path / "frames")]):
        with pytest.raises(SystemExit) as e:
            train_caae.main(args + ["--no-progress"])
        assert e.value.code == 2
    assert list(tmp_path.iterdir()) == []


def _fake_grid(params, path, **kw):
    Path(path).parent.mkdir(parents=True, exist_ok=True)   # as save_grid does
    Path(path).write_text("png")


def test_train_caae_writes_to_its_run_folder_unless_asked(tmp_path, monkeypatch):
    """The committed grid and metrics are replaced only when --grid/--metrics say so."""
    import numpy as np

    from clifer_jax.caae import config as caae_config

    class FakeState:
        def inference_params(self, cfg):
            return "params"

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train_caae, "synthetic_pool", lambda *a, **k: {
        "image": np.zeros((32, 64, 64, 1), np.uint8), "expression": np.zeros(32, np.int32)})
    monkeypatch.setattr(train_caae, "train", lambda *a, **k: (FakeState(), []))
    monkeypatch.setattr(train_caae, "save_grid", _fake_grid)
    report = train_caae.main(["--preset", "cpu", "--no-progress"])
    assert (tmp_path / "runs/caae_cpu/caae_grid.png").exists()
    saved = json.loads((tmp_path / "runs/caae_cpu/caae_cpu.json").read_text())
    # the store's entry by name, not the machine's path
    assert saved["checkpoint"] == report["checkpoint"] and report["checkpoint"].startswith("caae store: cpu-seed0-")
    assert not (tmp_path / "docs").exists() and not (tmp_path / "experiments").exists()
    assert caae_config.cpu().epochs >= 1


def test_train_caae_set_wins_over_identity_net_defaults(tmp_path, monkeypatch):
    """`--identity-net synthetic` sets weight 1; an explicit --set of the weight is kept,
    not silently replaced."""
    import numpy as np

    class Stop(Exception):
        pass

    seen = []

    def fake_identity_network(cfg, *a, **k):
        seen.append(cfg)
        raise Stop

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train_caae, "synthetic_pool", lambda *a, **k: {
        "image": np.zeros((32, 64, 64, 1), np.uint8), "expression": np.zeros(32, np.int32)})
    monkeypatch.setattr(train_caae, "identity_network", fake_identity_network)
    for extra in ([], ["--set", "identity_weight=0.3"]):
        with pytest.raises(Stop):
            train_caae.main(["--identity-net", "synthetic", "--no-progress"] + extra)
    default, explicit = seen
    assert (default.identity_net, default.identity_weight) == ("synthetic", 1.0)
    assert (explicit.identity_net, explicit.identity_weight) == ("synthetic", 0.3)


def test_train_caae_bad_set_is_a_clear_error_before_anything_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for item, words in (("tv_translation=maybe", "tv_translation: expected true or false"),
                        ("gen_film=true", "unknown config path 'gen_film'"),    # a removed option
                        ("epochs=0", "untrained"), ("no_such_field=1", "CAAEConfig field")):
        with pytest.raises(SystemExit) as e:
            train_caae.main(["--set", item, "--no-progress"])
        assert e.value.code == 2
        assert words in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- one error path


def _write_bad_video(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def test_empty_manual_folder_is_a_clear_error(tmp_path, capsys):
    manual = tmp_path / "ravdess"
    manual.mkdir()
    rc = cli.main(["run", "--dataset", "ravdess", "--manual-dir", str(manual), "--data-dir",
                   str(tmp_path / "tfds"), "--out", str(tmp_path / "run"), "--no-progress"])
    assert rc == 2
    assert "is empty" in _error(capsys)


def test_folder_of_unusable_videos_is_a_clear_error(tmp_path, capsys):
    manual = tmp_path / "ravdess"
    _write_bad_video(manual / "Actor_01", "02-01-03-01-01-01-01.mp4", b"not a video")
    _write_bad_video(manual / "Actor_01", "02-01-03-01-01-02-01.mp4", b"")
    rc = cli.main(["run", "--dataset", "ravdess", "--manual-dir", str(manual), "--data-dir",
                   str(tmp_path / "tfds"), "--out", str(tmp_path / "run"), "--no-progress"])
    assert rc == 2
    msg = _error(capsys)
    assert "no usable example" in msg and "unreadable or truncated video" in msg


def test_unwritable_out_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    rc = cli.main(["run", "--out", str(tmp_path / "file" / "run"), "--no-progress",
                   "--caae-preset", "tiny", "--subjects", "1"])
    assert rc == 2
    assert "Not a directory" in _error(capsys)


@pytest.mark.parametrize("code,words", [(errno.EACCES, "permissions"), (errno.ENOSPC, "disk is full"),
                                        (errno.EROFS, "read-only")])
def test_os_errors_of_the_users_situation_are_explained(code, words):
    msg = errors.user_message(OSError(code, os.strerror(code), "/runs/x"))
    assert words in msg and "/runs/x" in msg


def test_bugs_keep_their_traceback():
    def bug():
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        errors.guarded(bug)


# ----------------------------------------------------------------------------- Ctrl-C

# The real `clifer run`, on a configuration small enough for a test.
SMALL = ["--caae-preset", "tiny", "--set", "synthetic.n_subjects=2", "--set", "caae_pool.identities=6",
         "--set", "synthetic.clips_per_class=2", "--set", "synthetic.frames_per_clip=3"]


@pytest.mark.slow
def test_ctrl_c_in_the_model_stage_stops_the_run(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    p = subprocess.Popen([sys.executable, "-m", "clifer_jax.cli", "run", "--out", str(out), "--no-progress",
                          *SMALL, "--order-study"],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (out / "units" / "features" / "done").exists():
        assert p.poll() is None, p.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)          # the model stage has begun
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "clifer: interrupted" in err and "run the same command to resume" in err
    assert (out / "units" / "features" / "done").exists()    # finished work kept
    assert not (out / "results.json").exists()


# ----------------------------------------------------------------------------- run folders

TINY = StudyConfig(models=("gdm",), seed=3).with_caae_preset("tiny").set(
    "synthetic.n_subjects=2", "caae_pool.identities=6", "synthetic.clips_per_class=2",
    "synthetic.frames_per_clip=3", "synthetic.seed=3")


def test_a_second_process_is_refused_while_a_run_holds_the_folder(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    held = RunLock(out)
    try:
        assert cli.main(["run", "--out", str(out), "--no-progress", "--caae-preset", "tiny"]) == 2
        assert f"is in use by process {os.getpid()}" in _error(capsys)
    finally:
        held.release()
    RunLock(out).release()          # free again once released


def test_resume_keeps_the_caae_time_and_refuses_features_of_other_data(tmp_path):
    quiet = dict(progress=False, log=lambda *_: None, max_units=0)
    study.run(TINY, tmp_path, **quiet)
    trained = json.loads((tmp_path / "timings.json").read_text())["caae"]
    study.run(TINY, tmp_path, **quiet)                # restores the CAAE
    assert json.loads((tmp_path / "timings.json").read_text())["caae"] == trained
    (tmp_path / "data.sha256").write_text("0" * 64)   # as if the dataset had changed since
    with pytest.raises(StudyError, match="features of other data"):
        study.run(TINY, tmp_path, **quiet)


def test_missing_class_message_speaks_to_cli_users(tmp_path, capsys, monkeypatch):
    import numpy as np

    from clifer_jax.data import loading
    from clifer_jax.study import data as study_data

    def incomplete(name, split, **kw):       # subject 1 lacks Neutral
        n = 12
        return loading.to_subject_arrays({
            "image": np.zeros((n, 64, 64, 1), np.uint8), "expression": np.r_[np.arange(6), np.arange(5), 0],
            "subject": np.r_[np.zeros(6, int), np.ones(6, int)], "clip": np.zeros(n, int),
            "frame": np.arange(n)})

    monkeypatch.setattr(study_data.loading, "load_subjects", incomplete)
    assert cli.main(["run", "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    msg = _error(capsys)
    assert "subject 1: Neutral" in msg and "--manual-dir" in msg
    assert "drop_incomplete" not in msg and "classes=" not in msg


def test_a_run_folder_from_before_a_new_option_still_resumes(tmp_path):
    defaults = StudyConfig().to_dict()
    old = TINY.to_dict()
    del old["allow_centre_crops"]                   # made before the option existed
    del old["mlp"]["bn_recalibrate"]                # also deeper in the tree
    (tmp_path / "config.json").write_text(json.dumps(old))
    Store(tmp_path, TINY.to_dict(), defaults)       # same run: accepted
    with pytest.raises(StudyError, match="another configuration .allow_centre_crops: False here, True asked"):
        Store(tmp_path, TINY.replace(allow_centre_crops=True).to_dict(), defaults)
