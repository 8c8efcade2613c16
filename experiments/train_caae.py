"""Train the CAAE (docs/caae.md) on the synthetic training pool, or on arrays in a directory.

    python -m experiments.train_caae                       # cpu preset without an accelerator
    python -m experiments.train_caae --preset paper        # the reference architecture
    python -m experiments.train_caae --evaluate            # + the evaluation figures (docs/caae.md)
    python -m experiments.train_caae --evaluate --subject-set test   # ... on the test subjects
    python -m experiments.train_caae --curve-epochs 6 12 18 24       # a learning curve (dev)

Writes the orbax checkpoint (resumed when present) and, into `--out` (default
`runs/caae_<preset>/`), `caae_grid.png` (held-out faces and their translations into all
six expressions, with the renderer's true faces underneath) and `caae_<preset>.json`
(per-epoch training metrics, timing, evaluation). The committed figures are replaced only
when asked: `--grid docs/images/caae_grid_posed.png --metrics experiments/results/v1/caae_cpu_posed.json`.

The held-out figures (`--evaluate`, `--feature-1nn`, `--diagnose`, the per-epoch held-out
curves) are measured on the synthetic development subjects unless `--subject-set test`
says the test subjects: a screening tool does not look at the subjects results are
reported on (docs/data.md).

A dataset directory holds `image.npy` (uint8 [N, H, W, C]) and `expression.npy` (int [N],
canonical indices of `clifer_jax.classes`).

The work is the library's (`clifer_jax.caae`: `pool`, `train`, `evaluate`, `plots`;
`clifer_jax.study.feature_1nn`); this script wires it to the command line. The identity
loss's defaults live here: `--identity-net synthetic` trains with weight 1, `--identity-net
vgg-face PATH` with 0.5 (SPEC's), unless `--identity-weight` or `--set` says otherwise.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from pathlib import Path

import numpy as np

from clifer_jax import config_tree
from clifer_jax.caae import config as caae_config
from clifer_jax.caae.curves import Curves
from clifer_jax.caae.evaluate import evaluate, identity_diagnosis, oracle_faces
from clifer_jax.caae.identity_net import restore as restore_identity_net
from clifer_jax.caae.plots import save_grid
from clifer_jax.caae.pool import (SAMPLINGS, PoolConfig, held_out_config, identity_dir, identity_network,
                                  synthetic_pool)
from clifer_jax.caae import store as caae_store
from clifer_jax.caae.train import data_fingerprint, save_json, train
from clifer_jax.caae.vgg_face import load_vgg_face_mat
from clifer_jax.data.synthetic import SyntheticConfig, sample_identities
from clifer_jax.study.difficulty import feature_1nn

POOL = PoolConfig()
SUBJECT_SETS = {"dev": "dev", "test": "eval"}   # --subject-set -> synthetic pool



def relative(path: str) -> str:
    """`path` relative to the working folder when it lies inside it (committed results
    should not record the absolute paths of the machine that made them)."""
    rel = os.path.relpath(os.path.abspath(path))
    return path if rel.startswith("..") else rel


def load_dir(path: str) -> dict:
    """`image.npy` and `expression.npy` of a dataset directory."""
    for name in ("image.npy", "expression.npy"):
        if not os.path.isfile(os.path.join(path, name)):
            raise FileNotFoundError(f"dataset directory {path!r} lacks {name}")
    return {"image": np.load(os.path.join(path, "image.npy")),
            "expression": np.load(os.path.join(path, "expression.npy"))}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=sorted(caae_config.PRESETS), default=caae_config.default_preset().name)
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    p.add_argument("--seed", type=int, default=0, help="training seed (init, batches, noise)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic pools")
    p.add_argument("--classifier-seed", type=int, default=None,
                   help="seed of the evaluation classifiers and probe (default: the data seed)")
    p.add_argument("--train-identities", type=int, default=POOL.identities,
                   help=f"identities of the synthetic training pool (default {POOL.identities})")
    p.add_argument("--train-frames", type=int, default=POOL.frames,
                   help=f"frames per clip of the training pool, one clip per class (default {POOL.frames})")
    p.add_argument("--train-sampling", choices=SAMPLINGS, default=POOL.sampling,
                   help="which frames of each training clip: apex (the reference's sampling of "
                        "--train-frames frames) or clip (that many drawn at random from the whole clip); "
                        f"default {POOL.sampling}")
    p.add_argument("--synthetic", default="posed", metavar="PRESET",
                   help="synthetic data preset of the pools: posed (default), spontaneous or easy")
    p.add_argument("--data-dir", default=None, help="directory with image.npy and expression.npy")
    p.add_argument("--ckpt-dir", default=None,
                   help="the checkpoint folder (default: the CAAE store's entry of this config, pool and "
                        "seed, reused when finished: clifer_jax.caae.store)")
    p.add_argument("--caae-store", default=None, metavar="DIR",
                   help="the CAAE store's folder (default $CLIFER_CAAE_STORE or the user's cache)")
    p.add_argument("--out", default="runs/caae_{preset}",
                   help="folder of the grid and the metrics JSON unless --grid/--metrics say otherwise")
    p.add_argument("--grid", default=None, help="translation grid PNG (default <out>/caae_grid.png)")
    p.add_argument("--metrics", default=None, help="metrics JSON (default <out>/caae_<preset>.json)")
    p.add_argument("--vgg-face", default=None, help="vgg_face.mat: enables the identity loss (weight 0.5)")
    p.add_argument("--identity-net", nargs="+", default=None, metavar="NET",
                   help="the identity loss's network: synthetic (trained on the pool's identities), "
                        "vgg-face PATH, or none (default: the preset's)")
    p.add_argument("--identity-weight", type=float, default=None,
                   help="weight of the identity loss (default: 1 with synthetic, 0.5 with vgg-face)")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="FIELD=VALUE",
                   help="override CAAEConfig fields of the preset, e.g. latent_class_weight=0.3 (screening)")
    p.add_argument("--evaluate", action="store_true", help="measure the evaluation figures (docs/caae.md) on held-out identities")
    p.add_argument("--feature-1nn", action="store_true",
                   help="within-subject 1-NN of the held-out subjects on E's features (docs/data.md)")
    p.add_argument("--subject-set", choices=tuple(SUBJECT_SETS), default="dev",
                   help="held-out subjects of --evaluate, --feature-1nn, --diagnose and the per-epoch curves: "
                        "the development subjects (default) or the test subjects")
    p.add_argument("--diagnose", action="store_true",
                   help="where identity is lost: blur, reconstruction, translation, z probe (frames 0, 3, 6)")
    p.add_argument("--curve-epochs", type=int, nargs="+", default=None, metavar="E",
                   help="a learning curve: one training of max(E) epochs (unless --epochs says more), "
                        "stopped after each E to measure the evaluation figures (implies --evaluate)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.curve_epochs:
        if min(args.curve_epochs) < 1:
            p.error("--curve-epochs must be >= 1")
        args.evaluate = True
        args.epochs = max(args.epochs or 0, *args.curve_epochs)
    for name, low in (("epochs", 1), ("seed", 0), ("data_seed", 0), ("classifier_seed", 0),
                      ("train_identities", 1), ("train_frames", 1)):
        v = getattr(args, name)
        if v is not None and v < low:   # before anything is written
            p.error(f"--{name.replace('_', '-')} must be >= {low}, got {v}")

    if args.feature_1nn and args.data_dir:
        p.error("--feature-1nn scores synthetic held-out subjects: it needs the synthetic pool, not --data-dir")
    held_pool = SUBJECT_SETS[args.subject_set]
    cfg = caae_config.preset(args.preset)
    if args.epochs is not None:
        cfg = cfg.replace(epochs=args.epochs)
    # --set FIELD=VALUE (config_tree): checked now, so that a typo fails before anything
    # runs, and applied last, so that an explicit --set wins over the --identity-net defaults
    try:
        config_tree.apply_sets(cfg, args.set)
    except ValueError as e:
        p.error(f"--set takes FIELD=VALUE with a CAAEConfig field: {e}")
    vgg = None
    if args.identity_net:
        kind = args.identity_net[0]
        if kind == "vgg-face" and len(args.identity_net) == 2:
            args.vgg_face = args.identity_net[1]
        elif kind == "synthetic" and len(args.identity_net) == 1:
            cfg = cfg.replace(identity_net="synthetic",
                              identity_weight=1.0 if args.identity_weight is None else args.identity_weight)
        elif kind == "none" and len(args.identity_net) == 1:
            cfg = cfg.replace(identity_weight=0.0)
        else:
            p.error(f"--identity-net: expected 'synthetic', 'vgg-face PATH' or 'none', got {args.identity_net}")
    if args.vgg_face:
        vgg = load_vgg_face_mat(args.vgg_face)
        cfg = cfg.replace(identity_weight=0.5 if args.identity_weight is None else args.identity_weight,
                          identity_net="vgg-face")
    cfg = config_tree.apply_sets(cfg, args.set)
    out = args.out.format(preset=cfg.name)
    args.grid = args.grid or os.path.join(out, "caae_grid.png")
    args.metrics = args.metrics or os.path.join(out, "caae_{preset}.json")
    data = load_dir(args.data_dir) if args.data_dir else synthetic_pool(
        cfg, "train", args.data_seed, args.train_identities, args.train_frames, preset=args.synthetic,
        sampling=args.train_sampling)
    if args.ckpt_dir:
        ckpt = os.path.abspath(args.ckpt_dir)
    else:            # the store's entry: the same CAAE a study of this pool and seed uses
        root = caae_store.default_root() if args.caae_store is None else Path(args.caae_store).expanduser()
        ckpt = str(root / caae_store.entry_name(cfg, data_fingerprint(cfg, data["image"], data["expression"]),
                                                args.seed))
        done = [e for e in caae_store.entries(root) if str(e.path) == ckpt and e.done]
        print(f"CAAE: {'reusing the stored' if done else 'training into the store:'} {ckpt}", flush=True)
    t_id = time.time()
    identity = identity_network(cfg, ckpt, data, seed=args.seed)
    identity_seconds = round(time.time() - t_id, 1)
    curves = Curves(ckpt)    # TensorBoard events + curves.png in the checkpoint folder
    heldout = None
    if not args.data_dir:    # held-out figures per epoch: every 12th face of the held-out subjects
        ev_pool = synthetic_pool(cfg, held_pool, args.data_seed, preset=args.synthetic)
        heldout = (ev_pool["image"][::12], ev_pool["expression"][::12])
    t0 = time.time()

    def log_epoch(r):
        curves.epoch(r)
        print(" ".join(f"{k}={v:.4g}" for k, v in r.items()), flush=True)

    @functools.cache
    def held_out_data():    # rendered once, whatever the number of curve points
        ev = synthetic_pool(cfg, held_pool, args.data_seed, preset=args.synthetic)
        ids = sample_identities(args.data_seed, int(ev["subject"].max()) + 1, held_pool)
        oracle = oracle_faces(held_out_config(cfg, args.data_seed, args.synthetic), held_pool, ev)
        return ev, ids, oracle

    def held_out_figures(params) -> dict:
        ev, ids, oracle = held_out_data()
        # The judges (classifiers, probe) depend on the data, not on the training seed, so
        # that runs of several training seeds are scored by the same classifiers.
        clf_seed = args.data_seed if args.classifier_seed is None else args.classifier_seed
        return evaluate(params, ev, ids, seed=clf_seed, oracle_faces=oracle)

    curve, trained = [], 0.0
    for stop in sorted(set(args.curve_epochs or [None])):
        t_train = time.time()
        state, history = train(cfg, data["image"], data["expression"], seed=args.seed, ckpt_dir=ckpt, vgg=vgg,
                               identity=identity, progress=not args.no_progress, log=log_epoch,
                               step_log=curves.step, heldout=heldout, identities=data.get("subject"),
                               stop_after_epochs=stop)
        trained += time.time() - t_train
        if stop is not None:
            figures = held_out_figures(state.inference_params(cfg))
            curve.append({"epoch": stop, "train_seconds": round(trained, 1),
                          **{k: v for k, v in figures.items() if not isinstance(v, list)}})
            print({k: round(v, 4) for k, v in curve[-1].items()}, flush=True)
    if curves.steps:
        curves.save_png()
    curves.close()
    params = state.inference_params(cfg)
    report = {"preset": cfg.name, "config": {k: v for k, v in cfg.__dict__.items()}, "seed": args.seed,
              "train_images": int(len(data["image"])), "train_seconds_this_run": round(time.time() - t0, 1),
              "history": history,
              "checkpoint": relative(ckpt) if args.ckpt_dir else f"caae store: {Path(ckpt).name}"}
    if identity is not None:
        id_meta = restore_identity_net(identity_dir(ckpt))[1]
        report["identity_net"] = {"verification": id_meta["verification"], "train_seconds": id_meta["train_seconds"],
                                  "seconds_this_run": identity_seconds, "history": id_meta["history"]}
    if not args.data_dir:
        report["train_pool"] = {"identities": args.train_identities, "clips_per_class": 1,
                                "frames_per_clip": args.train_frames, "sampling": args.train_sampling,
                                "data_seed": args.data_seed,
                                "synthetic_preset": args.synthetic}
        save_grid(params, args.grid, seed=args.data_seed, preset=args.synthetic)
        report["grid"] = relative(args.grid)
    report["subject_set"] = args.subject_set   # the held-out subjects of every held-out figure
    if curve:
        report["curve"] = curve
        report["evaluation"] = {k: v for k, v in curve[-1].items() if k not in ("epoch", "train_seconds")}
    elif args.evaluate:
        t1 = time.time()
        report["evaluation"] = held_out_figures(params)
        report["evaluation_seed"] = args.data_seed if args.classifier_seed is None else args.classifier_seed
        report["evaluation_seconds"] = round(time.time() - t1, 1)
        print({k: round(v, 4) for k, v in report["evaluation"].items() if not isinstance(v, list)})
    if args.feature_1nn:
        report["feature_1nn"] = feature_1nn(params, data["image"], SyntheticConfig(preset=args.synthetic),
                                            pool=held_pool)
        print(f"feature 1-NN {report['feature_1nn']['mean']:.3f} "
              f"(worst subject {report['feature_1nn']['min']:.3f})", flush=True)
    if args.diagnose:
        ev = synthetic_pool(cfg, held_pool, args.data_seed, preset=args.synthetic)
        report["identity_diagnosis"] = identity_diagnosis(params, ev, seed=args.data_seed, frames=(0, 3, 6))
        print({k: v if isinstance(v, list) else round(v, 4) for k, v in report["identity_diagnosis"].items()})
    save_json(args.metrics.format(preset=cfg.name), report)
    return report


if __name__ == "__main__":
    main()
