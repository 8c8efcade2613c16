"""Several processes (`clifer_jax.hosts`, docs/scaling.md): `clifer run` and `clifer sweep`
as 2 local processes × 2 CPU devices (`jax.distributed` over localhost) give the
one-process figures, only process 0 writes, a killed process ends the other with an
error and the re-run resumes; the CAAE trained data-parallel over 1, 2 and 4 devices.

The multi-process runs are end-to-end and marked slow (`python -m pytest -q -m slow`);
the follower's store, the launcher detection and the flags are checked in-process."""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from clifer_jax import cli, hosts
from clifer_jax.study.store import Store

ROOT = Path(__file__).resolve().parents[1]

TINY = ["--caae-preset", "tiny", "--seed", "3", "--no-progress", "--models", "gdm", "clifer",
        "--set", "synthetic.n_subjects=4", "--set", "caae_pool.identities=6",
        "--set", "synthetic.clips_per_class=2", "--set", "synthetic.frames_per_clip=3"]

# Runs `clifer` with an audit hook that records every write-like file operation under the
# watched folders (argv[1]: a JSON list of them) and dumps the list at exit (argv[2]).
WATCHED = textwrap.dedent("""
    import atexit, json, os, sys
    watched, report = json.loads(sys.argv[1]), sys.argv[2]
    writes = []
    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    EVENTS = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.symlink",
              "os.link", "os.truncate", "shutil.rmtree", "shutil.move", "shutil.copyfile"}

    def under(path):
        try:
            p = os.path.abspath(os.fsdecode(path))
        except TypeError:
            return False
        return any(p == w or p.startswith(w + os.sep) for w in watched)

    def hook(event, args):
        if event == "open" and args and under(args[0]):
            mode, flags = args[1], args[2]
            if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                    mode is None and isinstance(flags, int) and flags & WRITE_FLAGS):
                writes.append([event, os.fsdecode(args[0])])
        elif event in EVENTS and args and any(under(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))):
            writes.append([event, str(args[0])])

    sys.addaudithook(hook)
    atexit.register(lambda: open(report, "w").write(json.dumps(writes)))
    from clifer_jax.cli import main
    sys.exit(main(sys.argv[3:]))
""")


def _env(devices: int) -> dict:
    return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
                JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def _one_process(argv, devices=1):
    proc = subprocess.run([sys.executable, "-m", "clifer_jax.cli", *argv], cwd=ROOT, env=_env(devices),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _start_two(argv, watched, reports, heartbeat=20):
    port = _port()
    return [subprocess.Popen(
        [sys.executable, "-c", WATCHED, json.dumps([str(Path(w).resolve()) for w in watched]), str(reports[i]),
         *argv, "--coordinator", f"localhost:{port}", "--num-processes", "2", "--process-id", str(i),
         "--heartbeat-timeout", str(heartbeat)],
        cwd=ROOT, env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]


def _finish(procs, timeout=900):
    logs = [p.communicate(timeout=timeout) for p in procs]
    for p, (out, err) in zip(procs, logs):
        assert p.returncode == 0, out[-3000:] + err[-3000:]
    return logs


def _same_figures(a, b, path=""):
    """Equal except float noise in the last digits: the CAAE trained over 4 devices sums its
    gradients in another order, so features (and the difficulty ratios measured on them)
    differ by ~1e-6; every score, count and label must be equal exactly."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))}"
        for k in a:
            if k not in ("timings_s", "config"):
                _same_figures(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same_figures(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and path.startswith("/difficulty"):
        assert math.isclose(a, b, rel_tol=1e-4) or (math.isnan(a) and math.isnan(b)), (path, a, b)
    else:
        assert a == b or (a != a and b != b), (path, a, b)


@pytest.mark.slow
def test_two_processes_run_and_sweep_give_the_one_process_figures(tmp_path):
    store = tmp_path / "store"
    one, two = tmp_path / "one", tmp_path / "two"
    t0 = time.perf_counter()
    _one_process(["run", *TINY, "--out", str(one), "--caae-store", str(tmp_path / "store1")])
    t_one = time.perf_counter() - t0
    reports = [tmp_path / f"writes{i}.json" for i in range(2)]
    t0 = time.perf_counter()
    logs = _finish(_start_two(["run", *TINY, "--out", str(two), "--caae-store", str(store)],
                              [two, store], reports))
    t_two = time.perf_counter() - t0
    _same_figures(json.loads((one / "results.json").read_text()), json.loads((two / "results.json").read_text()))
    writes = [json.loads(r.read_text()) for r in reports]
    assert writes[1] == [], f"process 1 wrote {writes[1][:5]}"
    written = {Path(p).name for _, p in writes[0]}
    assert {"results.json.tmp", "report.md", "config.json"} <= written, sorted(written)[:20]
    assert "writes /" in logs[0][1] and "writes nothing" in logs[1][1]
    # the follower prints nothing of its own (on CPUs the Gloo collectives log their connections)
    assert "wrote" in logs[0][0]
    assert [ln for ln in logs[1][0].splitlines() if ln.strip() and not ln.startswith("[Gloo]")] == []

    # the sweep (development subjects), the CAAE restored from the store on both processes
    grid = ["--grid", "gdm_params.episodic.activity_threshold=0.2,0.4"]
    _one_process(["sweep", *TINY, *grid, "--out", str(tmp_path / "s1"), "--caae-store", str(tmp_path / "store1")])
    _finish(_start_two(["sweep", *TINY, *grid, "--out", str(tmp_path / "s2"), "--caae-store", str(store)],
                       [tmp_path / "s2", store], reports))
    a, b = (json.loads((tmp_path / s / "sweep.json").read_text()) for s in ("s1", "s2"))
    assert a["rows"] == b["rows"] and a["paired"] == b["paired"]
    assert json.loads(reports[1].read_text()) == []
    print(f"one process {t_one:.0f} s, two processes {t_two:.0f} s")


@pytest.mark.slow
def test_a_killed_process_ends_the_other_and_the_rerun_resumes(tmp_path):
    out, store = tmp_path / "run", tmp_path / "store"
    argv = ["run", *TINY, "--out", str(out), "--caae-store", str(store)]
    reports = [tmp_path / f"w{i}.json" for i in range(2)]
    procs = _start_two(argv, [out, store], reports, heartbeat=5)
    deadline = time.time() + 600
    while not list((out / "units").glob("*/done")) and time.time() < deadline:   # the features saved
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.5)
    procs[1].send_signal(signal.SIGKILL)
    killed_at = time.time()
    _, err = procs[0].communicate(timeout=120)
    assert procs[0].returncode != 0
    waited = time.time() - killed_at
    assert waited < 60, f"process 0 took {waited:.0f} s to stop"
    assert "unhealthy" in err or "heartbeat" in err or "stopped" in err, err[-2000:]
    finished = {p.parent.name for p in (out / "units").glob("*/done")}
    assert finished and not (out / "results.json").exists()
    procs[1].communicate()

    _finish(_start_two(argv, [out, store], reports))                   # the same command resumes
    assert (out / "results.json").is_file()
    ref = tmp_path / "ref"
    _one_process(["run", *TINY, "--out", str(ref), "--caae-store", str(store)])
    _same_figures(json.loads((ref / "results.json").read_text()), json.loads((out / "results.json").read_text()))


def test_a_follower_writes_nothing_and_keeps_its_units_in_memory(tmp_path):
    writer = Store(tmp_path / "run", {"a": 1})
    writer.save("old", {"x": np.arange(3)})
    before = sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    follower = Store(tmp_path / "run", {"a": 1}, follow=set(writer.finished()))
    assert not follower.writer and follower.has("old") and not follower.has("new")
    np.testing.assert_array_equal(follower.load("old")["x"], np.arange(3))     # read from the folder
    follower.save("new", {"y": np.ones(2)})
    assert follower.has("new") and not writer.has("new")
    np.testing.assert_array_equal(follower.load("new")["y"], np.ones(2))       # from memory
    assert follower.timed("t", lambda: 5) == 5
    follower.write_json("results.json", {"b": 2})
    follower.check_same_data("abc")
    after = sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    assert after == before


@pytest.mark.parametrize("env, expected", [
    ({"SLURM_NTASKS": "4", "SLURM_STEP_ID": "0"}, "SLURM"),
    ({"SLURM_NTASKS": "4"}, None),                          # an sbatch script, not an srun step
    ({"SLURM_NTASKS": "1", "SLURM_STEP_ID": "0"}, None),
    ({"OMPI_COMM_WORLD_SIZE": "2"}, "Open MPI"),
    ({"TPU_WORKER_HOSTNAMES": "t0,t1"}, "TPU pod"),
    ({"TPU_WORKER_HOSTNAMES": "t0"}, None),
    ({}, None),
])
def test_the_launcher_is_detected_from_the_environment(monkeypatch, env, expected):
    for k in ("SLURM_NTASKS", "SLURM_STEP_ID", "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert hosts.cluster_launch() == expected


def test_joining_by_hand_needs_all_three_flags(tmp_path, capsys):
    assert cli.main(["run", "--coordinator", "localhost:1234", "--out", str(tmp_path / "x")]) == 2
    assert "--coordinator, --num-processes and --process-id together" in capsys.readouterr().err
    assert cli.main(["run", "--coordinator", "localhost:1234", "--num-processes", "2", "--process-id", "2",
                     "--out", str(tmp_path / "x")]) == 2
    assert "--process-id must be in 0..1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_process_that_cannot_join_stops_within_the_join_timeout(tmp_path):
    """Process 1 of 2 with no process 0: it says what it waits for, and JAX ends it when the
    join timeout passes (its own fatal error, DEADLINE_EXCEEDED); nothing is written."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "clifer_jax.cli", "run", "--out", str(tmp_path / "x"),
                           "--coordinator", f"localhost:{_port()}", "--num-processes", "2", "--process-id", "1",
                           "--join-timeout", "3"], cwd=ROOT, env=_env(1), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert time.perf_counter() - t0 < 60
    assert "waiting up to 3 s for every process (--join-timeout)" in proc.stderr
    assert "DEADLINE_EXCEEDED" in proc.stderr or "could not join" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "x").exists()


CAAE_SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    assert jax.device_count() == 4
    from clifer_jax import sharding
    from clifer_jax.caae import config, train
    cfg = config.tiny().replace(batch_size=8, epochs=1)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (48, cfg.image_size, cfg.image_size, cfg.channels), dtype=np.uint8)
    labels = np.tile(np.arange(6), 8)
    out = {}
    for n in (1, 2, 4):
        mesh = None if n == 1 else sharding.subject_mesh(n, axis="batch")
        state, hist = train.train(cfg, images, labels, seed=1, progress=False, mesh=mesh)
        out[n] = (jax.tree.leaves(state.ae_params), hist)
    # E, G and the latent head (what CLIFER uses). Not the discriminators: the gradient of
    # a bias that batch norm follows is exactly 0, and Adam turns its float noise into
    # +-lr steps that the batch norm cancels.
    for n in (2, 4):
        assert len(out[n][0]) == len(out[1][0])
        err = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(out[1][0], out[n][0]))
        assert err < 1e-4, (n, err)
        for k, v in out[1][1][-1].items():
            assert abs(v - out[n][1][-1][k]) < 1e-3 * max(1.0, abs(v)), (n, k, v, out[n][1][-1][k])
        print("DEVICES", n, "max parameter difference", err)
    try:
        train.train(cfg.replace(batch_size=6), images, labels, mesh=sharding.subject_mesh(4, axis="batch"))
    except ValueError as e:
        assert "not a multiple" in str(e)
    else:
        raise AssertionError("batch 6 over 4 devices was accepted")
    print("CAAE_PARALLEL_OK")
""")


@pytest.mark.slow
def test_caae_trained_data_parallel_equals_one_device():
    proc = subprocess.run([sys.executable, "-c", CAAE_SCRIPT], cwd=ROOT, env=_env(4), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and "CAAE_PARALLEL_OK" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
