"""The CAAE store (`clifer_jax.caae.store`, docs/caae.md "The CAAE store"): a CAAE trained once
per fingerprint and reused by every run, sweep and `clifer caae` command that needs it."""

import json
import os

import pytest

from clifer_jax import cli
from clifer_jax.caae import config as C
from clifer_jax.caae import store

pytestmark = pytest.mark.filterwarnings("ignore")

SMALL = ["--caae-preset", "tiny", "--no-progress", "--models", "gdm", "--set", "synthetic.n_subjects=2",
         "--set", "caae_pool.identities=6", "--set", "synthetic.clips_per_class=2",
         "--set", "synthetic.frames_per_clip=3"]


def test_entry_names_follow_config_pool_and_seed():
    cfg = C.PRESETS["tiny"]()
    name = store.entry_name(cfg, "ab" * 32, 0)
    assert name.startswith("tiny-seed0-") and len(name.split("-")[-1]) == 12
    assert store.entry_name(cfg, "ab" * 32, 0) == name
    others = {store.entry_name(cfg, "ab" * 32, 1), store.entry_name(cfg, "cd" * 32, 0),
              store.entry_name(cfg.replace(epochs=cfg.epochs + 1), "ab" * 32, 0)}
    assert name not in others and len(others) == 3


def test_default_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(store.ENV, str(tmp_path / "s"))
    assert store.default_root() == tmp_path / "s"
    monkeypatch.delenv(store.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert store.default_root() == tmp_path / "cache" / "clifer-jax" / "caae"


def test_a_second_run_reuses_the_stored_caae_and_records_it(tmp_path, capsys):
    root = tmp_path / "store"
    first, second = tmp_path / "a", tmp_path / "b"
    assert cli.main(["run", *SMALL, "--caae-store", str(root), "--out", str(first)]) == 0
    out = capsys.readouterr().out
    assert "CAAE: training tiny (seed 0) into the store" in out
    [entry] = store.entries(root)
    assert entry.done and entry.preset == "tiny" and entry.epochs_done == entry.epochs
    assert cli.main(["run", *SMALL, "--caae-store", str(root), "--out", str(second)]) == 0
    out = capsys.readouterr().out
    assert f"CAAE: reusing the stored {entry.name}" in out and "CAAE: training" not in out
    for run in (first, second):
        record = json.loads((run / "caae.json").read_text())["caae"]
        assert record["source"] == "store" and record["path"] == str(entry.path)
        assert record["fingerprint"].startswith(entry.name.split("-")[-1])
        assert (run / "caae").is_symlink() and os.path.samefile(run / "caae", entry.path)
    a = json.loads((first / "results.json").read_text())["models"]
    b = json.loads((second / "results.json").read_text())["models"]
    assert a == b
    # --caae-dir still names a folder holding a finished CAAE: a run's `caae` link is one.
    assert cli.main(["sweep", *SMALL, "--grid", "gdm_params.episodic.activity_threshold=0.3,0.6",
                     "--caae-dir", str(first / "caae"), "--caae-store", str(root / "unused"),
                     "--out", str(tmp_path / "sw")]) == 0
    assert not (root / "unused").exists()
    assert json.loads((tmp_path / "sw" / "caae.json").read_text())["caae"]["source"] == "caae-dir"


def test_no_caae_store_trains_in_the_run_folder(tmp_path, capsys):
    root = tmp_path / "store"
    assert cli.main(["run", *SMALL, "--caae-store", str(root), "--no-caae-store", "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "caae").is_dir() and not (tmp_path / "r" / "caae").is_symlink()
    assert store.entries(root) == []
    assert json.loads((tmp_path / "r" / "caae.json").read_text())["caae"]["source"] == "run folder"


def test_caae_command_trains_lists_and_removes(tmp_path, capsys):
    root = str(tmp_path / "store")
    assert cli.main(["caae", "list", "--caae-store", root]) == 0
    assert "no stored CAAEs" in capsys.readouterr().out
    assert cli.main(["caae", "train", *SMALL, "--caae-store", root]) == 0
    assert "CAAE: training tiny" in capsys.readouterr().out
    assert cli.main(["caae", "train", *SMALL, "--caae-store", root]) == 0
    assert "CAAE: reusing the stored tiny-seed0-" in capsys.readouterr().out
    assert cli.main(["caae", "list", "--caae-store", root]) == 0
    listing = capsys.readouterr().out
    [entry] = store.entries(root)
    assert entry.name in listing and "tiny" in listing
    assert cli.main(["caae", "remove", "nothing-here", "--caae-store", root]) == 2
    assert "no stored CAAE named nothing-here" in capsys.readouterr().err
    assert store.entries(root) == [entry]                      # nothing deleted on an error
    assert cli.main(["caae", "remove", entry.name, "--caae-store", root]) == 0
    assert store.entries(root) == [] and not entry.path.exists()
