"""Train-step throughput of the CAAE (images/s) for both presets, side by side.

    python -m benchmarks.caae                 # both presets, few steps (paper is slow on CPU)
    python -m benchmarks.caae --steps 20 --presets cpu
    python -m benchmarks.caae --presets cpu --variants tv_weight=0.01 \
        tv_weight=0.01+latent_class_weight=0.1     # options of the cpu preset, side by side with it

One step = one discriminator update + one encoder/generator update on a batch of
`batch_size` images (the preset's, 64 unless overridden). Compilation is excluded;
the step is timed after warm-up steps. Writes benchmarks/results/caae.json (merged with
earlier results of other devices) and prints a table. `--variants` times variants of the
first preset (CAAEConfig fields, '+'-separated, each FIELD=VALUE read by
`config_tree.set_path`) beside it, in turn over `--rounds` rounds
(the median of each; a machine whose speed drifts shifts all of them alike), and prints
each one's step time as a ratio to the plain preset's (the median of the rounds' ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax
import numpy as np

from clifer_jax import config_tree
from clifer_jax.caae import config as C
from clifer_jax.caae.train import CAAEState, train_step


def device_name() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', '?')}" + (
        f" ({os.cpu_count()} cores, {platform.processor() or platform.machine()})" if d.platform == "cpu" else ""
    )


class _Stepper:
    """One config's train step on a fixed random batch, compiled and warmed up once, then
    timed in rounds (so several configs can be timed in turn, round-robin)."""

    def __init__(self, cfg: C.CAAEConfig, total_steps: int, warmup: int = 2):
        rng = np.random.default_rng(0)
        self.cfg, b = cfg, cfg.batch_size
        self.x = rng.integers(0, 256, (b, *cfg.image_shape), dtype=np.uint8)
        self.y = rng.integers(0, cfg.num_classes, b).astype(np.int32)
        self.state = CAAEState.create(cfg, jax.random.key(0), total_steps + warmup)
        self.count = 0
        t = time.perf_counter()
        self.run(1)
        self.first_call_seconds = time.perf_counter() - t
        self.run(warmup - 1)

    def run(self, steps: int) -> float:
        """Seconds per step over `steps` steps (with 0 steps, the time of waiting on nothing)."""
        t = time.perf_counter()
        m = None
        for _ in range(steps):
            self.state, m = train_step(self.cfg, self.state, self.x, self.y, jax.random.key(self.count))
            self.count += 1
        jax.block_until_ready(m)
        return (time.perf_counter() - t) / max(steps, 1)


def bench_round_robin(cfgs: list[C.CAAEConfig], steps: int, rounds: int = 1) -> list[dict]:
    """Time each config `rounds` times, `steps` steps a time, the configs in turn, and report
    each one's median step time: a machine that slows down or speeds up during the run
    then shifts every config alike instead of the ones that ran at the time."""
    steppers = [_Stepper(cfg, steps * rounds) for cfg in cfgs]
    times = [[] for _ in cfgs]
    for _ in range(rounds):
        for t, s in zip(times, steppers):
            t.append(s.run(steps))
    rows = []
    for cfg, s, t in zip(cfgs, steppers, times):
        dt = float(np.median(t))
        rows.append({"preset": cfg.name, "image_shape": list(cfg.image_shape), "batch_size": cfg.batch_size,
                     "steps": steps, "rounds": rounds, "step_seconds": round(dt, 4),
                     "step_seconds_rounds": [round(v, 6) for v in t],
                     "images_per_second": round(cfg.batch_size / dt, 1),
                     "first_call_seconds": round(s.first_call_seconds, 1)})
    return rows


def bench(cfg: C.CAAEConfig, steps: int) -> dict:
    """One config: seconds per step over `steps` steps after compilation and warm-up."""
    return bench_round_robin([cfg], steps, rounds=1)[0]


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser()
    p.add_argument("--presets", nargs="+", default=["cpu", "paper"], choices=sorted(C.PRESETS))
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: 10 cpu, 3 paper on CPU, 50 on GPU)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--variants", nargs="+", default=[], metavar="FIELD=VALUE[+FIELD=VALUE]",
                   help="variants of the first preset timed beside it, e.g. tv_weight=0.01+latent_class_weight=0.1")
    p.add_argument("--rounds", type=int, default=5,
                   help="with --variants: timings of each config, taken in turn (the median is reported)")
    p.add_argument("--out", default="benchmarks/results/caae.json")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error(f"--rounds must be >= 1, got {args.rounds}")
    base = C.preset(args.presets[0])
    variants = []
    for text in args.variants:   # parsed before anything runs: a typo fails at once
        try:
            variants.append((text, config_tree.apply_sets(base, text.split("+"))))
        except ValueError as e:
            p.error(f"--variants: {e}")
    dev = device_name()
    on_cpu = jax.default_backend() == "cpu"
    rows = []
    for name in args.presets:
        cfg = C.preset(name)
        if args.batch_size:
            cfg = cfg.replace(batch_size=args.batch_size)
        steps = args.steps or (50 if not on_cpu else (3 if name == "paper" else 10))
        if name == args.presets[0] and variants:   # the preset and its variants, in turn
            cfgs = [cfg] + [v.replace(batch_size=cfg.batch_size) for _, v in variants]
            group = bench_round_robin(cfgs, steps, args.rounds)
            for r, label in zip(group, [name] + [f"{name}+{text}" for text, _ in variants]):
                r["preset"] = label
            base_rounds = np.array(group[0]["step_seconds_rounds"])
            for r in group[1:]:   # paired by round: the median of the per-round ratios
                r["step_ratio_to_preset"] = round(float(np.median(np.array(r["step_seconds_rounds"]) / base_rounds)), 3)
        else:
            group = [bench(cfg, steps)]
        for r in group:
            r.update(device=dev, jax=jax.__version__)
            rows.append(r)
            print(f"  {r['preset']}: {r['images_per_second']} images/s"
                  + (f" (step × {r['step_ratio_to_preset']} the preset's)" if "step_ratio_to_preset" in r else ""),
                  flush=True)
    names = {r["preset"] for r in rows}
    old = []
    if os.path.isfile(args.out):
        with open(args.out) as f:
            old = [r for r in json.load(f) if not (r["device"] == dev and r["preset"] in names)]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(old + rows, f, indent=2)
    print("\n| device | preset | image | batch | step (s) | images/s | step / preset's |\n|---|---|---|---|---|---|---|")
    for r in old + rows:
        print(f"| {r['device']} | {r['preset']} | {'×'.join(map(str, r['image_shape']))} | {r['batch_size']} "
              f"| {r['step_seconds']} | {r['images_per_second']} | {r.get('step_ratio_to_preset', '')} |")
    return rows


if __name__ == "__main__":
    main()
