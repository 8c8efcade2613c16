"""Train-step throughput of the CAAE (images/s) for both presets, side by side.

    python -m benchmarks.caae                 # both presets, few steps (paper is slow on CPU)
    python -m benchmarks.caae --steps 20 --presets cpu

One step = one discriminator update + one encoder/generator update on a batch of
`batch_size` images (the preset's, 64 unless overridden). Compilation is excluded;
the step is timed after warm-up steps. Writes benchmarks/results/caae.json (merged with
earlier results of other devices) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax
import numpy as np

from clifer_jax.caae import config as C
from clifer_jax.caae.train import CAAEState, train_step


def device_name() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', '?')}" + (
        f" ({os.cpu_count()} cores, {platform.processor() or platform.machine()})" if d.platform == "cpu" else ""
    )


def bench(cfg: C.CAAEConfig, steps: int, warmup: int = 2) -> dict:
    rng = np.random.default_rng(0)
    b = cfg.batch_size
    x = rng.integers(0, 256, (b, *cfg.image_shape), dtype=np.uint8)
    y = rng.integers(0, cfg.num_classes, b).astype(np.int32)
    state = CAAEState.create(cfg, jax.random.key(0), steps + warmup)
    t = time.perf_counter()
    state, m = train_step(cfg, state, x, y, jax.random.key(0))
    jax.block_until_ready(m)
    compile_s = time.perf_counter() - t
    for i in range(1, warmup):
        state, m = train_step(cfg, state, x, y, jax.random.key(i))
    jax.block_until_ready(m)
    t = time.perf_counter()
    for i in range(steps):
        state, m = train_step(cfg, state, x, y, jax.random.key(100 + i))
    jax.block_until_ready(m)
    dt = (time.perf_counter() - t) / steps
    return {"preset": cfg.name, "image_shape": list(cfg.image_shape), "batch_size": b, "steps": steps,
            "step_seconds": round(dt, 4), "images_per_second": round(b / dt, 1),
            "first_call_seconds": round(compile_s, 1)}


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser()
    p.add_argument("--presets", nargs="+", default=["cpu", "paper"], choices=sorted(C.PRESETS))
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: 10 cpu, 3 paper on CPU, 50 on GPU)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--out", default="benchmarks/results/caae.json")
    args = p.parse_args(argv)
    dev = device_name()
    on_cpu = jax.default_backend() == "cpu"
    rows = []
    for name in args.presets:
        cfg = C.preset(name)
        if args.batch_size:
            cfg = cfg.replace(batch_size=args.batch_size)
        steps = args.steps or (50 if not on_cpu else (3 if name == "paper" else 10))
        r = bench(cfg, steps)
        r.update(device=dev, jax=jax.__version__)
        rows.append(r)
        print(f"  {name}: {r['images_per_second']} images/s", flush=True)
    old = []
    if os.path.isfile(args.out):
        with open(args.out) as f:
            old = [r for r in json.load(f) if not (r["device"] == dev and r["preset"] in args.presets)]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(old + rows, f, indent=2)
    print("\n| device | preset | image | batch | step (s) | images/s |\n|---|---|---|---|---|---|")
    for r in old + rows:
        print(f"| {r['device']} | {r['preset']} | {'×'.join(map(str, r['image_shape']))} | {r['batch_size']} "
              f"| {r['step_seconds']} | {r['images_per_second']} |")
    return rows


if __name__ == "__main__":
    main()
