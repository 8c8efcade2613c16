"""Vmapped Gamma-GWR training, the kernel of another revision beside this one, in one
process, alternating (a fair ratio on a busy machine). The other revision's package is
imported under another name; prepare it with

    mkdir -p /tmp/ab && git archive REV clifer_jax | tar -x -C /tmp/ab
    mv /tmp/ab/clifer_jax /tmp/ab/clifer_jax_before
    grep -rl clifer_jax /tmp/ab/clifer_jax_before | xargs sed -i 's/clifer_jax/clifer_jax_before/g'
    PYTHONPATH=$PWD:/tmp/ab python -m benchmarks.vmap_ab [--networks 1 64]

As the scaling study's networks sweep: one training call of `--steps` samples per network,
N = 256, D = 50, aggregate samples/s of one `jit(vmap(train_unchecked))`, best of
`--repeat`. Both revisions train with the same numbers (the episodic defaults, a_T
scaled to D): a revision whose `GWRConfig` still holds them gets them there (compile-time
constants, as it ran), one with `GWRParams` gets them traced (its kernels' signature
`(config, params, state, ...)`). This revision runs once per `--rows` form of its row updates
(`GWRConfig.row_updates`, docs/gwr.md "Row updates: scatter or dense"; the other revision
runs its own default). `aggregate_vs_one` divides by the same implementation at the fewest
networks; `vs_best_one` by the fastest implementation there. Writes
benchmarks/results/vmap_ab.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib

import jax
import jax.numpy as jnp

from benchmarks.common import best_alternating, table, write_json
from benchmarks.gwr_kernel import stream


def runner(pkg: str, capacity: int, dim: int, networks: int, steps: int, rows: str | None = None):
    gwr = importlib.import_module(f"{pkg}.gwr")
    extra = {} if rows is None else {"row_updates": rows}
    a_t = float(jnp.exp(-0.5 * jnp.sqrt(dim / 6)))
    x, y = (jnp.asarray(a) for a in stream(0, steps, dim, (networks,)))
    valid = jnp.ones(x.shape[:-1], bool)
    if any(f.name == "activity_threshold" for f in dataclasses.fields(gwr.GWRConfig)):
        # a revision from before `GWRParams` held the numbers: they live in the static config
        cfg = gwr.episodic_config(dim, capacity, activity_threshold=a_t, **extra)
        s0 = jax.jit(jax.vmap(lambda x, y: gwr.init_unchecked(cfg, x[:2], y[:2])))(x, y)
        fn = jax.jit(jax.vmap(lambda s, x, y, v: gwr.train_unchecked(cfg, s, x, y, v, epochs=1)))
        compiled = fn.lower(s0, x, y, valid).compile()
        return lambda: jax.block_until_ready(compiled(s0, x, y, valid))
    cfg = gwr.episodic_config(dim, capacity, **extra)
    p = gwr.GWRParams(activity_threshold=a_t).cast(cfg.dtype)      # traced, shared by the networks
    s0 = jax.jit(jax.vmap(lambda p, x, y: gwr.init_unchecked(cfg, p, x[:2], y[:2]), in_axes=(None, 0, 0)))(p, x, y)
    fn = jax.jit(jax.vmap(lambda p, s, x, y, v: gwr.train_unchecked(cfg, p, s, x, y, v, epochs=1),
                          in_axes=(None, 0, 0, 0, 0)))
    compiled = fn.lower(p, s0, x, y, valid).compile()
    return lambda: jax.block_until_ready(compiled(p, s0, x, y, valid))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", type=int, nargs="+", default=[1, 64])
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--capacity", type=int, default=256)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--before", default="clifer_jax_before")
    p.add_argument("--rows", nargs="+", default=["scatter", "dense"], choices=["scatter", "dense"],
                   help="row-update forms of this revision to run")
    args = p.parse_args(argv)
    impls = {"before": (args.before, None), **{f"after-{r}": ("clifer_jax", r) for r in args.rows}}
    runs = {(i, s): runner(pkg, args.capacity, 50, s, args.steps, rows)
            for s in args.networks for i, (pkg, rows) in impls.items()}
    best = best_alternating(runs, args.repeat)
    rows = []
    for (impl, s), sec in best.items():
        rows.append(dict(impl=impl, networks=s, samples_per_s=s * args.steps / sec))
    fewest = min(args.networks)
    best_one = max(q["samples_per_s"] for q in rows if q["networks"] == fewest)
    for r in rows:
        one = next(q for q in rows if q["impl"] == r["impl"] and q["networks"] == fewest)
        r["aggregate_vs_one"] = r["samples_per_s"] / one["samples_per_s"]
        r["vs_best_one"] = r["samples_per_s"] / best_one
        same = next(q for q in rows if q["impl"] == "before" and q["networks"] == r["networks"])
        r["vs_before"] = r["samples_per_s"] / same["samples_per_s"]
    print(table(rows, ["impl", "networks", "samples_per_s", "aggregate_vs_one", "vs_best_one", "vs_before"]))
    print(f"wrote {write_json('vmap_ab', {'rows': rows, 'steps': args.steps, 'capacity': args.capacity})}")


if __name__ == "__main__":
    main()
