"""Time of one GDM class step, vmapped over subjects, against the NumPy reference loop.

One class step of the synthetic default's size (24 samples, mini-batches of 5,
10 epochs each), the reference configuration, after a first step so that both
memories have grown. Prints a table; writes benchmarks/results/gdm.json.

    python -m benchmarks.gdm [--subjects 1 8 24 96] [--replay]
    python -m benchmarks.gdm --incremental [--capacities 160 640 1024] [--impls ...]

`--incremental`: one subject, a class-incremental run (GDM + replay) at several episodic
capacities, timed per class step for the NumPy reference (`tests/gdm_reference.py`, with
the same max_degree) and three forms of the JAX kernel:

* `per_trajectory`: `learn_class_unchecked` jitted on the whole capacity, its replay pass
  swapped (while it is traced) for one `gwr.train_unchecked` call per valid trajectory in
  a `while_loop` — the replay pass before the chunked loop;
* `kernel`: the same, with today's replay pass (`gdm.memory.replay_unchecked`: the
  trajectories `REPLAY_CHUNK` at a time, a `scan` inside a `while_loop`);
* `public`: `gdm.learn_class` (high-water blocks, length buckets, state donated).

The JAX forms take the state donated. All run in alternation, class step by class step, on
the same stream; JAX is timed on a second pass over the stream (the first compiles). The
JAX forms must end in identical states (checked: every leaf of both memories). Writes
gdm_incremental.json.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import reference_kwargs, table, write_json
from clifer_jax import gdm
from clifer_jax.gdm import memory
from clifer_jax.gdm.memory import _train_both
from gdm_reference import ReferenceGDM


def subject_steps(n_subjects: int, length: int, dim: int, seed: int = 0):
    """Two class steps per subject: x [S, 2, L, D], y [S, 2, L], mask [S, 2, L]."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.6, 0.6, (n_subjects, 2, dim))
    x = centres[:, :, None] + 0.08 * rng.standard_normal((n_subjects, 2, length, dim))
    y = np.broadcast_to(np.array([0, 1])[None, :, None], (n_subjects, 2, length)).astype(np.int32)
    return np.clip(x, -1, 1).astype(np.float32), y.copy(), np.ones((n_subjects, 2, length), bool)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, nargs="+", default=[1, 8, 24, 96])
    p.add_argument("--length", type=int, default=24, help="samples per class step")
    p.add_argument("--capacity", type=int, default=160, help="episodic capacity")
    p.add_argument("--replay", action="store_true", help="GDM + replay")
    p.add_argument("--incremental", action="store_true", help="class-incremental GDM + replay study")
    p.add_argument("--capacities", type=int, nargs="+", default=[160, 640, 1024])
    p.add_argument("--impls", nargs="+", default=list(IMPLS), choices=list(IMPLS),
                   help="JAX forms timed by --incremental (beside the NumPy reference)")
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--per-class", type=int, default=40)
    p.add_argument("--dim", type=int, default=64)
    args = p.parse_args(argv)
    if args.incremental:
        return incremental(args)
    cfg = gdm.GDMConfig(dim=50, capacity=args.capacity)       # the reference schedule
    ref_params = gdm.GDMParams()                                 # the reference memories' numbers
    params = ref_params.cast(cfg.dtype)                          # traced, shared by the subjects

    def learn(config, params, state, x, y, m):
        return gdm.learn_class_unchecked(config, params, state, x, y, m, replay=args.replay)

    init_v = jax.jit(jax.vmap(gdm.init_unchecked, in_axes=(None, None, 0, 0, 0)), static_argnums=0)
    learn_v = jax.jit(jax.vmap(learn, in_axes=(None, None, 0, 0, 0, 0)), static_argnums=0)
    rows = []
    for s in args.subjects:
        x, y, m = (jnp.asarray(a) for a in subject_steps(s, args.length, cfg.dim))
        state = init_v(cfg, params, x[:, 0], y[:, 0], m[:, 0])
        t0 = time.perf_counter()
        state = jax.block_until_ready(learn_v(cfg, params, state, x[:, 0], y[:, 0], m[:, 0]))
        first = time.perf_counter() - t0                         # compile + run
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            jax.block_until_ready(learn_v(cfg, params, state, x[:, 1], y[:, 1], m[:, 1]))
            best = min(best, time.perf_counter() - t0)
        rows.append(dict(impl="jax vmap", subjects=s, step_s=best, per_subject_ms=1e3 * best / s,
                         compile_s=first - best))
        print(f"jax: {s:>3} subjects  {best:.3f} s/step  ({1e3 * best / s:.1f} ms per subject)",
              flush=True)

    x, y, m = subject_steps(1, args.length, cfg.dim)
    ref = ReferenceGDM(reference_kwargs(cfg.episodic, ref_params.episodic),
                       reference_kwargs(cfg.semantic, ref_params.semantic), replay=args.replay)
    ref.init(x[0, 0], y[0, 0], m[0, 0])
    ref.learn_class(x[0, 0], y[0, 0], m[0, 0])
    t0 = time.perf_counter()
    ref.learn_class(x[0, 1], y[0, 1], m[0, 1])
    np_s = time.perf_counter() - t0
    rows.append(dict(impl="numpy loop", subjects=1, step_s=np_s, per_subject_ms=1e3 * np_s))
    print(f"numpy: 1 subject  {np_s:.3f} s/step", flush=True)
    for r in rows:
        r["speedup_per_subject_vs_numpy"] = 1e3 * np_s / r["per_subject_ms"]

    print()
    print(table(rows, ["impl", "subjects", "step_s", "per_subject_ms", "speedup_per_subject_vs_numpy",
                       "compile_s"]))
    path = write_json("gdm" + ("_replay" if args.replay else ""),
                      {"rows": rows, "length": args.length, "capacity": args.capacity,
                       "replay": args.replay})
    print(f"wrote {path}")


def incremental_stream(classes: int, per_class: int, dim: int, seed: int = 0):
    """Class steps of a clustered stream: per class [L, D] samples (L = per_class + c, so
    the lengths differ as real class sizes do), labels, mask."""
    rng = np.random.default_rng(seed)
    steps = []
    for c in range(classes):
        n = per_class + c
        centre = rng.uniform(-0.6, 0.6, dim)
        modes = centre + 0.25 * rng.standard_normal((4, dim))
        x = modes[rng.integers(0, 4, n)] + 0.1 * rng.standard_normal((n, dim))
        steps.append((np.clip(x, -1, 1).astype(np.float32), np.full(n, c, np.int32), np.ones(n, bool)))
    return steps


IMPLS = ("per_trajectory", "kernel", "public")


def _per_trajectory_replay(config, params, ep, se, pseudo):
    """The replay pass before the chunked loop: one `train_unchecked` call per valid
    trajectory (both memories), in a `while_loop` over them (`memory.replay_unchecked`'s
    signature; the same trajectories in the same order)."""
    order = jnp.argsort(~pseudo.valid, stable=True)
    xs, ys = pseudo.samples[order], pseudo.labels[order]
    count = jnp.sum(pseudo.valid, dtype=jnp.int32)
    valid = jnp.ones(ys.shape[1:], bool)

    def body(carry):
        i, ep, se = carry
        ep, se = _train_both(config, params, ep, se, xs[i], ys[i], valid, config.replay_epochs)
        return i + 1, ep, se

    _, ep, se = jax.lax.while_loop(lambda c: c[0] < count, body, (jnp.array(0, jnp.int32), ep, se))
    return ep, se


def _whole_capacity(config, params, state, x, y, m):
    """GDM + replay's class step on the whole capacity (no block, no length bucket)."""
    return gdm.learn_class_unchecked(config, params, state, x, y, m, replay=True)


def _per_trajectory(config, params, state, x, y, m):
    """`_whole_capacity` with the per-trajectory replay pass (a distinct function, so that
    `jax.jit` caches its trace apart from the chunked one's)."""
    return gdm.learn_class_unchecked(config, params, state, x, y, m, replay=True)


def incremental(args):
    steps = incremental_stream(args.classes, args.per_class, args.dim)
    ref_params = gdm.GDMParams()                       # the reference memories' numbers
    params = ref_params.cast(gdm.GDMConfig().dtype)    # the jitted kernels', traced
    kernel_jit = jax.jit(_whole_capacity, static_argnums=0, donate_argnums=2)
    per_trajectory_jit = jax.jit(_per_trajectory, static_argnums=0, donate_argnums=2)

    def run_per_trajectory(cfg, state, x, y, m):
        chunked = memory.replay_unchecked
        memory.replay_unchecked = _per_trajectory_replay      # what `_learn_class_body` calls
        try:
            return per_trajectory_jit(cfg, params, state, x, y, m)
        finally:
            memory.replay_unchecked = chunked

    run = {"per_trajectory": run_per_trajectory,
           "kernel": lambda cfg, s, x, y, m: kernel_jit(cfg, params, s, x, y, m),
           "public": lambda cfg, s, x, y, m: gdm.learn_class(cfg, s, x, y, m, replay=True, donate=True)}
    impls = [i for i in IMPLS if i in args.impls]
    rows, compile_s, overflow = [], {}, {}
    for cap in args.capacities:
        cfg = gdm.GDMConfig(dim=args.dim, capacity=cap, num_classes=args.classes)   # GDM + replay: replay=True above
        states = {}
        ref = ReferenceGDM(reference_kwargs(cfg.episodic, ref_params.episodic),
                           reference_kwargs(cfg.semantic, ref_params.semantic), replay=True)
        ref.init(*steps[0])
        for impl in impls:                             # first pass: compiles every shape
            t0 = time.perf_counter()
            s = gdm.init(cfg, *steps[0])
            for x, y, m in steps:
                s = run[impl](cfg, s, x, y, m)
            jax.block_until_ready(s)
            compile_s[f"{impl}_{cap}"] = time.perf_counter() - t0
            states[impl] = gdm.init(cfg, *steps[0])
        for c, (x, y, m) in enumerate(steps):         # second pass, timed, in alternation
            t0 = time.perf_counter()
            ref.learn_class(x, y, m)
            t = {"numpy": time.perf_counter() - t0}
            for impl in impls:
                t0 = time.perf_counter()
                states[impl] = jax.block_until_ready(run[impl](cfg, states[impl], x, y, m))
                t[impl] = time.perf_counter() - t0
            last = states[impls[-1]]
            row = dict(capacity=cap, class_step=c, samples=int(m.sum()),
                       episodic_nodes=int(last.episodic.num_nodes), numpy_s=t["numpy"],
                       **{f"{i}_s": t[i] for i in impls}, **{f"{i}_x_numpy": t["numpy"] / t[i] for i in impls})
            if "per_trajectory" in t and "kernel" in t:
                row["kernel_x_per_trajectory"] = t["per_trajectory"] / t["kernel"]
            if "kernel" in t and "public" in t:
                row["public_x_kernel"] = t["kernel"] / t["public"]
            rows.append(row)
            print(f"N={cap:5d} class {c}: numpy {t['numpy']:.3f} s  "
                  + "  ".join(f"{i} {t[i]:.3f} s" for i in impls), flush=True)
        for impl in impls[1:]:                          # the JAX forms agree, leaf by leaf
            for name in ("episodic", "semantic"):
                a, b = (getattr(states[i], name) for i in (impls[0], impl))
                for (path, u), v in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
                    assert np.array_equal(np.asarray(u), np.asarray(v)), (cap, impl, name, jax.tree_util.keystr(path))
        last = states[impls[-1]]
        overflow[cap] = {name: {f: int(getattr(getattr(last, name), f)) for f in ("edge_overflow", "temporal_overflow")}
                         for name in ("episodic", "semantic")}
    time_cols = ["numpy_s"] + [f"{i}_s" for i in impls]
    ratio_cols = [f"{i}_x_numpy" for i in impls] + [k for k in ("kernel_x_per_trajectory", "public_x_kernel")
                                                     if k in rows[0]]
    print()
    print(table(rows, ["capacity", "class_step", "samples", "episodic_nodes"] + time_cols + ratio_cols))
    totals = [dict(capacity=cap, **{k: sum(r[k] for r in rows if r["capacity"] == cap) for k in time_cols})
              for cap in args.capacities]
    print(table(totals, ["capacity"] + time_cols))
    print("edges and temporal links that gave way (max_degree):", overflow)
    path = write_json("gdm_incremental", {"rows": rows, "totals": totals, "first_pass_s": compile_s,
                                          "impls": impls, "overflow": overflow, "classes": args.classes,
                                          "per_class": args.per_class, "dim": args.dim})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
