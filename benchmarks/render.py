"""Rendering speed of the synthetic face renderer and of generating whole datasets.

Prints a table and writes benchmarks/results/render.json. Throughput is measured after
the first call (which compiles the jitted drawing kernel; its time is reported apart).

    python -m benchmarks.render            # full grid
    python -m benchmarks.render --quick    # fewer sizes
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import table, write_json
from clifer_jax.data import synthetic


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def render_row(batch: int, size: int, nuisance: bool, repeat: int) -> dict:
    ids = synthetic.sample_identities(0, 24).take(np.arange(batch) % 24)
    rng = np.random.default_rng(0)
    aus = synthetic.PROTOTYPES[rng.integers(0, 6, batch)] * rng.uniform(0.5, 1, (batch, 1))
    nui = synthetic.sample_nuisance(rng, (batch,)) if nuisance else None
    call = lambda: synthetic.render(ids, aus, nui, size)  # noqa: E731
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    sec = _best(call, repeat)
    return {"what": "render", "size": size, "batch": batch, "nuisance": nuisance,
            "images_per_s": batch / sec, "seconds": sec, "first_call_s": first}


def generate_row(pool: str, repeat: int) -> dict:
    cfg = synthetic.SyntheticConfig()
    t0 = time.perf_counter()
    data = synthetic.generate(cfg, pool)
    first = time.perf_counter() - t0
    sec = _best(lambda: synthetic.generate(cfg, pool), repeat)
    n = len(data["image"])
    return {"what": f"generate({pool})", "size": cfg.image_size, "batch": n, "nuisance": True,
            "images_per_s": n / sec, "seconds": sec, "first_call_s": first}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    grid = [(256, 64, False), (4096, 64, False), (4096, 64, True)]
    if not args.quick:
        grid += [(1024, 96, True), (1024, 128, True)]
    rows = [render_row(b, s, n, args.repeat) for b, s, n in grid]
    rows += [generate_row("eval", args.repeat), generate_row("train", args.repeat)]
    cols = ["what", "size", "batch", "nuisance", "images_per_s", "seconds", "first_call_s"]
    print(table(rows, cols))
    path = write_json("render", {"target_images_per_s": 1000, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
