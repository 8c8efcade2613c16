"""Train the CAAE (SPEC §6) on the synthetic training pool, or on arrays in a directory.

    python -m experiments.train_caae                       # cpu preset without an accelerator
    python -m experiments.train_caae --preset paper        # the reference architecture
    python -m experiments.train_caae --evaluate            # + the issue-5 figures

Writes the orbax checkpoint (resumed when present) and, into `--out` (default
`runs/caae_<preset>/`), `caae_grid.png` (held-out faces and their translations into all
six expressions, with the renderer's true faces underneath) and `caae_<preset>.json`
(per-epoch training metrics, timing, evaluation). The committed figures are replaced only
when asked: `--grid docs/images/caae_grid.png --metrics experiments/results/caae_cpu.json`.

A dataset directory holds `image.npy` (uint8 [N, H, W, C]) and `expression.npy` (int [N],
canonical indices of `clifer_jax.classes`).

`load_or_train(config, ckpt_dir, seed=...)` is the entry for the experiment runner: it
returns the trained `CAAEParams`, training (or finishing an interrupted training) only
when the checkpoint is missing or incomplete.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from clifer_jax.caae import config as caae_config
from clifer_jax.caae.api import CAAEParams, translate
from clifer_jax.caae.curves import Curves
from clifer_jax.caae.train import data_fingerprint, restore_params, save_json, train
from clifer_jax.classes import EXPRESSIONS, NUM_CLASSES

DEFAULT_CKPT = "checkpoints/caae_{preset}"


# The CAAE's synthetic training pool (SPEC §5: identities disjoint from the evaluation
# subjects): many identities, each seen briefly — one clip per class of two frames (onset
# and apex). For the same 9,216 images, 768 identities generalise to unseen faces far
# better than 48 identities × 4 clips × 8 frames (docs/caae.md).
TRAIN_IDENTITIES = 768
TRAIN_FRAMES = 2


def train_pool_config(image_size: int, seed: int = 0, identities: int = TRAIN_IDENTITIES,
                      frames: int = TRAIN_FRAMES, preset: str = "posed"):
    """`SyntheticConfig` of the CAAE's training pool: `identities` × 6 classes × 1 clip ×
    `frames` frames of the synthetic `preset` (its "train" pool carries the preset's
    domain gap; the evaluation pool keeps its own defaults)."""
    from clifer_jax.data.synthetic import SyntheticConfig

    if identities < 1 or frames < 1:
        raise ValueError(f"the CAAE pool needs >= 1 identity and frame, got {identities} and {frames}")
    return SyntheticConfig(image_size=image_size, seed=seed, n_train_identities=identities,
                           clips_per_class=1, test_clips_per_class=0, frames_per_clip=frames,
                           preset=preset)


def synthetic_pool(config: caae_config.CAAEConfig, pool: str = "train", seed: int = 0,
                   identities: int = TRAIN_IDENTITIES, frames: int = TRAIN_FRAMES, preset: str = "posed") -> dict:
    """A synthetic pool of `preset` rendered at the CAAE's image size (docs/data.md): the
    CAAE's training pool (`train_pool_config`) or the evaluation pool of held-out
    identities ("eval")."""
    from clifer_jax.data.synthetic import SyntheticConfig, generate

    if pool != "train":
        return generate(SyntheticConfig(image_size=config.image_size, seed=seed, preset=preset), pool)
    return generate(train_pool_config(config.image_size, seed, identities, frames, preset), "train")


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


def load_or_train(
    config: caae_config.CAAEConfig,
    ckpt_dir: str,
    *,
    seed: int = 0,
    data: dict | None = None,
    data_seed: int = 0,
    progress: bool = True,
    log=None,
) -> CAAEParams:
    """Trained encoder + generator for `config`: from `ckpt_dir` when a finished training
    is there, otherwise trained (resuming an unfinished one) on `data` (default: the
    synthetic training pool of `data_seed`, whose identities are disjoint from the
    evaluation subjects). Raises ValueError when `ckpt_dir` holds a training of another
    config, seed or dataset (the checkpoint records the data's SHA-256). With the synthetic
    identity loss (`config.identity_net`), its network is trained on `data`'s identities
    (`data["subject"]`) into `identity_dir(ckpt_dir)` first."""
    if data is None:
        data = synthetic_pool(config, "train", data_seed)
    try:
        params, meta = restore_params(config, ckpt_dir)
        if (meta.get("done") and meta.get("seed") == seed
                and meta.get("data_sha256") == data_fingerprint(config, data["image"], data["expression"])):
            return params
    except FileNotFoundError:
        pass
    identity = identity_network(config, ckpt_dir, data, seed=seed)
    curves = Curves(ckpt_dir)      # TensorBoard events + curves.png in the checkpoint folder
    state, _ = train(config, data["image"], data["expression"], seed=seed, ckpt_dir=ckpt_dir,
                     progress=progress, log=lambda r: (curves.epoch(r), log and log(r)), step_log=curves.step,
                     identity=identity)
    curves.save_png()
    curves.close()
    return state.inference_params(config)


def identity_dir(ckpt_dir: str) -> str:
    """Where the synthetic identity network of a CAAE checkpoint lives (a sibling folder)."""
    return os.path.abspath(ckpt_dir).rstrip(os.sep) + "_identity_net"


def identity_network(config: caae_config.CAAEConfig, ckpt_dir: str, data: dict, *, seed: int = 0):
    """The frozen identity network of the CAAE's identity loss when `config` uses the
    synthetic one (trained on `data`'s identities, or restored), else None."""
    if config.identity_weight <= 0 or config.identity_net != "synthetic":
        return None
    from clifer_jax.caae import identity_net

    if "subject" not in data:
        raise ValueError("the synthetic identity network needs the pool's identities (data['subject'])")
    cfg = identity_net.IdentityNetConfig(image_size=config.image_size, channels=config.channels)
    folder = identity_dir(ckpt_dir)
    curves = Curves(folder, prefix="identity_net")
    net, meta = identity_net.load_or_train(cfg, folder, data["image"], data["subject"], seed=seed,
                                           log=curves.step)
    if curves.steps:                                   # trained now (not restored)
        curves.epoch({"epoch": 1, **{f"heldout_{k}": v for k, v in meta["verification"].items()
                                     if k.startswith("heldout_") and isinstance(v, float)}})
        curves.save_png()
    curves.close()
    return net


def save_grid(params: CAAEParams, path: str, *, n_faces: int = 6, seed: int = 0, preset: str = "posed") -> None:
    """Held-out synthetic faces (first column) and their translations into the six
    expressions; under each row, the renderer's true face of that subject and expression."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from clifer_jax.data.synthetic import prototype_aus, render, sample_identities

    cfg = params.config
    data = synthetic_pool(cfg, "eval", seed, preset=preset)
    rng = np.random.default_rng(seed)
    subjects = rng.choice(int(data["subject"].max()) + 1, n_faces, replace=False)
    rows = []
    for s in subjects:
        idx = np.flatnonzero((data["subject"] == s) & (data["split"] == 1))
        rows.append(rng.choice(idx))
    src = data["image"][np.array(rows)]
    trans = np.stack([np.asarray(translate(params, src, c)) for c in range(NUM_CLASSES)], axis=1)
    ids = sample_identities(seed, int(data["subject"].max()) + 1, "eval").take((subjects, None))
    protos = np.stack([prototype_aus(c) for c in range(NUM_CLASSES)])
    truth = render(ids, np.broadcast_to(protos, (n_faces, NUM_CLASSES, protos.shape[1])), None, cfg.image_size)
    fig, axes = plt.subplots(2 * n_faces, NUM_CLASSES + 1, figsize=(1.3 * (NUM_CLASSES + 1), 1.3 * 2 * n_faces))
    show = lambda ax, im: ax.imshow(np.squeeze(im), cmap="gray", vmin=0, vmax=1)  # noqa: E731
    for r in range(n_faces):
        show(axes[2 * r, 0], src[r] / 255.0)
        axes[2 * r, 0].set_ylabel(f"subject {subjects[r]}", fontsize=7)
        axes[2 * r + 1, 0].text(0.5, 0.5, "true face →", ha="center", va="center", fontsize=7)
        for c in range(NUM_CLASSES):
            show(axes[2 * r, c + 1], trans[r, c])
            show(axes[2 * r + 1, c + 1], truth[r, c] / 255.0)
            if r == 0:
                axes[0, c + 1].set_title(EXPRESSIONS[c], fontsize=8)
    axes[0, 0].set_title("source", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for sp in ax.spines.values():
            sp.set_visible(False)
    fig.suptitle(f"CAAE ({cfg.name} preset): translations of held-out faces (odd rows) vs true renders (even rows)",
                 fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=sorted(caae_config.PRESETS), default=caae_config.default_preset().name)
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    p.add_argument("--seed", type=int, default=0, help="training seed (init, batches, noise)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic pools")
    p.add_argument("--train-identities", type=int, default=TRAIN_IDENTITIES,
                   help=f"identities of the synthetic training pool (default {TRAIN_IDENTITIES})")
    p.add_argument("--train-frames", type=int, default=TRAIN_FRAMES,
                   help=f"frames per clip of the training pool, one clip per class (default {TRAIN_FRAMES})")
    p.add_argument("--synthetic", default="posed", metavar="PRESET",
                   help="synthetic data preset of the pools: posed (default), spontaneous or easy")
    p.add_argument("--data-dir", default=None, help="directory with image.npy and expression.npy")
    p.add_argument("--ckpt-dir", default=None, help=f"default {DEFAULT_CKPT}")
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
    p.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE",
                   help="override CAAEConfig fields of the preset, e.g. latent_class_weight=0.3 (screening)")
    p.add_argument("--evaluate", action="store_true", help="measure the issue-5 figures on held-out identities")
    p.add_argument("--diagnose", action="store_true",
                   help="where identity is lost: blur, reconstruction, translation, z probe (frames 0, 3, 6)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    for name, low in (("epochs", 1), ("seed", 0), ("data_seed", 0), ("train_identities", 1),
                      ("train_frames", 1)):
        v = getattr(args, name)
        if v is not None and v < low:   # before anything is written
            p.error(f"--{name.replace('_', '-')} must be >= {low}, got {v}")

    cfg = caae_config.preset(args.preset)
    if args.epochs is not None:
        cfg = cfg.replace(epochs=args.epochs)
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in cfg.__dataclass_fields__ or not value:
            p.error(f"--set {item!r}: expected FIELD=VALUE with a CAAEConfig field")
        old = getattr(cfg, name)
        kind = type(old)
        conv = (lambda v: v.lower() in ("1", "true", "yes")) if kind is bool else (
            (lambda v: tuple(int(a) for a in v.split(","))) if kind is tuple else kind)
        try:
            cfg = cfg.replace(**{name: conv(value)})
        except (TypeError, ValueError) as e:
            p.error(f"--set {item!r}: {e}")
    out = args.out.format(preset=cfg.name)
    args.grid = args.grid or os.path.join(out, "caae_grid.png")
    args.metrics = args.metrics or os.path.join(out, "caae_{preset}.json")
    vgg = None
    if args.identity_net:
        kind = args.identity_net[0]
        if kind == "vgg-face" and len(args.identity_net) == 2:
            args.vgg_face = args.identity_net[1]
        elif kind == "synthetic" and len(args.identity_net) == 1:
            cfg = cfg.replace(identity_net="synthetic", identity_translation=True,
                              identity_weight=1.0 if args.identity_weight is None else args.identity_weight)
        elif kind == "none" and len(args.identity_net) == 1:
            cfg = cfg.replace(identity_weight=0.0)
        else:
            p.error(f"--identity-net: expected 'synthetic', 'vgg-face PATH' or 'none', got {args.identity_net}")
    if args.vgg_face:
        from clifer_jax.caae.vgg_face import load_vgg_face_mat

        vgg = load_vgg_face_mat(args.vgg_face)
        cfg = cfg.replace(identity_weight=0.5 if args.identity_weight is None else args.identity_weight,
                          identity_net="vgg-face")
    ckpt = os.path.abspath(args.ckpt_dir or DEFAULT_CKPT.format(preset=cfg.name))
    data = load_dir(args.data_dir) if args.data_dir else synthetic_pool(
        cfg, "train", args.data_seed, args.train_identities, args.train_frames, preset=args.synthetic)
    t_id = time.time()
    identity = identity_network(cfg, ckpt, data, seed=args.seed)
    identity_seconds = round(time.time() - t_id, 1)
    curves = Curves(ckpt)    # TensorBoard events + curves.png in the checkpoint folder
    heldout = None
    if not args.data_dir:    # held-out figures per epoch: every 12th face of the evaluation pool
        ev_pool = synthetic_pool(cfg, "eval", args.data_seed, preset=args.synthetic)
        heldout = (ev_pool["image"][::12], ev_pool["expression"][::12])
    t0 = time.time()

    def log_epoch(r):
        curves.epoch(r)
        print(" ".join(f"{k}={v:.4g}" for k, v in r.items()), flush=True)

    state, history = train(cfg, data["image"], data["expression"], seed=args.seed, ckpt_dir=ckpt, vgg=vgg,
                           identity=identity, progress=not args.no_progress, log=log_epoch,
                           step_log=curves.step, heldout=heldout)
    if curves.steps:
        curves.save_png()
    curves.close()
    params = state.inference_params(cfg)
    report = {"preset": cfg.name, "config": {k: v for k, v in cfg.__dict__.items()}, "seed": args.seed,
              "train_images": int(len(data["image"])), "train_seconds_this_run": round(time.time() - t0, 1),
              "history": history, "checkpoint": relative(ckpt)}
    if identity is not None:
        from clifer_jax.caae.identity_net import restore

        id_meta = restore(identity_dir(ckpt))[1]
        report["identity_net"] = {"verification": id_meta["verification"], "train_seconds": id_meta["train_seconds"],
                                  "seconds_this_run": identity_seconds, "history": id_meta["history"]}
    if not args.data_dir:
        report["train_pool"] = {"identities": args.train_identities, "clips_per_class": 1,
                                "frames_per_clip": args.train_frames, "data_seed": args.data_seed,
                                "synthetic_preset": args.synthetic}
        save_grid(params, args.grid, seed=args.data_seed, preset=args.synthetic)
        report["grid"] = relative(args.grid)
    if args.evaluate:
        from clifer_jax.caae.evaluate import evaluate
        from clifer_jax.data.synthetic import sample_identities

        t1 = time.time()
        ev = synthetic_pool(cfg, "eval", args.data_seed, preset=args.synthetic)
        ids = sample_identities(args.data_seed, int(ev["subject"].max()) + 1, "eval")
        # The judges (classifiers, probe) depend on the data, not on the training seed, so
        # that runs of several training seeds are scored by the same classifiers.
        report["evaluation"] = evaluate(params, ev, ids, seed=args.data_seed)
        report["evaluation_seed"] = args.data_seed
        report["evaluation_seconds"] = round(time.time() - t1, 1)
        print({k: round(v, 4) for k, v in report["evaluation"].items()})
    if args.diagnose:
        from clifer_jax.caae.evaluate import identity_diagnosis

        ev = synthetic_pool(cfg, "eval", args.data_seed, preset=args.synthetic)
        report["identity_diagnosis"] = identity_diagnosis(params, ev, seed=args.data_seed, frames=(0, 3, 6))
        print({k: v if isinstance(v, list) else round(v, 4) for k, v in report["identity_diagnosis"].items()})
    save_json(args.metrics.format(preset=cfg.name), report)
    return report


if __name__ == "__main__":
    main()
