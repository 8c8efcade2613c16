"""Scaling study: Gamma-GWR training and a GDM class step against the number of networks
(subjects) vmapped and against capacity, with the NumPy reference beside; state memory.

* networks sweep (capacity fixed): aggregate samples/s (GWR) or subject-steps/s (GDM) of
  one `jit(vmap)` over S networks, and the NumPy loop's rate (one network at a time,
  measured on one network: a sequential loop over S networks runs at that same rate);
* capacity sweep (one network): the same against N, NumPy beside;
* memory: exact state bytes per network (from the state's shapes), XLA's compiled working
  set of one training call (`memory_analysis`), and the largest capacity whose states fit
  a budget, for 1 and for 1,024 networks.

Writes benchmarks/results/scaling.json (BENCH_TAG adds a suffix) and a figure
benchmarks/images/scaling_<backend>.png.

    python -m benchmarks.scaling                  # full: 1 … 1,024 networks, N = 256 … 16,384
    python -m benchmarks.scaling --scale small    # minutes: 1 … 64 networks, N = 256 … 4,096
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import device_info, reference_kwargs, table, timed, write_json
from benchmarks.gdm import subject_steps
from benchmarks.gwr_kernel import config as gwr_config, numpy_throughput, params as gwr_params, stream
from clifer_jax import gdm, gwr
from gdm_reference import ReferenceGDM

SCALES = {
    "smoke": dict(networks=[1, 2], capacities=[64, 128], gwr_steps=60, gdm_capacities=[32, 64]),
    "small": dict(networks=[1, 4, 16, 64], capacities=[256, 1024, 4096], gwr_steps=500,
                  gdm_capacities=[160, 640, 2560]),
    "full": dict(networks=[1, 4, 16, 64, 256, 1024], capacities=[256, 1024, 4096, 16384],
                 gwr_steps=1000, gdm_capacities=[160, 640, 2560, 10240]),
}
DIM = 50
GIB = 1 << 30


def _memory(compiled) -> dict:
    try:
        m = compiled.memory_analysis()
        return {"xla_temp_bytes": int(m.temp_size_in_bytes), "xla_argument_bytes": int(m.argument_size_in_bytes),
                "xla_output_bytes": int(m.output_size_in_bytes)}
    except Exception:                                  # not every backend reports it
        return {}


def gwr_jax(capacity: int, networks: int, steps: int, marginal: bool = False, rows: str = "scatter") -> dict:
    """Aggregate samples/s of one training call, jit(vmap(train)) over `networks` networks.

    marginal: also time a call of 4·steps samples, and split the call's time into the
    cost of one more step (`marginal_step_us`, O(N·D)) and a fixed cost per call
    (`per_call_ms`: the end-of-call pruning and node removal, O(N·k)).
    rows: the step's row-update form (`GWRConfig.row_updates`). The params (traced) are
    shared by the networks."""
    cfg = gwr_config(capacity, DIM).replace(row_updates=rows)
    p = gwr_params(DIM).cast(cfg.dtype)
    x, y = (jnp.asarray(a) for a in stream(0, 4 * steps if marginal else steps, DIM, (networks,)))
    valid = jnp.ones(x.shape[:-1], bool)
    train = jax.vmap(lambda p, s, x, y, v: gwr.train_unchecked(cfg, p, s, x, y, v, epochs=1),
                     in_axes=(None, 0, 0, 0, 0))
    # The state donated, as a training loop hands it over (without it XLA copies the
    # state every call); the timed calls start from a network after a short first call.
    fn = jax.jit(train, donate_argnums=1)
    s0 = jax.jit(jax.vmap(lambda p, x, y: gwr.init_unchecked(cfg, p, x[:2], y[:2]),
                          in_axes=(None, 0, 0)))(p, x, y)
    s0 = jax.jit(train)(p, s0, x[:, :8], y[:, :8], valid[:, :8])

    def run(t: int):
        rest = (x[:, :t], y[:, :t], valid[:, :t])
        t0 = time.perf_counter()
        compiled = fn.lower(p, s0, *rest).compile()
        compile_s = time.perf_counter() - t0
        best = float("inf")
        for _ in range(3):
            s = jax.block_until_ready(jax.tree.map(jnp.copy, s0))
            t0 = time.perf_counter()
            out = jax.block_until_ready(compiled(p, s, *rest))
            best = min(best, time.perf_counter() - t0)
            nodes = out.num_nodes
            del out                     # freed after the clock stops
        return best, compile_s, compiled, nodes

    seconds, compile_s, compiled, nodes = run(steps)
    out = dict(samples_per_s=steps * networks / seconds, step_us=1e6 * seconds / steps,
               compile_s=compile_s, nodes=float(np.mean(np.asarray(nodes))),
               state_bytes=gwr.state_bytes(cfg), **_memory(compiled))
    if marginal:
        longer, _, _, _ = run(4 * steps)
        step = max(longer - seconds, 0.0) / (3 * steps)
        out.update(marginal_step_us=1e6 * step, per_call_ms=1e3 * max(seconds - step * steps, 0.0),
                   marginal_samples_per_s=networks / step if step > 0 else float("inf"))
    return out


def gwr_numpy(capacity: int, steps: int) -> dict:
    """The NumPy reference on the same stream and the same number of steps as JAX (one
    training call: its end-of-call work weighs the same in both)."""
    rate, nodes = numpy_throughput(gwr_config(capacity, DIM), gwr_params(DIM), steps)
    return dict(numpy_samples_per_s=rate, numpy_steps=steps, numpy_nodes=nodes)


def gdm_jax(capacity: int, subjects: int, length: int = 24) -> dict:
    """Seconds of one vmapped GDM class step (after a first one), per subject (the reference
    schedule and memories, no replay; the params traced, shared by the subjects)."""
    cfg = gdm.GDMConfig(dim=DIM, capacity=capacity)
    p = gdm.GDMParams().cast(cfg.dtype)
    x, y, m = (jnp.asarray(a) for a in subject_steps(subjects, length, DIM))
    init = jax.jit(jax.vmap(gdm.init_unchecked, in_axes=(None, None, 0, 0, 0)), static_argnums=0)
    learn = jax.jit(jax.vmap(gdm.learn_class_unchecked, in_axes=(None, None, 0, 0, 0, 0)), static_argnums=0)
    state = init(cfg, p, x[:, 0], y[:, 0], m[:, 0])
    t0 = time.perf_counter()
    state = jax.block_until_ready(learn(cfg, p, state, x[:, 0], y[:, 0], m[:, 0]))
    first = time.perf_counter() - t0
    seconds = timed(lambda: learn(cfg, p, state, x[:, 1], y[:, 1], m[:, 1]), repeat=2)
    mem = _memory(learn.lower(cfg, p, state, x[:, 1], y[:, 1], m[:, 1]).compile())
    return dict(step_s=seconds, subject_steps_per_s=subjects / seconds, compile_s=first - seconds,
                state_bytes=gdm.state_bytes(cfg), **mem)


def gdm_numpy(capacity: int, length: int = 24) -> dict:
    cfg, p = gdm.GDMConfig(dim=DIM, capacity=capacity), gdm.GDMParams()
    x, y, m = subject_steps(1, length, DIM)
    s = float("inf")
    for _ in range(2):                             # best of two, as for JAX
        ref = ReferenceGDM(reference_kwargs(cfg.episodic, p.episodic),
                           reference_kwargs(cfg.semantic, p.semantic), replay=False)
        ref.init(x[0, 0], y[0, 0], m[0, 0])
        ref.learn_class(x[0, 0], y[0, 0], m[0, 0])
        t0 = time.perf_counter()
        ref.learn_class(x[0, 1], y[0, 1], m[0, 1])
        s = min(s, time.perf_counter() - t0)
    return dict(numpy_step_s=s, numpy_subject_steps_per_s=1.0 / s)


def memory_table(capacities: list[int]) -> list[dict]:
    rows = []
    for n in sorted({256, 1024, 4096, 16384, 65536, *capacities}):
        cfg = gwr_config(n, DIM)
        rows.append(dict(capacity=n, gwr_state_mib=gwr.state_bytes(cfg) / 2**20,
                         gdm_state_mib=gdm.state_bytes(gdm.GDMConfig(dim=DIM, capacity=n)) / 2**20))
    return rows


def budget_table(budgets_gib: list[float]) -> list[dict]:
    """Largest GWR capacity (D = 50, K = 0) whose states fit each budget, for 1, 64, 1,024
    networks: to hold them, and to train them (input and output states alive: 2 copies)."""
    cfg = gwr_config(2, DIM)
    rows = []
    for gib in budgets_gib:
        for what, copies in (("hold", 1), ("train", 2)):
            rows.append(dict(budget_gib=gib, use=what, **{
                f"max_capacity_{s}_networks": gwr.largest_capacity(cfg, int(gib * GIB), s, copies)
                for s in (1, 64, 1024)}))
    return rows


def plot(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dev = result["device"]
    fig, ax = plt.subplots(2, 2, figsize=(11, 8.5))
    panels = [("gwr_networks", "networks", "samples_per_s", "numpy_samples_per_s", ax[0, 0],
               f"Gamma-GWR, N = {result['gwr_networks'][0]['capacity']}: samples/s vs networks", "aggregate samples/s"),
              ("gwr_capacity", "capacity", "samples_per_s", "numpy_samples_per_s", ax[0, 1],
               "Gamma-GWR, one network: samples/s vs capacity N", "samples/s"),
              ("gdm_subjects", "subjects", "subject_steps_per_s", "numpy_subject_steps_per_s", ax[1, 0],
               f"GDM class step, N = {result['gdm_subjects'][0]['capacity']}: vs subjects", "subject-steps/s"),
              ("gdm_capacity", "capacity", "subject_steps_per_s", "numpy_subject_steps_per_s", ax[1, 1],
               "GDM class step, one subject: vs episodic capacity N", "subject-steps/s")]
    for key, xk, yk, nk, a, title, ylabel in panels:
        rows = result[key]
        xs = [r[xk] for r in rows]
        a.loglog(xs, [r[yk] for r in rows], "o-", label=f"JAX ({dev['backend']})")
        if rows and nk in rows[0]:
            a.loglog(xs, [r[nk] for r in rows], "s--", label="NumPy reference (one at a time)")
        a.set_title(title, fontsize=10)
        a.set_xlabel(xk)
        a.set_ylabel(ylabel)
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle(f"clifer-jax scaling — {dev['device']} ({dev['backend']}, {dev['cpu_count']} CPU cores, "
                 f"JAX {dev['jax']})", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", choices=sorted(SCALES), default="full")
    p.add_argument("--gwr-capacity", type=int, default=256, help="capacity of the networks sweep")
    p.add_argument("--gdm-capacity", type=int, default=160, help="episodic capacity of the subjects sweep")
    p.add_argument("--budgets", type=float, nargs="+", default=[1, 2, 16, 24, 80, 141],
                   help="memory budgets in GiB for the largest-capacity table (24: this CPU; 80/141: H100/H200)")
    p.add_argument("--figure", default=None, help="figure path (default benchmarks/images/scaling_<backend>.png)")
    p.add_argument("--rows", choices=["scatter", "dense"], default="scatter",
                   help="row-update form of the networks sweep (docs/gwr.md, 'Row updates: scatter or dense')")
    args = p.parse_args(argv)
    sc = SCALES[args.scale]
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    result = {"scale": args.scale, "dim": DIM, "rows": args.rows,
              "numpy_note": "the NumPy reference computes in float64, the JAX kernel in float32"}
    tag = os.environ.get("BENCH_TAG")
    name = "scaling" + ("" if args.scale == "full" else f"_{args.scale}")
    save = lambda r: write_json(name, r)  # noqa: E731  (after each sweep: a timeout keeps what finished)

    np_small = gwr_numpy(args.gwr_capacity, sc["gwr_steps"] // 2)
    rows = []
    for s in sc["networks"]:
        r = dict(capacity=args.gwr_capacity, networks=s,
                 **gwr_jax(args.gwr_capacity, s, sc["gwr_steps"] // 2, rows=args.rows),
                 **np_small)
        r["speedup_vs_numpy"] = r["samples_per_s"] / r["numpy_samples_per_s"]
        rows.append(r)
        log(f"gwr N={args.gwr_capacity} networks={s}: {r['samples_per_s']:,.0f} samples/s "
            f"(x{r['speedup_vs_numpy']:.1f} numpy)")
    base = rows[0]["samples_per_s"]
    for r in rows:
        r["aggregate_vs_one"] = r["samples_per_s"] / base
    result["gwr_networks"] = rows
    save(result)

    rows = []
    for n in sc["capacities"]:
        r = dict(capacity=n, networks=1, **gwr_jax(n, 1, sc["gwr_steps"], marginal=True),
                 **gwr_numpy(n, sc["gwr_steps"]))
        r["speedup_vs_numpy"] = r["samples_per_s"] / r["numpy_samples_per_s"]
        rows.append(r)
        log(f"gwr N={n}: {r['samples_per_s']:,.0f} samples/s, numpy {r['numpy_samples_per_s']:,.0f} "
            f"(x{r['speedup_vs_numpy']:.1f}); {r['marginal_step_us']:.1f} µs per extra step, "
            f"{r['per_call_ms']:.1f} ms per call; state {r['state_bytes'] / 2**20:,.1f} MiB")
    result["gwr_capacity"] = rows
    save(result)

    np_gdm = gdm_numpy(args.gdm_capacity)
    rows = []
    for s in sc["networks"]:
        r = dict(capacity=args.gdm_capacity, subjects=s, **gdm_jax(args.gdm_capacity, s), **np_gdm)
        r["speedup_vs_numpy"] = r["subject_steps_per_s"] / r["numpy_subject_steps_per_s"]
        rows.append(r)
        log(f"gdm N={args.gdm_capacity} subjects={s}: {r['step_s']:.3f} s/step, "
            f"{r['subject_steps_per_s']:,.1f} subject-steps/s (x{r['speedup_vs_numpy']:.1f} numpy)")
    result["gdm_subjects"] = rows
    save(result)

    rows = []
    for n in sc["gdm_capacities"]:
        r = dict(capacity=n, subjects=1, **gdm_jax(n, 1), **gdm_numpy(n))
        r["speedup_vs_numpy"] = r["subject_steps_per_s"] / r["numpy_subject_steps_per_s"]
        rows.append(r)
        log(f"gdm N={n}: {r['step_s'] * 1e3:.1f} ms/step, numpy {r['numpy_step_s'] * 1e3:.1f} ms "
            f"(x{r['speedup_vs_numpy']:.1f}); state {r['state_bytes'] / 2**20:,.1f} MiB")
    result["gdm_capacity"] = rows

    result["memory"] = memory_table(sc["capacities"])
    result["budget"] = budget_table(args.budgets)

    print()
    print(table(result["gwr_networks"], ["networks", "samples_per_s", "aggregate_vs_one",
                                         "numpy_samples_per_s", "speedup_vs_numpy", "compile_s"]))
    print()
    print(table(result["gwr_capacity"], ["capacity", "samples_per_s", "numpy_samples_per_s",
                                         "speedup_vs_numpy", "marginal_step_us", "per_call_ms", "nodes",
                                         "xla_temp_bytes"]))
    print()
    print(table(result["gdm_subjects"], ["subjects", "step_s", "subject_steps_per_s",
                                         "numpy_subject_steps_per_s", "speedup_vs_numpy"]))
    print()
    print(table(result["gdm_capacity"], ["capacity", "step_s", "numpy_step_s", "speedup_vs_numpy",
                                         "xla_temp_bytes"]))
    print()
    print(table(result["memory"], ["capacity", "gwr_state_mib", "gdm_state_mib"]))
    print()
    print(table(result["budget"], ["budget_gib", "use", "max_capacity_1_networks", "max_capacity_64_networks",
                                   "max_capacity_1024_networks"]))
    path = save(result)
    fig = Path(args.figure) if args.figure else (
        Path(__file__).resolve().parent / "images" / f"{name}_{tag or device_info()['backend']}.png")
    plot({**result, "device": device_info()}, fig)
    print(f"wrote {path} and {fig}")


if __name__ == "__main__":
    main()
