"""Where a vmapped Gamma-GWR step spends its time: the full step against two of
its parts, timed alone in the same `lax.scan`, for 1 and for 64 networks.

    python -m benchmarks.gwr_vmap_profile [--capacity 256] [--networks 1 64]

Parts: "distances" = context + distances + the two argmins (the memory-bound
floor of a step); "neighbours" = a BMU's neighbours as the step reads them: its row of
the neighbour lists (`state.neighbours[b]`, k = max_degree entries) masked to the live
edges; "topology" = a step's whole topology update (`gwr.topology.step_edges` for an
adapting b–s pair and `step_temporal` for the link b → s: O(k), the rows of b and s, the
lists carried from step to step as in training). "full_dense" is the full step with
`row_updates="dense"` (docs/gwr.md, "Row updates: scatter or dense"). Prints µs per
(batched) step; writes benchmarks/results/gwr_vmap_profile.json.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import table, write_json
from clifer_jax import gwr
from clifer_jax.gwr import topology
from clifer_jax.gwr.distance import best_two, context, distances


def grown_states(cfg, prm, networks: int, steps: int):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-1, 1, (networks, steps, cfg.dim)).astype(np.float32))
    y = jnp.zeros((networks, steps, cfg.num_heads), jnp.int32)
    v = jnp.ones((networks, steps), bool)
    init = jax.vmap(lambda x, y: gwr.init_unchecked(cfg, prm, x[:2], y[:2]))(x, y)
    grow = jax.jit(jax.vmap(lambda p, s, x, y, v: gwr.train_unchecked(cfg, p, s, x, y, v, remove_isolated=False),
                            in_axes=(None, 0, 0, 0, 0)))
    return grow(prm, init, x, y, v), x, y, v


def per_step_us(fn, args, steps: int) -> float:
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / steps


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--capacity", type=int, default=256)
    p.add_argument("--dim", type=int, default=50)
    p.add_argument("--networks", type=int, nargs="+", default=[1, 64])
    p.add_argument("--steps", type=int, default=500)
    args = p.parse_args(argv)
    cfg = gwr.episodic_config(args.dim, args.capacity)
    prm = gwr.GWRParams(activity_threshold=0.05).cast(cfg.dtype)   # traced, shared by the networks

    def full(p, s, x, y, v):
        return gwr.train_unchecked(cfg, p, s, x, y, v, remove_isolated=False).weights

    dense_cfg = cfg.replace(row_updates="dense")

    def full_dense(p, s, x, y, v):
        return gwr.train_unchecked(dense_cfg, p, s, x, y, v, remove_isolated=False).weights

    def dist_only(p, s, x, y, v):
        def body(c, xi):
            g = context(cfg, xi, s.prev_weights, p.beta)
            b, s2 = best_two(distances(cfg, s.weights, s.sq_norms, s.active, g))
            return c + b + s2, None
        return jax.lax.scan(body, jnp.int32(0), x)[0]

    def neighbours_only(p, s, x, y, v):
        def body(c, i):
            b = i % s.num_nodes                                 # an active node (slots 0..n-1 fill first)
            ids = s.neighbours[b]
            live = topology.live(ids, s.edge_birth[b], s.pruned_at, p.max_age)
            return c + jnp.where(live, ids, cfg.capacity).sum(), None
        return jax.lax.scan(body, jnp.int32(0), jnp.arange(x.shape[0]))[0]

    def topology_only(p, s, x, y, v):
        def body(c, i):
            nb, eb, succ, trans = c
            b = i % s.num_nodes                                 # adapting b with s = the next node
            s2 = (i + 1) % s.num_nodes
            t = s.t + i + 1
            nb, eb, _, _, _ = topology.step_edges(nb, eb, s.pruned_at, p.max_age, b, s2, jnp.int32(cfg.capacity),
                                                  jnp.bool_(True), jnp.bool_(False), t)
            succ, trans, _ = topology.step_temporal(succ, trans, b, s2, jnp.bool_(True))
            return (nb, eb, succ, trans), None
        return jax.lax.scan(body, (s.neighbours, s.edge_birth, s.successors, s.transitions),
                            jnp.arange(x.shape[0], dtype=jnp.int32))[0]

    rows = []
    for n in args.networks:
        state, x, y, v = grown_states(cfg, prm, n, args.steps)
        row = {"networks": n, "capacity": cfg.capacity, "dim": cfg.dim}
        for name, fn in (("full_step_us", full), ("full_dense_step_us", full_dense), ("distances_us", dist_only),
                         ("neighbours_us", neighbours_only), ("topology_us", topology_only)):
            row[name] = per_step_us(jax.jit(jax.vmap(fn, in_axes=(None, 0, 0, 0, 0))), (prm, state, x, y, v),
                                    args.steps)
        row["full_per_network_us"] = row["full_step_us"] / n
        row["full_dense_per_network_us"] = row["full_dense_step_us"] / n
        rows.append(row)
        print(row, flush=True)
    print()
    print(table(rows, ["networks", "capacity", "dim", "full_step_us", "full_dense_step_us", "distances_us",
                       "neighbours_us", "topology_us", "full_per_network_us", "full_dense_per_network_us"]))
    print(f"wrote {write_json('gwr_vmap_profile', {'rows': rows})}")


if __name__ == "__main__":
    main()
