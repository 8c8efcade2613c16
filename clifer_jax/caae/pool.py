"""The CAAE's synthetic training pool and its load-or-train (docs/caae.md, "Training").

    pool = synthetic_pool(config, "train", seed=0)          # TRAIN_IDENTITIES x 6 x TRAIN_FRAMES
    params = load_or_train(config, "runs/x/caae", seed=0, data=pool)

The pool's identities are disjoint from every evaluation subject: many identities, each
seen briefly (one clip per class of two frames: with the posed preset's RAVDESS sampling,
two adjacent frames near the apex). For the same 9,216 images,
768 identities generalise to unseen faces far better than 48 identities x 4 clips x 8
frames (docs/caae.md). `experiments.configs.ExperimentConfig` and `experiments.train_caae`
take their defaults from here.
"""

from __future__ import annotations

import os

from clifer_jax.caae.api import CAAEParams
from clifer_jax.caae.curves import Curves
from clifer_jax.caae.config import CAAEConfig

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


def synthetic_pool(config: CAAEConfig, pool: str = "train", seed: int = 0,
                   identities: int = TRAIN_IDENTITIES, frames: int = TRAIN_FRAMES, preset: str = "posed") -> dict:
    """A synthetic pool of `preset` rendered at the CAAE's image size (docs/data.md): the
    CAAE's training pool (`train_pool_config`) or the evaluation pool of held-out
    identities ("eval")."""
    from clifer_jax.data.synthetic import SyntheticConfig, generate

    if pool != "train":
        return generate(SyntheticConfig(image_size=config.image_size, seed=seed, preset=preset), pool)
    return generate(train_pool_config(config.image_size, seed, identities, frames, preset), "train")


def load_or_train(config: CAAEConfig, ckpt_dir: str, *, seed: int = 0, data: dict | None = None,
                  data_seed: int = 0, progress: bool = True, log=None) -> CAAEParams:
    """Trained encoder + generator for `config`: from `ckpt_dir` when a finished training
    is there, otherwise trained (resuming an unfinished one) on `data` (default: the
    synthetic training pool of `data_seed`, whose identities are disjoint from the
    evaluation subjects). Raises ValueError when `ckpt_dir` holds a training of another
    config, seed or dataset (the checkpoint records the data's SHA-256 fingerprint). With the
    synthetic identity loss (`config.identity_net`), its network is trained on `data`'s
    identities (`data["subject"]`) into `identity_dir(ckpt_dir)` first."""
    from clifer_jax.caae.train import data_fingerprint, restore_params, train

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


def identity_network(config: CAAEConfig, ckpt_dir: str, data: dict, *, seed: int = 0):
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
