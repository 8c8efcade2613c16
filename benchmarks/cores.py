"""Many Gamma-GWR networks on a multi-core CPU: vmapped on one device against the same
batch sharded over one host device per core, beside one network alone, in one process,
alternating (a fair ratio on a busy machine).

XLA:CPU runs one device's program on one thread for this kernel (its ops are too small to
split), so `jit(vmap(train))` over 64 networks uses one core. Splitting the network axis
over `--devices` host devices (`--xla_force_host_platform_device_count`, set here before
JAX starts) gives each core its own share, the same computation as `gwr.train_sharded`
(`clifer_jax.sharding`), here as `jit` with the network axis sharded so that nothing but
the kernel is timed.

    python -m benchmarks.cores                      # 2 devices, 64 networks, N = 256, D = 50

As the scaling study's networks sweep: one training call of `--steps` samples per network,
aggregate samples/s, best of `--repeat`; `x_one` divides by the fastest single network
(either row-update form, docs/gwr.md). Writes benchmarks/results/cores.json.
"""

from __future__ import annotations

import argparse
import os
import sys


def _set_devices(argv) -> int:
    n = 2
    for i, a in enumerate(argv):
        if a == "--devices" and i + 1 < len(argv):
            n = int(argv[i + 1])
        elif a.startswith("--devices="):
            n = int(a.split("=", 1)[1])
    if "jax" in sys.modules:
        raise RuntimeError("benchmarks.cores must set the host device count before JAX is imported")
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()
    return n


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    n_dev = _set_devices(argv)

    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    from benchmarks.common import best_alternating, table, write_json
    from benchmarks.gwr_kernel import stream
    from clifer_jax import gwr

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=2, help="host devices (one per core)")
    p.add_argument("--networks", type=int, default=64)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--capacity", type=int, default=256)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    devices = jax.devices()[:n_dev]
    if len(devices) < n_dev or args.networks % n_dev:
        raise SystemExit(f"need {n_dev} devices (got {len(jax.devices())}) and networks divisible by them")
    dim = 50

    def setup(networks: int, rows: str, sharded: bool):
        cfg = gwr.episodic_config(dim, args.capacity, row_updates=rows)
        prm = gwr.GWRParams(activity_threshold=float(jnp.exp(-0.5 * jnp.sqrt(dim / 6)))).cast(cfg.dtype)
        x, y = (jnp.asarray(a) for a in stream(0, args.steps, dim, (networks,)))
        valid = jnp.ones(x.shape[:-1], bool)
        if sharded:
            mesh = Mesh(devices, ("net",))
            put = lambda a: jax.device_put(a, NamedSharding(mesh, P("net")))  # noqa: E731
            prm = jax.device_put(prm, NamedSharding(mesh, P()))             # replicated
        else:
            put = lambda a: jax.device_put(a, devices[0])  # noqa: E731
            prm = put(prm)
        x, y, valid = put(x), put(y), put(valid)
        # the params traced, shared by every network (replicated when sharded)
        s0 = jax.jit(jax.vmap(lambda p, x, y: gwr.init_unchecked(cfg, p, x[:2], y[:2]),
                              in_axes=(None, 0, 0)))(prm, x, y)
        fn = jax.jit(jax.vmap(lambda p, s, x, y, v: gwr.train_unchecked(cfg, p, s, x, y, v, epochs=1),
                              in_axes=(None, 0, 0, 0, 0)))
        compiled = fn.lower(prm, s0, x, y, valid).compile()
        out = compiled(prm, s0, x, y, valid)
        return (lambda: jax.block_until_ready(compiled(prm, s0, x, y, valid))), out

    cases = {("one network", "scatter", 1): (1, "scatter", False),
             ("one network", "dense", 1): (1, "dense", False),
             ("vmap, one device", "scatter", args.networks): (args.networks, "scatter", False),
             ("vmap, one device", "dense", args.networks): (args.networks, "dense", False),
             (f"vmap, sharded over {n_dev} devices", "scatter", args.networks): (args.networks, "scatter", True),
             (f"vmap, sharded over {n_dev} devices", "dense", args.networks): (args.networks, "dense", True)}
    runs, outs = {}, {}
    for k, c in cases.items():
        runs[k], outs[k] = setup(*c)
    # the sharded batch is the same computation as the vmapped one
    equal = {}
    for rows in ("scatter", "dense"):
        a = outs[("vmap, one device", rows, args.networks)]
        b = outs[(f"vmap, sharded over {n_dev} devices", rows, args.networks)]
        same = all(np.array_equal(np.asarray(u), np.asarray(v)) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
        print(f"{rows}: sharded result equals the one-device vmap bit for bit: {same}")
        equal[rows] = same
    if not all(equal.values()):
        raise SystemExit(f"the sharded and the one-device batches differ ({equal}): timings not comparable")
    best = best_alternating(runs, args.repeat)
    rate = {k: k[2] * args.steps / t for k, t in best.items()}
    one = max(rate[k] for k in rate if k[2] == 1)
    rows_out = [{"layout": k[0], "row_updates": k[1], "networks": k[2], "samples_per_s": r,
                 "x_one": r / one} for k, r in rate.items()]
    print(table(rows_out, ["layout", "row_updates", "networks", "samples_per_s", "x_one"]))
    write_json("cores", {"devices": n_dev, "capacity": args.capacity, "sharded_equals_vmap": equal,
                          "dim": dim, "steps": args.steps, "repeat": args.repeat, "rows": rows_out})


if __name__ == "__main__":
    main()
