"""Beyond one device: the CAAE's data-parallel step on 1, 2 and 4 devices, and a sweep on
one process against two (docs/scaling.md, "Several hosts").

    python -m benchmarks.hosts                       # both parts (CPU: virtual host devices)
    python -m benchmarks.hosts --part caae --preset cpu --steps 20
    python -m benchmarks.hosts --part sweep

caae: one process with 4 devices (on a CPU, `--xla_force_host_platform_device_count=4`;
on a GPU machine, its GPUs) times `caae.train.parallel_train_step` with the batch split
over the first 1, 2 and 4 devices (1: the plain `train_step`), the meshes taking turns
round by round; compilation excluded. sweep: `clifer sweep` (the tiny CAAE, restored from
a store trained first) as 1 process × 1 device, 1 process × 2 devices and 2 processes × 1
device joined over localhost, wall time of the whole command, the cases taking turns.
Ratios are to the first case of each part. Writes benchmarks/results/hosts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CAAE_CHILD = """
import json, sys, time
import jax, numpy as np
from clifer_jax import sharding
from clifer_jax.caae import config as C
from clifer_jax.caae.train import CAAEState, parallel_train_step, train_step
preset, steps, rounds, counts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
cfg = getattr(C, preset)()
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (cfg.batch_size, *cfg.image_shape), dtype=np.uint8)
y = rng.integers(0, cfg.num_classes, cfg.batch_size).astype(np.int32)
cases = {}
for n in counts:
    state = CAAEState.create(cfg, jax.random.key(0), 10_000)
    if n == 1:
        cases[n] = [train_step, state, x, y, jax.random.key(1)]
    else:
        mesh = sharding.subject_mesh(n, axis="batch")
        cases[n] = [parallel_train_step(mesh), sharding.replicate(state, mesh), *sharding.split((x, y), mesh),
                    sharding.replicate(jax.random.key(1), mesh)]
    for _ in range(2):                                   # compile, warm up
        fn, st, xb, yb, k = cases[n]
        st, m = fn(cfg, st, xb, yb, k)
        jax.block_until_ready(m)
        cases[n][1] = st
best = {n: float("inf") for n in counts}
for _ in range(rounds):
    for n in counts:
        fn, st, xb, yb, k = cases[n]
        t0 = time.perf_counter()
        for _ in range(steps):
            st, m = fn(cfg, st, xb, yb, k)
        jax.block_until_ready(m)
        best[n] = min(best[n], (time.perf_counter() - t0) / steps)
        cases[n][1] = st
print("RESULT", json.dumps({"step_s": best, "batch": cfg.batch_size,
                            "device": getattr(jax.devices()[0], "device_kind", str(jax.devices()[0]))}))
"""

TINY = ["--caae-preset", "tiny", "--seed", "3", "--no-progress", "--models", "gdm", "clifer",
        "--set", "synthetic.n_subjects=8", "--set", "caae_pool.identities=6",
        "--set", "synthetic.clips_per_class=2", "--set", "synthetic.frames_per_clip=3",
        "--grid", "gdm_params.episodic.activity_threshold=0.2,0.3,0.4,0.5"]


def _env(devices: int | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", XLA_PYTHON_CLIENT_PREALLOCATE="false")
    if devices is not None:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def caae_part(preset: str, steps: int, rounds: int, counts: list[int], cpu: bool) -> dict:
    proc = subprocess.run([sys.executable, "-c", CAAE_CHILD, preset, str(steps), str(rounds), json.dumps(counts)],
                          cwd=ROOT, env=_env(max(counts) if cpu else None), capture_output=True, text=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not line:
        raise SystemExit(f"the CAAE benchmark failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    out = json.loads(line[0][len("RESULT "):])
    base = out["step_s"][str(counts[0])]
    rows = [{"devices": int(n), "step_ms": 1e3 * t, "images_per_s": out["batch"] / t, "speedup": base / t}
            for n, t in out["step_s"].items()]
    return {"preset": preset, "batch": out["batch"], "device": out["device"], "rows": rows}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def _sweep(case: str, out: Path, store: Path) -> float:
    argv = [sys.executable, "-m", "clifer_jax.cli", "sweep", *TINY, "--out", str(out), "--caae-store", str(store)]
    t0 = time.perf_counter()
    if case == "2 processes x 1 device":
        port = _port()
        procs = [subprocess.Popen(argv + ["--coordinator", f"localhost:{port}", "--num-processes", "2",
                                          "--process-id", str(i)], cwd=ROOT, env=_env(1),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
        results = [p.communicate() + (p.returncode,) for p in procs]
    else:
        devices = 2 if case == "1 process x 2 devices" else 1
        p = subprocess.run(argv + (["--devices", "2"] if devices == 2 else []), cwd=ROOT, env=_env(devices),
                           capture_output=True, text=True)
        results = [(p.stdout, p.stderr, p.returncode)]
    wall = time.perf_counter() - t0
    for o, e, rc in results:
        if rc:
            raise SystemExit(f"sweep ({case}) failed:\n{o[-1500:]}\n{e[-2500:]}")
    return wall


def sweep_part(rounds: int) -> dict:
    cases = ["1 process x 1 device", "1 process x 2 devices", "2 processes x 1 device"]
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        subprocess.run([sys.executable, "-m", "clifer_jax.cli", "caae", "train", *TINY[:-2], "--caae-store",
                        str(store)], cwd=ROOT, env=_env(1), check=True, capture_output=True)
        best = {c: float("inf") for c in cases}
        for r in range(rounds):
            for i, c in enumerate(cases):
                best[c] = min(best[c], _sweep(c, Path(tmp) / f"sweep{r}_{i}", store))
    base = best[cases[0]]
    return {"points": 4, "subjects": 8, "rows": [{"case": c, "wall_s": t, "speedup": base / t} for c, t in best.items()]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=["caae", "sweep", "all"], default="all")
    p.add_argument("--preset", default="cpu", help="CAAE preset of the step benchmark (cpu, paper, tiny)")
    p.add_argument("--steps", type=int, default=10, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--gpu", action="store_true", help="use the machine's own devices (no virtual CPU devices)")
    args = p.parse_args(argv)
    from benchmarks.common import table, write_json

    payload = {}
    if args.part in ("caae", "all"):
        payload["caae"] = caae_part(args.preset, args.steps, args.rounds, sorted(args.devices), not args.gpu)
        print(f"CAAE step ({args.preset}, batch {payload['caae']['batch']}, {payload['caae']['device']}):")
        print(table(payload["caae"]["rows"], ["devices", "step_ms", "images_per_s", "speedup"]))
    if args.part in ("sweep", "all"):
        payload["sweep"] = sweep_part(args.rounds)
        print("clifer sweep (tiny CAAE restored, 4 points x 8 subjects, gdm + clifer), whole command:")
        print(table(payload["sweep"]["rows"], ["case", "wall_s", "speedup"]))
    payload["os_cpu_count"] = os.cpu_count()
    print("wrote", write_json("hosts", payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
