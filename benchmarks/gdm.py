"""Time of one GDM class step, vmapped over subjects, against the NumPy reference loop.

One class step of the synthetic default's size (24 samples, mini-batches of 5,
10 epochs each), the reference configuration, after a first step so that both
memories have grown. Prints a table; writes benchmarks/results/gdm.json.

    python -m benchmarks.gdm [--subjects 1 8 24 96] [--replay]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import table, write_json
from clifer_jax import gdm
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
    args = p.parse_args(argv)
    cfg = gdm.reference_config(50, args.capacity, replay=args.replay)

    init_v = jax.jit(jax.vmap(gdm.init_unchecked, in_axes=(None, 0, 0, 0)), static_argnums=0)
    learn_v = jax.jit(jax.vmap(gdm.learn_class_unchecked, in_axes=(None, 0, 0, 0, 0)),
                      static_argnums=0)
    rows = []
    for s in args.subjects:
        x, y, m = (jnp.asarray(a) for a in subject_steps(s, args.length, cfg.dim))
        state = init_v(cfg, x[:, 0], y[:, 0], m[:, 0])
        t0 = time.perf_counter()
        state = jax.block_until_ready(learn_v(cfg, state, x[:, 0], y[:, 0], m[:, 0]))
        first = time.perf_counter() - t0                         # compile + run
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            jax.block_until_ready(learn_v(cfg, state, x[:, 1], y[:, 1], m[:, 1]))
            best = min(best, time.perf_counter() - t0)
        rows.append(dict(impl="jax vmap", subjects=s, step_s=best, per_subject_ms=1e3 * best / s,
                         compile_s=first - best))
        print(f"jax: {s:>3} subjects  {best:.3f} s/step  ({1e3 * best / s:.1f} ms per subject)",
              flush=True)

    x, y, m = subject_steps(1, args.length, cfg.dim)
    fields = lambda c: {f: getattr(c, f) for f in c.__dataclass_fields__}
    ref = ReferenceGDM(fields(cfg.episodic), fields(cfg.semantic), replay=args.replay)
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


if __name__ == "__main__":
    main()
