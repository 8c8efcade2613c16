"""Time of one GDM class step, vmapped over subjects, against the NumPy reference loop.

One class step of the synthetic default's size (24 samples, mini-batches of 5,
10 epochs each), the reference configuration, after a first step so that both
memories have grown. Prints a table; writes benchmarks/results/gdm.json.

    python -m benchmarks.gdm [--subjects 1 8 24 96] [--replay]
    python -m benchmarks.gdm --incremental [--capacities 160 640 1024]

`--incremental`: one subject, a class-incremental run (GDM + replay) at several episodic
capacities, timed per class step for the NumPy reference, the kernel as it was before the
capacity-headroom work ("before": `learn_class_unchecked` on the whole capacity, one
training call per replayed trajectory, every call ending with the N×N passes that the
edge log replaced: `memory.replay_unchecked` and `gwr.train.end_call` are swapped for
their old forms while it is traced) and the public `gdm.learn_class`
("after": high-water blocks, length buckets, the one-loop replay pass, state donated).
The three run in alternation, class step by class step, on the same stream; JAX is timed
on a second pass over the stream (the first compiles). Writes gdm_incremental.json.
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import n2_call_end, reference_kwargs, table, write_json
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


def _before_replay(config, params, ep, se, pseudo):
    """The replay pass as it was: one `train_unchecked` call (with its N×N end) per
    trajectory, in a `while_loop` over the valid ones (`memory.replay_unchecked`'s
    signature)."""
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


TRAIN_MOD = sys.modules["clifer_jax.gwr.train"]


def _before_learn(config, params, state, x, y, m):
    return gdm.learn_class_unchecked(config, params, state, x, y, m, replay=True)


def incremental(args):
    steps = incremental_stream(args.classes, args.per_class, args.dim)
    before_jit = jax.jit(_before_learn, static_argnums=0)
    ref_params = gdm.GDMParams()                       # the reference memories' numbers
    params = ref_params.cast(gdm.GDMConfig().dtype)    # the "before" kernel's, traced

    def run_before(cfg, state, x, y, m):
        new_replay, new_end = memory.replay_unchecked, TRAIN_MOD.end_call
        memory.replay_unchecked = _before_replay       # traced with the old pass
        TRAIN_MOD.end_call = n2_call_end               # and the old call end
        try:
            return before_jit(cfg, params, state, x, y, m)
        finally:
            memory.replay_unchecked, TRAIN_MOD.end_call = new_replay, new_end

    rows, compile_s = [], {}
    for cap in args.capacities:
        cfg = gdm.GDMConfig(dim=args.dim, capacity=cap, num_classes=args.classes)   # GDM + replay: replay=True below
        states = {}
        ref = ReferenceGDM(reference_kwargs(cfg.episodic, ref_params.episodic),
                           reference_kwargs(cfg.semantic, ref_params.semantic), replay=True)
        ref.init(*steps[0])
        for impl in ("before", "after"):               # first pass: compiles every shape
            t0 = time.perf_counter()
            s = gdm.init(cfg, *steps[0])
            for x, y, m in steps:
                s = (run_before(cfg, s, x, y, m) if impl == "before"
                     else gdm.learn_class(cfg, s, x, y, m, replay=True, donate=True))
            jax.block_until_ready(s)
            compile_s[f"{impl}_{cap}"] = time.perf_counter() - t0
            states[impl] = gdm.init(cfg, *steps[0])
        for c, (x, y, m) in enumerate(steps):         # second pass, timed, in alternation
            t0 = time.perf_counter()
            ref.learn_class(x, y, m)
            t_np = time.perf_counter() - t0
            t = {}
            for impl in ("before", "after"):
                t0 = time.perf_counter()
                s = states[impl]
                s = (run_before(cfg, s, x, y, m) if impl == "before"
                     else gdm.learn_class(cfg, s, x, y, m, replay=True, donate=True))
                states[impl] = jax.block_until_ready(s)
                t[impl] = time.perf_counter() - t0
            rows.append(dict(capacity=cap, class_step=c, samples=int(m.sum()),
                             episodic_nodes=int(states["after"].episodic.num_nodes),
                             numpy_s=t_np, before_s=t["before"], after_s=t["after"],
                             after_x_numpy=t_np / t["after"], before_x_numpy=t_np / t["before"],
                             after_x_before=t["before"] / t["after"]))
            print(f"N={cap:5d} class {c}: numpy {t_np:.3f} s  before {t['before']:.3f} s  "
                  f"after {t['after']:.3f} s", flush=True)
        for name in ("episodic", "semantic"):        # the two JAX runs agree
            for f in ("weights", "active", "edges", "temporal"):
                a, b = (np.asarray(getattr(getattr(states[i], name), f)) for i in ("before", "after"))
                assert np.array_equal(a, b), (cap, name, f)
    print()
    print(table(rows, ["capacity", "class_step", "samples", "episodic_nodes", "numpy_s", "before_s",
                       "after_s", "after_x_numpy", "before_x_numpy", "after_x_before"]))
    totals = [dict(capacity=cap, **{k: sum(r[k] for r in rows if r["capacity"] == cap)
                                    for k in ("numpy_s", "before_s", "after_s")})
              for cap in args.capacities]
    print(table(totals, ["capacity", "numpy_s", "before_s", "after_s"]))
    path = write_json("gdm_incremental", {"rows": rows, "totals": totals, "first_pass_s": compile_s,
                                          "classes": args.classes, "per_class": args.per_class,
                                          "dim": args.dim})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
