"""Neighbour lists against the dense N×N layout they replaced, side by side in one run.

The dense layout is the library at `DENSE_REVISION` (the last release with N×N `edges`,
`edge_birth` and `temporal` arrays), exported from this repository's history with
`git archive` into a temporary folder. The same workload script runs against each tree in
its own process (`PYTHONPATH` set to the tree), the two alternating `--repeat` rounds, best
round kept; it uses only the API both share (`GWRConfig`, `init_unchecked`,
`train_unchecked`, `train`).

Workloads (D = 50, the episodic defaults, a_T scaled to D as `benchmarks/gwr_kernel.py`):

* `step`: the marginal cost of one update step, one network or S vmapped, state donated,
  from the time of a T-sample and a 4T-sample call: samples/s (S networks: aggregate);
* `call`: a 1,000-sample public `gwr.train` call on a network grown to 1,000 nodes, held at
  capacity N, plain (not donated, as a user writes it) and donated.

Writes benchmarks/results/topology.json and prints each row's `lists_x_dense` (samples/s of
the lists over the dense layout's; for `call`, the dense call's time over the lists').

    python -m benchmarks.topology                   # N = 256, 1,024 at 1 and 64 networks; calls at 1,024, 16,384
    python -m benchmarks.topology --quick           # minutes: fewer steps and rounds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from benchmarks.common import table, write_json

ROOT = Path(__file__).resolve().parents[1]
DENSE_REVISION = "af79285"        # the last commit with the dense N×N topology

WORKLOAD = r'''
import json, sys, time, warnings
import jax, jax.numpy as jnp, numpy as np
from clifer_jax import gwr

spec = json.loads(sys.argv[1])
D = 50
P = gwr.GWRParams(activity_threshold=float(np.exp(-0.5 * np.sqrt(D / 6))))


def stream(seed, n, batch=()):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, batch + (n, D)).astype(np.float32),
            rng.integers(0, 6, batch + (n, 2)).astype(np.int32))


def step_rate(capacity, networks, steps):
    cfg = gwr.episodic_config(D, capacity)
    p = P.cast(cfg.dtype)
    x, y = (jnp.asarray(a) for a in stream(0, 4 * steps, (networks,)))
    v = jnp.ones(x.shape[:-1], bool)
    train = jax.vmap(lambda p, s, x, y, v: gwr.train_unchecked(cfg, p, s, x, y, v), in_axes=(None, 0, 0, 0, 0))
    fn = jax.jit(train, donate_argnums=1)
    s0 = jax.jit(jax.vmap(lambda p, x, y: gwr.init_unchecked(cfg, p, x[:2], y[:2]), in_axes=(None, 0, 0)))(p, x, y)
    s0 = jax.jit(train)(p, s0, x[:, :8], y[:, :8], v[:, :8])
    best = {}
    for t in (steps, 4 * steps):
        compiled = fn.lower(p, s0, x[:, :t], y[:, :t], v[:, :t]).compile()
        best[t] = float("inf")
        for _ in range(3):
            s = jax.block_until_ready(jax.tree.map(jnp.copy, s0))
            t0 = time.perf_counter()
            out = jax.block_until_ready(compiled(p, s, x[:, :t], y[:, :t], v[:, :t]))
            best[t] = min(best[t], time.perf_counter() - t0)
            del out
    step = max(best[4 * steps] - best[steps], 1e-9) / (3 * steps)
    return {"samples_per_s": networks / step, "step_us": 1e6 * step}


def grown(active):
    cap = 1 << (active - 1).bit_length()
    cfg = gwr.episodic_config(D, cap).replace(max_nodes=active)
    x, y = stream(0, 40 * active)
    st = gwr.init(cfg, x[:2], y[:2], params=P)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(40):
            st = gwr.train(cfg, st, x[i * active:(i + 1) * active], y[i * active:(i + 1) * active],
                           remove_isolated=False, params=P)
            if int(st.num_nodes) == active:
                break
    return st


def call_time(capacity, active, samples, donate):
    base = grown(active)
    cfg = gwr.episodic_config(D, capacity).replace(max_nodes=active)
    extra = capacity - base.active.shape[0]
    fields = {}
    for name in base.__dataclass_fields__:
        a = getattr(base, name)
        if a.ndim == 0 or name in ("prev_weights", "edge_log"):
            continue
        axes = [i for i, n in enumerate(a.shape) if n == base.active.shape[0]]
        if name == "label_hist":
            axes = [1]
        fields[name] = jnp.pad(a, [(0, extra if i in axes else 0) for i in range(a.ndim)],
                               constant_values=-1 if name in ("neighbours", "successors") else 0)
    st0 = base.replace(**fields, max_nodes=jnp.asarray(active, jnp.int32))
    x, y = stream(1, samples)
    best = float("inf")
    for r in range(4):
        s = jax.block_until_ready(jax.tree.map(jnp.copy, st0))
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = gwr.train(cfg, s, x, y, params=P, donate=donate)
        jax.block_until_ready(out)
        if r:
            best = min(best, time.perf_counter() - t0)
        del out
    return {"call_ms": 1e3 * best}


if spec["kind"] == "step":
    out = step_rate(spec["capacity"], spec["networks"], spec["steps"])
else:
    out = call_time(spec["capacity"], spec["active"], spec["samples"], spec["donate"])
print("RESULT " + json.dumps(out))
'''


def dense_tree(folder: Path) -> Path | None:
    """The library at DENSE_REVISION, exported into `folder` (None: this checkout has no
    git history, e.g. a copied working tree)."""
    archive = folder / "dense.tar"
    with open(archive, "wb") as f:
        done = subprocess.run(["git", "-C", str(ROOT), "archive", DENSE_REVISION, "clifer_jax"], stdout=f,
                              stderr=subprocess.PIPE)
    if done.returncode != 0:
        print(f"no dense baseline: git archive {DENSE_REVISION} failed ({done.stderr.decode().strip()[:200]}); "
              f"timing the lists alone", flush=True)
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "dense", filter="data")
    return folder / "dense"


def run(tree: Path, spec: dict, timeout: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "")}
    proc = subprocess.run([sys.executable, "-c", WORKLOAD, json.dumps(spec)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=tree)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout).strip()[-400:]}
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and rounds")
    p.add_argument("--capacities", type=int, nargs="+", default=[256, 1024])
    p.add_argument("--networks", type=int, nargs="+", default=[1, 64])
    p.add_argument("--call-capacities", type=int, nargs="+", default=[1024, 16384])
    p.add_argument("--repeat", type=int, default=None, help="alternating rounds (default 3; --quick 2)")
    p.add_argument("--timeout", type=int, default=900, help="seconds per workload process")
    args = p.parse_args(argv)
    repeat = args.repeat or (2 if args.quick else 3)
    steps = 100 if args.quick else 250

    specs = [dict(kind="step", capacity=n, networks=s, steps=steps if s > 1 else 4 * steps)
             for n in args.capacities for s in args.networks]
    specs += [dict(kind="call", capacity=n, active=1000, samples=1000, donate=d)
              for n in args.call_capacities for d in (False, True)]
    with tempfile.TemporaryDirectory() as tmp:
        dense = dense_tree(Path(tmp))
        trees = {"lists": ROOT, **({"dense": dense} if dense else {})}
        best: dict = {}
        for rnd in range(repeat):                       # the layouts alternate, workload by workload
            for i, spec in enumerate(specs):
                for layout, tree in trees.items():
                    r = run(tree, spec, args.timeout)
                    print(f"round {rnd + 1}/{repeat} {layout:5s} {spec} -> {r}", flush=True)
                    key = (i, layout)
                    if "error" in r:
                        best.setdefault(key, r)
                    elif spec["kind"] == "step":
                        if "samples_per_s" not in best.get(key, {}) or r["samples_per_s"] > best[key]["samples_per_s"]:
                            best[key] = r
                    elif "call_ms" not in best.get(key, {}) or r["call_ms"] < best[key]["call_ms"]:
                        best[key] = r
    rows = []
    for i, spec in enumerate(specs):
        lists, dense = best[i, "lists"], best.get((i, "dense"), {"error": "no dense baseline"})
        row = dict(spec, lists=lists, dense=dense)
        if spec["kind"] == "step" and "samples_per_s" in lists and "samples_per_s" in dense:
            row.update(lists_samples_per_s=lists["samples_per_s"], dense_samples_per_s=dense["samples_per_s"],
                       lists_x_dense=lists["samples_per_s"] / dense["samples_per_s"])
        elif spec["kind"] == "call" and "call_ms" in lists and "call_ms" in dense:
            row.update(lists_call_ms=lists["call_ms"], dense_call_ms=dense["call_ms"],
                       lists_x_dense=dense["call_ms"] / lists["call_ms"])
        rows.append(row)
    steps_rows = [r for r in rows if r["kind"] == "step"]
    call_rows = [r for r in rows if r["kind"] == "call"]
    print(f"update steps, state donated (dense layout: {DENSE_REVISION}); lists_x_dense > 1: lists faster")
    print(table(steps_rows, ["capacity", "networks", "lists_samples_per_s", "dense_samples_per_s", "lists_x_dense"]))
    print("a 1,000-sample gwr.train call, 1,000 active nodes; lists_x_dense = dense time / lists time")
    print(table(call_rows, ["capacity", "donate", "lists_call_ms", "dense_call_ms", "lists_x_dense"]))
    path = write_json("topology" + ("_quick" if args.quick else ""),
                      {"dense_revision": DENSE_REVISION, "repeat": repeat, "dim": 50, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
