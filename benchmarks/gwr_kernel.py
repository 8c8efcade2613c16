"""Training throughput of the jitted Gamma-GWR kernel against the NumPy reference loop.

Both run side by side in one process on the same random stream (uniform in
[-1, 1]^D, so the network grows towards its capacity), the reference with the kernel's
max_degree (`benchmarks.common.reference_kwargs`), so that both bound a node's edge and
successor lists alike; `jax_overflow` counts the entries that gave way in the kernel (0:
the network unbounded lists give). Prints a table and writes
benchmarks/results/gwr_kernel.json.

    python -m benchmarks.gwr_kernel            # full grid
    python -m benchmarks.gwr_kernel --quick    # a smaller grid
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import reference_kwargs, table, timed, write_json
from clifer_jax import gwr
from gwr_reference import ReferenceGWR


def stream(seed: int, n: int, dim: int, batch: tuple[int, ...] = ()):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, batch + (n, dim)).astype(np.float32)
    y = rng.integers(0, 6, batch + (n, 2)).astype(np.int32)
    return x, y


def config(capacity: int, dim: int) -> gwr.GWRConfig:
    """The reference episodic memory's statics (its numbers: `params(dim)`)."""
    return gwr.episodic_config(dim, capacity)


def params(dim: int) -> gwr.GWRParams:
    """Episodic defaults; a_T scaled to the dimension so that uniform data keeps
    inserting (distances grow like sqrt(D)) and the network fills up."""
    return gwr.GWRParams(activity_threshold=float(np.exp(-0.5 * np.sqrt(dim / 6))))


def jax_throughput(cfg, prm: gwr.GWRParams, steps: int, networks: int | None = None):
    """Samples/s of one jitted training call (the params traced, shared by the networks),
    its compile time, the mean node count after it, and the edges and temporal links that
    gave way because a node's lists were full (max_degree; 0: the same network as unbounded
    lists)."""
    batch = () if networks is None else (networks,)
    x, y = stream(0, steps, cfg.dim, batch)
    x, y = jnp.asarray(x), jnp.asarray(y)
    valid = jnp.ones(x.shape[:-1], bool)
    p = prm.cast(cfg.dtype)
    run = lambda p, s, x, y, v: gwr.train_unchecked(cfg, p, s, x, y, v, epochs=1)
    init = lambda p, x, y: gwr.init_unchecked(cfg, p, x[:2], y[:2])
    if networks is not None:
        run, init = jax.vmap(run, in_axes=(None, 0, 0, 0, 0)), jax.vmap(init, in_axes=(None, 0, 0))
    s0 = init(p, x, y)
    fn = jax.jit(run)
    t0 = time.perf_counter()
    compiled = fn.lower(p, s0, x, y, valid).compile()
    compile_s = time.perf_counter() - t0
    seconds = timed(compiled, p, s0, x, y, valid, repeat=2)
    out = compiled(p, s0, x, y, valid)
    nodes = float(np.mean(np.asarray(out.num_nodes)))
    overflow = int(np.sum(np.asarray(out.edge_overflow)) + np.sum(np.asarray(out.temporal_overflow)))
    return steps * (networks or 1) / seconds, compile_s, nodes, overflow


def numpy_throughput(cfg, prm: gwr.GWRParams, steps: int):
    x, y = stream(0, steps, cfg.dim)
    ref = ReferenceGWR(**reference_kwargs(cfg, prm))
    ref.init(x[:2].astype(np.float64), y[:2])
    t0 = time.perf_counter()
    ref.train(x.astype(np.float64), y, epochs=1)
    return steps / (time.perf_counter() - t0), float(ref.active.sum())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small grid (a few seconds)")
    p.add_argument("--steps", type=int, default=None,
                   help="samples per jitted run (default 4000; 1000 with --quick)")
    p.add_argument("--numpy-seconds", type=float, default=3.0, help="time budget per NumPy run")
    args = p.parse_args(argv)
    caps = [256, 1024] if args.quick else [256, 1024, 4096]
    dims = [50] if args.quick else [50, 512]
    steps = args.steps or (1000 if args.quick else 4000)

    rows = []
    for dim in dims:
        for cap in caps:
            cfg, prm = config(cap, dim), params(dim)
            jps, comp, jnodes, jover = jax_throughput(cfg, prm, steps)
            # Size the NumPy run to its time budget from a short probe.
            probe, _ = numpy_throughput(cfg, prm, 50)
            n_np = int(np.clip(probe * args.numpy_seconds, 100, steps))
            nps, nnodes = numpy_throughput(cfg, prm, n_np)
            rows.append(dict(kind="single", capacity=cap, dim=dim, networks=1,
                             jax_samples_per_s=jps, numpy_samples_per_s=nps, speedup=jps / nps,
                             compile_s=comp, jax_nodes=jnodes, jax_overflow=jover, numpy_steps=n_np,
                             numpy_nodes=nnodes))
            print(f"N={cap} D={dim}: jax {jps:,.0f}/s  numpy {nps:,.0f}/s  x{jps / nps:.1f}  "
                  f"(compile {comp:.2f}s)", flush=True)

    base = None
    for nets in [1, 8, 64]:
        cfg = config(256, 50)
        jps, comp, jnodes, jover = jax_throughput(cfg, params(50), steps // 2, networks=nets)
        base = base or jps
        rows.append(dict(kind="vmap", capacity=256, dim=50, networks=nets, jax_samples_per_s=jps,
                         aggregate_vs_one=jps / base, compile_s=comp, jax_nodes=jnodes, jax_overflow=jover))
        print(f"vmap {nets:>2} networks N=256: {jps:,.0f} samples/s aggregate (x{jps / base:.1f})",
              flush=True)

    single = {(r["capacity"], r["dim"]): r["jax_samples_per_s"] for r in rows if r["kind"] == "single"}
    checks = {}
    if (1024, 50) in single:
        r = next(r for r in rows if r["kind"] == "single" and r["capacity"] == 1024 and r["dim"] == 50)
        checks["speedup_N1024_D50"] = r["speedup"]
    if (4096, 50) in single:
        checks["throughput_N4096_over_N1024_D50"] = single[(4096, 50)] / single[(1024, 50)]
    checks["vmap64_over_one"] = rows[-1]["aggregate_vs_one"]

    cols = ["kind", "capacity", "dim", "networks", "jax_samples_per_s", "numpy_samples_per_s",
            "speedup", "aggregate_vs_one", "compile_s", "jax_nodes", "jax_overflow"]
    print()
    print(table(rows, cols))
    print("\nchecks:", {k: round(v, 2) for k, v in checks.items()})
    path = write_json("gwr_kernel" + ("_quick" if args.quick else ""), {"rows": rows, "checks": checks,
                                                                       "steps": steps})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
