"""Headroom: what a generous capacity costs. One Gamma-GWR network grown to 1,000 active
nodes (D = 50), then timed on update steps with that same network held at capacities
1,024, 2,048, 4,096 and 16,384 (the extra slots empty).

Each capacity trains two calls from the same state (250 and 1,000 samples, the network
full, so every step adapts); the difference splits a call's time into the cost of one
more step and a fixed cost per call. Capacities are timed in alternation, best of
`--repeat` rounds, so that a busy machine weighs on every row alike. Calls go through the
public `gwr.train` in two forms: `after`, with `donate=True` (the caller hands its state
over, as a training loop does), and `plain`, the call as a user writes it,
`st = gwr.train(cfg, st, xs, ys, params=P)` (not donated: the call copies the state). Every
form trains with the same numbers P (`benchmarks.gwr_kernel.params`: the episodic
defaults, a_T scaled to D).

With `--before` (default) the same calls also run, in the same alternation, through the
kernel on the whole capacity with the state donated (no block) in two forms: `kernel`,
today's `train_unchecked`, whose call ends from the edge log (O(L + N·max_degree)), and
`n2_end`, the same steps ending with the N×N passes as every call did before the edge
log (`prune_old_edges`, `remove_isolated_nodes`). Writes benchmarks/results/headroom.json:
{"active": 1000, "rows": [{"capacity", "samples_per_s", "per_call_ms", ...}, ...],
 "plain_rows": [...], "kernel_rows": [...], "n2_end_rows": [...]} ("rows": `after`) and
prints each row's ratios to the capacity-1,024 row of the same form, and its
1,000-sample call's time over `after`'s at the same capacity (`x_after`).

    python -m benchmarks.headroom [--capacities 1024 2048 4096 16384] [--repeat 3]
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
import warnings

import jax
import jax.numpy as jnp

from benchmarks.common import n2_call_end, table, write_json
from benchmarks.gwr_kernel import config as gwr_config, params as gwr_params, stream
from clifer_jax import gwr
from clifer_jax.gwr import blocks, call_end

DIM = 50
TRAIN_MOD = sys.modules["clifer_jax.gwr.train"]


PARAMS = gwr_params(DIM)          # the numbers every form trains with (GWRParams)


def n2_end_call(config, params, state, xs, ys, valid):
    """One epoch of the kernel's steps ending with the N×N passes (the call end before the
    edge log)."""
    def sample(st, inp):
        return gwr.step_unchecked(config, params, st, *inp), None

    state, _ = jax.lax.scan(sample, TRAIN_MOD.start_call(state), (xs, ys, valid))
    return n2_call_end(config, params, state)


def n2_end(config, params, state):
    """The N×N call end: pruning and isolated-node removal over the N×N arrays."""
    return n2_call_end(config, params, state)


# A call's end alone, state donated: from the edge log, and over the N×N arrays.
ENDS = {"log_end_ms": jax.jit(lambda config, p, s: call_end.end_call(config, p, s), static_argnums=0,
                              donate_argnums=2),
        "n2_end_ms": jax.jit(n2_end, static_argnums=0, donate_argnums=2)}


def time_call_ends(cfgs, prm, states, repeat: int) -> list[dict]:
    """Milliseconds of a call's end alone per capacity, both ways, alternating, best of
    `repeat` after a warm-up (the result is freed after the clock stops: freeing GiBs of
    N×N arrays is the allocator's time, not the end's)."""
    best = {(k, c): float("inf") for c in cfgs for k in ENDS}
    for r in range(repeat + 1):
        for (k, c) in best:
            s = jax.tree.map(jnp.copy, states[c])
            jax.block_until_ready(s)
            t0 = time.perf_counter()
            out = ENDS[k](cfgs[c], prm[c], s)
            jax.block_until_ready(out)
            if r:
                best[k, c] = min(best[k, c], time.perf_counter() - t0)
            del out
    rows = [dict(capacity=c, **{k: 1e3 * best[k, c] for k in ENDS}) for c in cfgs]
    for r in rows:
        r["n2_x_log"] = r["n2_end_ms"] / r["log_end_ms"]
    return rows


# The kernel on the whole capacity, state donated: today's end, and the N×N end.
WHOLE = {"kernel": jax.jit(lambda config, p, s, x, y, v: gwr.train_unchecked(config, p, s, x, y, v),
                           static_argnums=0, donate_argnums=2),
         "n2_end": jax.jit(n2_end_call, static_argnums=0, donate_argnums=2)}


def grown(active: int, seed: int = 0) -> gwr.GWRState:
    """A network of exactly `active` nodes at capacity `active` (rounded up to a power
    of two), grown on the benchmark's uniform stream."""
    cap = 1 << (active - 1).bit_length()
    cfg = gwr_config(cap, DIM).replace(max_nodes=active)
    x, y = stream(seed, 40 * active, DIM)
    state = gwr.init(cfg, x[:2], y[:2], params=PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(40):
            chunk = slice(i * active, (i + 1) * active)
            state = gwr.train(cfg, state, x[chunk], y[chunk], remove_isolated=False, params=PARAMS)
            if int(state.num_nodes) == active:
                break
    if int(state.num_nodes) != active:
        raise RuntimeError(f"network grew to {int(state.num_nodes)} nodes, not {active}")
    return state


def at_capacity(state: gwr.GWRState, capacity: int) -> gwr.GWRState:
    """The same network with empty slots appended up to `capacity`."""
    extra = capacity - state.active.shape[0]

    def pad(a, axes):
        widths = [(0, extra if i in axes else 0) for i in range(a.ndim)]
        return jnp.pad(a, widths)

    fields = {f: pad(getattr(state, f), axes) for f, axes in blocks.CAPACITY_AXES.items()}
    return state.replace(**fields)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--capacities", type=int, nargs="+", default=[1024, 2048, 4096, 16384])
    p.add_argument("--active", type=int, default=1000)
    p.add_argument("--short", type=int, default=250, help="samples of the short call")
    p.add_argument("--long", type=int, default=1000, help="samples of the long call")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--before", action=argparse.BooleanOptionalAction, default=True,
                   help="also time the whole-capacity kernel (edge-log and N×N call ends), alternating")
    p.add_argument("--name", default="headroom", help="JSON file name under benchmarks/results")
    args = p.parse_args(argv)

    base = grown(args.active)
    donate = "donate" in inspect.signature(gwr.train).parameters
    x, y = stream(1, args.long, DIM)
    cfgs = {c: gwr_config(c, DIM).replace(max_nodes=args.active) for c in args.capacities}
    prm = {c: PARAMS.cast(cfgs[c].dtype) for c in args.capacities}     # the kernels' (traced)
    states = {c: jax.block_until_ready(at_capacity(base, c)) for c in args.capacities}
    # plain: the public call not donated (with no `donate` in gwr.train, `after` is that call)
    impls = (["n2_end", "kernel"] if donate and args.before else []) + (["plain"] if donate else []) + ["after"]

    def call(impl: str, c: int, t: int) -> float:
        s = jax.tree.map(jnp.copy, states[c])          # donated: a fresh copy each time
        jax.block_until_ready(s)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if impl in WHOLE:      # the kernel on the whole capacity, state donated
                out = WHOLE[impl](cfgs[c], prm[c], s, jnp.asarray(x[:t]), jnp.asarray(y[:t]), jnp.ones(t, bool))
            elif impl == "plain":  # as a user writes it: st = gwr.train(cfg, st, xs, ys), not donated
                out = gwr.train(cfgs[c], s, x[:t], y[:t], params=PARAMS)
            else:
                out = gwr.train(cfgs[c], s, x[:t], y[:t], params=PARAMS, **({"donate": True} if donate else {}))
        jax.block_until_ready(out)
        return time.perf_counter() - t0

    keys = [(i, c, t) for c in args.capacities for i in impls for t in (args.short, args.long)]
    for k in keys:                                     # compile (and warm) every shape
        call(*k)
    best = {k: float("inf") for k in keys}
    for _ in range(args.repeat):                       # alternate everything each round
        for k in keys:
            best[k] = min(best[k], call(*k))

    rows = []
    for impl in impls:
        for c in args.capacities:
            t_s, t_l = best[impl, c, args.short], best[impl, c, args.long]
            step = max(t_l - t_s, 1e-9) / (args.long - args.short)
            rows.append(dict(impl=impl, capacity=c, samples_per_s=1.0 / step,
                             per_call_ms=1e3 * max(t_s - step * args.short, 0.0),
                             call_1000_ms=1e3 * t_l, call_samples_per_s=args.long / t_l))
    for r in rows:
        ref = next(q for q in rows if q["impl"] == r["impl"])
        r["step_cost_x"] = ref["samples_per_s"] / r["samples_per_s"]
        r["call_cost_x"] = r["call_1000_ms"] / ref["call_1000_ms"]
        same = next(q for q in rows if q["impl"] == "after" and q["capacity"] == r["capacity"])
        r["x_after"] = r["call_1000_ms"] / same["call_1000_ms"]
    print(f"one network, {args.active} active nodes, D = {DIM}; ratios to capacity "
          f"{args.capacities[0]} of the same form (n2_end: whole capacity, N×N call end, state "
          f"donated; kernel: whole capacity, edge-log call end, state donated; plain: public "
          f"gwr.train, high-water block, not donated; after: the same, state donated)")
    print(table(rows, ["impl", "capacity", "samples_per_s", "per_call_ms", "call_1000_ms",
                       "step_cost_x", "call_cost_x", "x_after"]))
    ends = time_call_ends(cfgs, prm, states, args.repeat) if args.before else []
    if ends:
        print(f"a call's end alone (one network, {args.active} nodes, state donated): edge log vs N×N passes")
        print(table(ends, ["capacity", "log_end_ms", "n2_end_ms", "n2_x_log"]))
    after = [r for r in rows if r["impl"] == "after"]
    path = write_json(args.name, {"active": args.active, "dim": DIM, "donate": donate,
                                  "short": args.short, "long": args.long, "repeat": args.repeat,
                                  "rows": after, "call_end_rows": ends,
                                  **{f"{i}_rows": [r for r in rows if r["impl"] == i]
                                     for i in impls if i != "after"}})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
