"""`clifer`: the command line of clifer-jax.

    clifer run [--dataset synthetic] [--synthetic posed|spontaneous|easy] [--out runs/default] [--protocol heldout|reference]
               [--models clifer gdm ...] [--order-study] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys

from clifer_jax.classes import class_index
from clifer_jax.experiment import MODELS
from experiments.configs import DATASETS, PROTOCOLS, get_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clifer", description="CLIFER experiments in JAX.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run (or resume) an experiment; writes results.json, report.md, plots/")
    r.add_argument("--dataset", default="synthetic", help=f"one of {DATASETS}")
    r.add_argument("--out", default="runs/default", help="output folder (resumes if it holds this run)")
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
    return p


def main(argv=None) -> int:
    """Exit 0 on success, 2 with `clifer: error: …` for an expected failure (docs/troubleshooting.md),
    130 on Ctrl-C; a traceback only for a bug."""
    args = build_parser().parse_args(argv)
    from experiments.errors import guarded

    return guarded(lambda: _main(args), resume_hint=f"finished work is kept in {args.out}; "
                   "run the same command to resume")


def _main(args) -> int:
    from experiments.runner import ExperimentError, run_experiment

    try:
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
        cfg = cfg.replace(**changes)
        run_experiment(cfg, args.out, progress=not args.no_progress, devices=args.devices)
    except (ValueError, ExperimentError) as e:
        print(f"clifer: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
