"""Paired figures that a single results.json does not hold (docs/results.md quotes them).

    python -m experiments.paired cells runs/seeds clifer clifer_none --config experiments/configs/seeds.py
    python -m experiments.paired runs runs/dev runs/dev_lcw005
    python -m experiments.paired tails runs/order

* ``cells``: model A − model B, same memory, in every (data seed, CAAE seed) cell of a
  seeds run: each cell's mean paired difference per headline figure, their range, and how
  many cells have it wholly below 0 (its CI).
* ``runs``: the same model in two runs on the same subjects (e.g. two CAAE presets on the
  development subjects): run A − run B per model, memory and figure (mean ± 95% CI,
  Wilcoxon p, not adjusted).
* ``tails``: the order study's Friedman test at the last step on one tail per first class
  at a time (the tail-1 orders, the tail-2 orders, …), beside the test on the tails' mean.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import orbax.checkpoint as ocp

from clifer_jax import metrics
from clifer_jax.cli import load_config_file
from clifer_jax.study import data as study_data
from clifer_jax.study import models, orders, runner, scores
from clifer_jax.study.config import StudyConfig
from experiments.compare import load

FIGURES = scores.HEADLINE_FIGURES


def cells(run, a: str, b: str, cfg: StudyConfig) -> dict:
    """{memory: {figure: [(data seed, CAAE seed, mean, ci95, p)]}} of a − b in every cell."""
    cfg = cfg.replace(subject_set=cfg.subject_set_for("run"))
    shared = [m for m in models.memories(a) if m in models.memories(b)]
    if not shared:
        raise ValueError(f"models {a!r} and {b!r} share no memory")
    ckpt = ocp.PyTreeCheckpointer()
    out: dict = {}
    for d in cfg.data_seed_list():
        _, test = study_data.load_data(runner.for_data_seed(cfg, d), progress=False)
        for c in cfg.caae_seeds or (cfg.seed,):
            tag = runner.seed_tag(cfg, c, d)
            pa, pb = (ckpt.restore(Path(run).resolve() / "units" / f"{m}@default{tag}" / "data") for m in (a, b))
            for mem in shared:
                fa, fb = (scores.headline_figures(scores.score(p[mem], test.y, test.mask, cfg.order))
                          for p in (pa, pb))
                for f in FIGURES:
                    r = metrics.paired_difference(fa[f], fb[f])
                    out.setdefault(mem, {}).setdefault(f, []).append((d, c, r["mean"], r["ci95"], r["p"]))
    return out


def runs(run_a, run_b) -> dict:
    """{"model/memory/figure": paired_difference} of the models both runs ran."""
    ra, rb = load(run_a), load(run_b)
    if ra["subjects"] != rb["subjects"] or ra.get("subject_set") != rb.get("subject_set"):
        raise ValueError("the two runs are not on the same subjects")
    out = {}
    for model in [m for m in ra["models"] if m in rb["models"]]:
        for mem in models.memories(model):
            for f in ("exp1_f1_avg", "exp2_f1_first_step", "exp2_f1_final"):
                va, vb = (_per_subject(r["models"][model][mem], f) for r in (ra, rb))
                out[f"{model}/{mem}/{f}"] = metrics.paired_difference(va, vb)
    return out


def _per_subject(entry: dict, figure: str) -> np.ndarray:
    if figure == "exp1_f1_avg":
        return np.asarray(entry["exp1_f1_avg"]["per_subject"])
    f1 = np.asarray(entry["exp2_f1"]["per_subject"])
    return f1[:, 0] if figure == "exp2_f1_first_step" else f1[:, -1]


def tails(run) -> dict:
    """{model/memory: {"tail <i>": Friedman p, "mean of tails": p}} at the last step."""
    out = {}
    for model, mems in load(run)["order_study"].items():
        for mem, entry in mems.items():
            t = entry["exp2_f1_last_step"]
            per_tail = t["per_tail_order"]
            row = {}
            for i in range(1, entry["tails"] + 1):
                groups = {orders.first_class(n): v for n, v in per_tail.items() if n.endswith(f"_t{i}")}
                row[f"tail {i}"] = orders.friedman_orders(groups)["p_value"]
            row["mean of tails"] = t.get("friedman", {}).get("p_value", float("nan"))
            out[f"{model}/{mem}"] = row
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cells", help="model A − model B in every cell of a seeds run")
    c.add_argument("run")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--config", default=None, help="the config file the run was made with")
    r = sub.add_parser("runs", help="run A − run B, model by model, on the same subjects")
    r.add_argument("run_a")
    r.add_argument("run_b")
    t = sub.add_parser("tails", help="the order study's Friedman test one tail at a time")
    t.add_argument("run")
    args = p.parse_args(argv)
    try:
        if args.what == "cells":
            cfg = load_config_file(args.config) if args.config else StudyConfig()
            for mem, figs in cells(args.run, args.a, args.b, cfg).items():
                for f, rows in figs.items():
                    means = [row[2] for row in rows]
                    below = sum(row[2] + row[3] < 0 for row in rows)
                    print(f"{args.a} − {args.b}, {mem}, {f}: {min(means):+.3f} … {max(means):+.3f} over "
                          f"{len(rows)} cells (mean {np.mean(means):+.3f}); CI wholly below 0 in {below}")
        elif args.what == "runs":
            for k, d in runs(args.run_a, args.run_b).items():
                print(f"{k}: {d['mean']:+.3f} ± {d['ci95']:.3f} (Wilcoxon p {d['p']:.2g}, n {d['n']})")
        else:
            for k, row in tails(args.run).items():
                print(f"{k}: " + ", ".join(f"{n} p {v:.2g}" for n, v in row.items()))
    except (FileNotFoundError, ValueError) as e:
        print(f"paired: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
