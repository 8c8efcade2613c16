"""Shared helpers of the benchmarks: timing, device description, JSON output, tables."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import jax

# BENCH_OUT redirects every benchmark's JSON (benchmarks/run_all.py uses it).
RESULTS = Path(os.environ.get("BENCH_OUT") or Path(__file__).resolve().parent / "results")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # the NumPy references


def device_info() -> dict:
    d = jax.devices()[0]
    return {
        "backend": jax.default_backend(),
        "device": getattr(d, "device_kind", str(d)),
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def best_alternating(runs: dict, repeat: int) -> dict:
    """Best wall time of each zero-argument callable in `runs`, the callables taking turns
    `repeat` times (a fair ratio on a busy machine: load hits every case alike)."""
    best = {k: float("inf") for k in runs}
    for _ in range(repeat):
        for k, run in runs.items():
            t0 = time.perf_counter()
            run()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def timed(fn, *args, repeat: int = 3) -> float:
    """Best wall time of fn(*args) over `repeat` runs, blocking on the result."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = os.environ.get("BENCH_TAG")
    path = RESULTS / (f"{name}_{tag}.json" if tag else f"{name}.json")
    path.write_text(json.dumps({"device": device_info(), **payload}, indent=2))
    return path


def table(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.3g}"
        return str(v)
    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "| " + " | ".join(v.rjust(w) for v, w in zip(vals, widths)) + " |"
    out = [line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line(r) for r in cells])


def reference_kwargs(config, params) -> dict:
    """Keywords of the NumPy reference (`tests/gwr_reference.ReferenceGWR`) for one memory:
    its static `GWRConfig` fields and its `GWRParams` numbers as Python numbers. The
    config's `max_degree` goes too: the reference bounds a node's edges and temporal
    successors as the kernel's lists do (docs/gwr.md, "Topology"), so both build the same
    network."""
    import dataclasses

    import numpy as np

    numbers = {f.name: np.asarray(getattr(params, f.name)).item() for f in dataclasses.fields(params)}
    return {**{f: getattr(config, f) for f in config.__dataclass_fields__}, **numbers}

