"""`clifer`: the command line of clifer-jax.

    clifer run [--dataset synthetic] [--synthetic posed|spontaneous|easy] [--out runs/default] [--protocol heldout|reference]
               [--models clifer gdm ...] [--order-study] [--seed 0] [--set PATH=VALUE ...]
    clifer config [--set PATH=VALUE ...]          # every config path with its value
    clifer sweep --grid PATH=V1,V2,... [--grid ...] [--models gdm clifer] [--set ...] [--out runs/sweep]
"""

from __future__ import annotations

import argparse
import sys

from clifer_jax.classes import class_index
from clifer_jax.experiment import MODELS
from experiments.configs import DATASETS, PROTOCOLS, get_config


SET_HELP = ("set any leaf of the config tree, e.g. --set gdm.episodic.a_t=0.5 --set mlp.epochs=40 "
            "(repeatable, applied after the other flags; `clifer config` lists every path)")


def add_run_options(r: argparse.ArgumentParser, out: str = "runs/default") -> None:
    """The options `clifer run` and `clifer sweep` share (add new run options here)."""
    r.add_argument("--dataset", default="synthetic", help=f"one of {DATASETS}")
    r.add_argument("--out", default=out, help="output folder (resumes if it holds this run)")
    r.add_argument("--protocol", default="heldout", help=f"one of {PROTOCOLS}")
    r.add_argument("--models", nargs="+", default=list(MODELS), help=f"subset of {MODELS}")
    r.add_argument("--order", nargs="+", default=None, help="class names in learning order")
    r.add_argument("--order-study", action="store_true", help="also run six orders (each class first)")
    r.add_argument("--order-models", nargs="+", default=["clifer"], help="models of the order study")
    r.add_argument("--caae-preset", default=None, help="cpu (default without accelerator) or paper")
    r.add_argument("--caae-epochs", type=int, default=None, help="override the preset's CAAE epochs")
    r.add_argument("--feature-norm", default="pool", choices=["pool", "none"],
                   help="standardise latents by the CAAE training pool's statistics (default) or not")
    r.add_argument("--imagination-order", default="reference", choices=["reference", "blocks"],
                   help="CLIFER's imagination set: per BMU v then its imaginings (reference) or in blocks")
    r.add_argument("--imagination", default="caae", choices=["caae", "oracle", "none"],
                   help="CLIFER's imagined samples: the CAAE's, the renderer's true faces (oracle; "
                        "synthetic data only) or none (ablation)")
    r.add_argument("--synthetic", default="posed", metavar="PRESET",
                   help="synthetic data preset: posed (default), spontaneous or easy (docs/data.md)")
    r.add_argument("--subjects", type=int, default=None, help="use only the first n subjects")
    r.add_argument("--data-dir", default=None, help="where a real dataset's TFDS build lives")
    r.add_argument("--manual-dir", default=None, help="the downloaded dataset files (docs/data.md)")
    r.add_argument("--seed", type=int, default=0, help="data seed (and the CAAE's, without --caae-seeds)")
    r.add_argument("--caae-seeds", type=int, nargs="+", default=None,
                   help="train one CAAE per seed and run every model on each; results over seeds "
                        "(the first seed's make the headline table)")
    r.add_argument("--devices", type=int, default=None,
                   help="shard subjects over the first n devices (default: one; see docs/scaling.md)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--allow-centre-crops", action="store_true",
                   help="run on a real dataset where no face was detected (centre crops)")
    r.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="sets", help=SET_HELP)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clifer", description="CLIFER experiments in JAX.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run (or resume) an experiment; writes results.json, report.md, plots/",
                       epilog="config paths for --set: see `clifer config`")
    add_run_options(r)
    c = sub.add_parser("config", help="list every config path with its value (after --set)")
    add_run_options(c)
    w = sub.add_parser("sweep", help="a grid over GDM params and class orders, one compiled call per model; "
                                     "writes sweep.json, sweep.csv, plots/")
    add_run_options(w, out="runs/sweep")
    w.add_argument("--grid", action="append", default=[], metavar="PATH=V1,V2,...", required=True,
                   help="a swept path and its values (repeatable: the full grid over all of them); "
                        "paths: gdm.episodic.*, gdm.semantic.*, order")
    w.add_argument("--caae-dir", default=None,
                   help="use this CAAE checkpoint folder (e.g. runs/default/caae) instead of training one")
    w.add_argument("--point-batch", type=int, default=None,
                   help="run this many grid points at a time inside the one compiled call (bounds "
                        "memory; CLIFER's imagination on many points can need it)")
    w.set_defaults(models=["gdm", "gdm_replay", "clifer"])
    return p


def main(argv=None) -> int:
    """Exit 0 on success, 2 with `clifer: error: …` for an expected failure (docs/troubleshooting.md),
    130 on Ctrl-C; a traceback only for a bug."""
    args = build_parser().parse_args(argv)
    from experiments.errors import guarded

    return guarded(lambda: _main(args), resume_hint=f"finished work is kept in {args.out}; "
                   "run the same command to resume")


def config_from_args(args):
    """The resolved config tree of `clifer run` / `config` / `sweep` arguments."""
    cfg = get_config(args.dataset)
    changes = dict(protocol=args.protocol, models=tuple(args.models), order_study=args.order_study,
                   order_models=tuple(args.order_models), caae_epochs=args.caae_epochs,
                   subjects=args.subjects, data_dir=args.data_dir, manual_dir=args.manual_dir,
                   seed=args.seed, feature_norm=args.feature_norm,
                   caae_seeds=tuple(args.caae_seeds) if args.caae_seeds else None,
                   imagination_order=args.imagination_order, imagination=args.imagination,
                   synthetic_preset=args.synthetic)
    if args.order:
        changes["order"] = tuple(class_index(n) for n in args.order)
    if args.caae_preset:
        changes["caae_preset"] = args.caae_preset
    if args.allow_centre_crops:
        changes["allow_centre_crops"] = True
    return cfg.replace(**changes).set(*args.sets)


def _main(args) -> int:
    from experiments.runner import ExperimentError, run_experiment

    try:
        cfg = config_from_args(args)
        if args.command == "config":
            from clifer_jax.config_tree import format_paths

            print(format_paths(cfg))
        elif args.command == "sweep":
            from experiments.sweep import run_sweep, table

            out = run_sweep(cfg, args.grid, args.out, caae_dir=args.caae_dir, progress=not args.no_progress,
                            devices=args.devices, point_batch=args.point_batch)
            print(table(out))
        else:
            run_experiment(cfg, args.out, progress=not args.no_progress, devices=args.devices)
    except (ValueError, ExperimentError) as e:
        print(f"clifer: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
