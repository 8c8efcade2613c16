"""An a_T sweep of the GDM: one compiled grid call against separate `clifer run`-style calls.

Generated features of the synthetic default's size (benchmarks/experiment.py: 24
subjects, 6 classes, 24 training and 8 test samples per class, 50-d), the whole
six-step protocol. Three ways to run N values of the episodic a_T:

- `static`: N calls, a_T a compile-time constant (how `clifer run` worked before params
  were traced, when a_T lived in the static config: every value compiles anew). The config
  holds no numbers any more, so each value gets a fresh run function that closes over
  its `GDMParams` as Python floats and ignores the traced params argument: `jax.jit`
  traces and compiles it anew, with a_T baked into the program as a constant;
- `traced`: N calls of one run function with a_T in the traced params (one compilation);
- `grid`: one `clifer_jax.study.run_grid` call, jit(vmap(vmap)) over values x subjects.

Compile time is reported separately: the first call's time minus a repeat call's. The
grid's predictions are checked equal to the `traced` calls' (and the `static` calls'
compared with them, reported, not required: constants may fold differently). Writes
benchmarks/results/sweep.json (sweep_<tag>.json with BENCH_TAG).

    python -m benchmarks.sweep [--values 16] [--subjects 24] [--model gdm] [--skip-static]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import table, write_json
from benchmarks.experiment import generated
from clifer_jax import gdm, gwr
from clifer_jax.classes import DEFAULT_ORDER
from clifer_jax.study import grid, models


def _time(fn):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - t0, out


def baked_run(model: str, config: gdm.GDMConfig, a_t: float):
    """A run function with the episodic a_T = `a_t` baked in as a compile-time constant:
    it closes over `GDMParams` of Python floats (the run casts them while it is traced, so
    they enter the program as literals) and ignores its traced params argument. Each call
    of this function gives a new function, so `run_subjects` compiles it anew: one
    compilation per value, as when a_T lived in the static config."""
    run = models.make_run(model, config)
    fixed = gdm.GDMParams(episodic=gwr.GWRParams(activity_threshold=float(a_t)))

    def baked(key, data, order, imagine_params, params):
        del params
        return run(key, data, order, imagine_params, fixed)

    return baked


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--values", type=int, default=16, help="a_T values (grid points)")
    p.add_argument("--subjects", type=int, default=24)
    p.add_argument("--model", default="gdm", choices=list(models.GDM_MODELS[:2]))
    p.add_argument("--skip-static", action="store_true", help="skip the recompiling baseline")
    args = p.parse_args(argv)

    data = generated(args.subjects)
    cfg = gdm.GDMConfig(dim=50, capacity=6 * 24)
    values = np.round(np.linspace(0.1, 0.85, args.values), 4).tolist()
    key = models.model_key(0, args.model)
    base = gdm.GDMParams().cast(cfg.dtype)           # the reference memories' numbers, as arrays

    def params_of(a):
        return base.replace(episodic=base.episodic.replace(activity_threshold=jnp.asarray(a, cfg.dtype)))

    rows = []
    # one grid call: first call compiles and runs, the repeat only runs
    run = models.make_run(args.model, cfg)
    stacked = grid.stack([params_of(a) for a in values])
    keys = grid.point_keys(key, len(values), args.subjects)
    orders = np.tile(np.asarray(DEFAULT_ORDER, np.int32), (len(values), 1))
    first, grid_out = _time(lambda: grid.run_grid(run, keys, data, orders, None, stacked))
    again, _ = _time(lambda: grid.run_grid(run, keys, data, orders, None, stacked))
    rows.append(dict(way="grid (1 call)", calls=1, total_s=first, compile_s=first - again, run_s=again))
    print(f"grid: {first:.1f} s first call, {again:.1f} s repeat", flush=True)

    # separate calls, traced params: compiled once
    run2 = models.make_run(args.model, cfg)           # a fresh function: compiled anew, once
    times, outs = [], []
    for a in values:
        t, out = _time(lambda: models.run_subjects(run2, key, data, DEFAULT_ORDER, params=params_of(a)))
        times.append(t)
        outs.append(out)
    repeat, _ = _time(lambda: models.run_subjects(run2, key, data, DEFAULT_ORDER, params=params_of(values[0])))
    rows.append(dict(way="traced (N calls)", calls=len(values), total_s=sum(times),
                     compile_s=times[0] - repeat, run_s=sum(times) - (times[0] - repeat)))
    print(f"traced: {sum(times):.1f} s for {len(values)} calls", flush=True)
    equal = all(np.array_equal(grid_out[m][i], outs[i][m]) for i in range(len(values))
                for m in ("episodic", "semantic"))

    static_equal = None
    if not args.skip_static:
        times, static_outs = [], []
        for a in values:
            r = baked_run(args.model, cfg, a)              # a_T a constant: compiles anew
            t, out = _time(lambda: models.run_subjects(r, key, data, DEFAULT_ORDER))
            times.append(t)
            static_outs.append(out)
        repeat, _ = _time(lambda: models.run_subjects(r, key, data, DEFAULT_ORDER))   # the last one, compiled
        run_s = repeat * len(values)
        rows.append(dict(way="static (N calls)", calls=len(values), total_s=sum(times),
                         compile_s=sum(times) - run_s, run_s=run_s))
        print(f"static: {sum(times):.1f} s for {len(values)} calls", flush=True)
        static_equal = all(np.array_equal(static_outs[i][m], outs[i][m]) for i in range(len(values))
                           for m in ("episodic", "semantic"))

    for r in rows:
        r["time_vs_grid"] = r["total_s"] / rows[0]["total_s"]
    print()
    print(table(rows, ["way", "calls", "total_s", "compile_s", "run_s", "time_vs_grid"]))
    print(f"grid predictions equal the separate traced calls': {equal}")
    if static_equal is not None:
        print(f"static (a_T a constant) predictions equal the traced calls': {static_equal}")
    path = write_json("sweep", {"rows": rows, "values": values, "subjects": args.subjects,
                                "model": args.model, "grid_equals_separate": equal,
                                "static_equals_traced": static_equal})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
