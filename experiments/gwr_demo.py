"""Demo: grow a Gamma-GWR on a generated stream and print how it grows.

    python -m experiments.gwr_demo [--samples 1200] [--dim 50] [--capacity 1024]

Six classes arrive one after another (as in CLIFER's class-incremental
protocol); after each, the table shows nodes, edges, quantization error and
the accuracy of the node labels on every class seen so far. Edges age out
after `max_age` updates, so nodes of classes not seen for long are pruned:
that is the forgetting the dual memory and replay of CLIFER work against
(try --epochs 5).
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
from tqdm import tqdm

from clifer_jax import EXPRESSIONS, DEFAULT_ORDER, gwr


def generated_stream(seed: int, n: int, dim: int, classes: int = 6):
    """Class-structured samples: per class a few sub-clusters in [-1, 1]^dim."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.8, 0.8, (classes, 3, dim))
    y = np.repeat(np.arange(classes), n // classes)
    sub = rng.integers(0, 3, len(y))
    x = centres[y, sub] + 0.05 * rng.standard_normal((len(y), dim))
    return np.clip(x, -1, 1).astype(np.float32), y.astype(np.int32)


def main(argv=None):
    p = argparse.ArgumentParser(description="Grow a Gamma-GWR class by class and print its growth.")
    p.add_argument("--samples", type=int, default=1200, help="total samples (split over 6 classes)")
    p.add_argument("--dim", type=int, default=50)
    p.add_argument("--capacity", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    x, y = generated_stream(args.seed, args.samples, args.dim)
    cfg = gwr.episodic_config(args.dim, args.capacity, num_heads=1)
    state = gwr.init(cfg, x[:2], y[:2, None])
    print(f"Gamma-GWR: capacity {cfg.capacity}, D={cfg.dim}, backend {jax.default_backend()}")
    print(f"{'step':>4} {'class':<10} {'nodes':>6} {'edges':>6} {'q.err':>7} {'acc(seen)':>9} {'samples/s':>10}")
    seen = []
    for i, c in enumerate(tqdm(DEFAULT_ORDER, desc="classes", leave=False)):
        xc, yc = x[y == c], y[y == c]
        t0 = time.perf_counter()
        state = gwr.train(cfg, state, xc, yc[:, None], epochs=args.epochs)
        jax.block_until_ready(state)
        rate = len(xc) * args.epochs / (time.perf_counter() - t0)
        seen.append(c)
        mask = np.isin(y, seen)
        pred = gwr.predict(cfg, state, x[mask])
        acc = float(np.mean(np.asarray(pred.labels[:, 0]) == y[mask]))
        qe = float(gwr.quantization_error(cfg, state, x[mask]))
        print(f"{i + 1:>4} {EXPRESSIONS[c]:<10} {int(state.num_nodes):>6} "
              f"{int(np.sum(np.asarray(state.neighbours) >= 0)) // 2:>6} {qe:>7.3f} {acc:>9.3f} {rate:>10,.0f}")
    if int(state.refused_insertions):
        print(f"refused insertions (network full): {int(state.refused_insertions)}")


if __name__ == "__main__":
    main()
