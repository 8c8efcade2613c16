"""The CAAE's synthetic training pool and its load-or-train (docs/caae.md, "Training").

    pool = synthetic_pool(config, "train", seed=0)          # 768 identities x 6 classes x 2 frames
    params = load_or_train(config, "runs/x/caae", seed=0, data=pool)

The pool's identities are disjoint from every evaluation subject: many identities, each
seen briefly (one clip per class of two frames: with the posed preset's RAVDESS sampling,
two adjacent frames near the apex). For the same 9,216 images,
768 identities generalise to unseen faces far better than 48 identities x 4 clips x 8
frames (docs/caae.md). `PoolConfig` holds the pool's settings and their defaults.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Literal

import numpy as np

from clifer_jax.caae import identity_net
from clifer_jax.caae.api import CAAEParams
from clifer_jax.caae.config import CAAEConfig
from clifer_jax.caae.curves import Curves
from clifer_jax import hosts
from clifer_jax.caae.train import data_fingerprint, restore_params, train
from clifer_jax.classes import NUM_CLASSES
from clifer_jax.data.synthetic import SyntheticConfig, generate

SAMPLINGS = ("apex", "clip")
SAMPLING_CLIP_FRAMES = 8


@dataclasses.dataclass(frozen=True)
class PoolConfig:
    """The CAAE's synthetic training pool (its preset and seed are the study's).

    identities: identities of the pool, one clip per class each.
    frames: frames kept per clip.
    sampling: which frames of a clip: "apex" — the preset's reference sampling of `frames`
      frames (with posed's RAVDESS windows, adjacent frames near the apex); "clip" —
      `frames` frames drawn at random, per clip, from the clip's full reference sampling
      (SAMPLING_CLIP_FRAMES frames: onset, apex and offset alike), as a face database
      holds expressions at every intensity (docs/caae.md, "The training pool"; docs/history.md).
    """

    identities: int = 768
    frames: int = 2
    sampling: Literal["apex", "clip"] = "apex"

    def __post_init__(self):
        for name in ("identities", "frames"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"PoolConfig.{name} must be an integer >= 1, got {v!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"PoolConfig.sampling must be one of {SAMPLINGS}, got {self.sampling!r}")
        if self.sampling == "clip" and self.frames > SAMPLING_CLIP_FRAMES:
            raise ValueError(f"sampling 'clip' keeps 1..{SAMPLING_CLIP_FRAMES} frames per clip, got {self.frames}")




def train_pool_config(image_size: int, seed: int = 0, identities: int = PoolConfig.identities,
                      frames: int = PoolConfig.frames, preset: str = "posed"):
    """`SyntheticConfig` of the CAAE's training pool: `identities` × 6 classes × 1 clip ×
    `frames` frames of the synthetic `preset` (its "train" pool carries the preset's
    domain gap; the evaluation pool keeps its own defaults)."""
    if identities < 1 or frames < 1:
        raise ValueError(f"the CAAE pool needs >= 1 identity and frame, got {identities} and {frames}")
    return SyntheticConfig(image_size=image_size, seed=seed, n_subjects=identities,
                           clips_per_class=1, test_clips_per_class=0, frames_per_clip=frames,
                           preset=preset)


def generate_train_pool(image_size: int, seed: int = 0, identities: int = PoolConfig.identities,
                        frames: int = PoolConfig.frames, preset: str = "posed", sampling: str = PoolConfig.sampling) -> dict:
    """The CAAE's training pool as arrays (`clifer_jax.data.synthetic.generate`'s dict):
    `identities` × 6 classes × 1 clip × `frames` frames, the frames chosen by `sampling`
    ("apex" or "clip", see `PoolConfig.sampling`); `preset` a preset name or a
    `clifer_jax.data.synthetic.Preset`. Deterministic in `seed`."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"pool sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if sampling == "apex":
        return generate(train_pool_config(image_size, seed, identities, frames, preset), "train")
    if not 1 <= frames <= SAMPLING_CLIP_FRAMES:
        raise ValueError(f"sampling 'clip' keeps 1..{SAMPLING_CLIP_FRAMES} frames per clip, got {frames}")
    full = generate(train_pool_config(image_size, seed, identities, SAMPLING_CLIP_FRAMES, preset), "train")
    # rank the frames of each clip (one clip per subject and class) by a random key; keep `frames`
    group = np.asarray(full["subject"]) * NUM_CLASSES + np.asarray(full["expression"])
    key = np.random.default_rng([seed, 0x9001]).random(len(group))
    order = np.lexsort((key, group))
    start = np.searchsorted(group[order], group[order], side="left")
    rank = np.empty(len(group), np.int64)
    rank[order] = np.arange(len(group)) - start
    keep = np.sort(np.flatnonzero(rank < frames))
    return {k: v[keep] for k, v in full.items()}


def held_out_config(config: CAAEConfig, seed: int = 0, preset: str = "posed") -> SyntheticConfig:
    """The `SyntheticConfig` of the held-out subjects ("dev", "eval") at the CAAE's image size."""
    return SyntheticConfig(image_size=config.image_size, seed=seed, preset=preset)


def synthetic_pool(config: CAAEConfig, pool: str = "train", seed: int = 0,
                   identities: int = PoolConfig.identities, frames: int = PoolConfig.frames, preset: str = "posed",
                   sampling: str = PoolConfig.sampling) -> dict:
    """A synthetic pool of `preset` rendered at the CAAE's image size (docs/data.md): the
    CAAE's training pool (`generate_train_pool`) or the evaluation pool of held-out
    identities ("eval")."""
    if pool != "train":
        return generate(held_out_config(config, seed, preset), pool)
    return generate_train_pool(config.image_size, seed, identities, frames, preset, sampling)


def load_or_train(config: CAAEConfig, ckpt_dir: str, *, seed: int = 0, data: dict | None = None,
                  data_seed: int = 0, progress: bool = True, log=None, mesh=None) -> CAAEParams:
    """Trained encoder + generator for `config`: from `ckpt_dir` when a finished training
    is there, otherwise trained (resuming an unfinished one) on `data` (default: the
    synthetic training pool of `data_seed`, whose identities are disjoint from the
    evaluation subjects). Raises ValueError when `ckpt_dir` holds a training of another
    config, seed or dataset (the checkpoint records the data's SHA-256 fingerprint). With the
    synthetic identity loss (`config.identity_net`), its network is trained on `data`'s
    identities (`data["subject"]`) into `identity_dir(ckpt_dir)` first. mesh: train
    data-parallel over its devices (`train.train`); on several processes only the writer
    saves the checkpoints and curves."""
    if data is None:
        data = synthetic_pool(config, "train", data_seed)
    try:
        params, meta = restore_params(config, ckpt_dir)
        if (meta.get("done") and meta.get("seed") == seed
                and meta.get("data_sha256") == data_fingerprint(config, data["image"], data["expression"])):
            return params
    except FileNotFoundError:
        pass
    if hosts.count() > 1 and config.identity_weight > 0 and config.identity_net == "synthetic":
        raise ValueError("the synthetic identity network is trained on one process: train this CAAE "
                         "first (`clifer caae train` on one host), then run on several")
    identity = identity_network(config, ckpt_dir, data, seed=seed)
    if not hosts.is_writer():
        state, _ = train(config, data["image"], data["expression"], seed=seed, ckpt_dir=ckpt_dir,
                         identities=data.get("subject"), progress=False, identity=identity, mesh=mesh)
        return state.inference_params(config)
    curves = Curves(ckpt_dir)      # TensorBoard events + curves.png in the checkpoint folder
    state, _ = train(config, data["image"], data["expression"], seed=seed, ckpt_dir=ckpt_dir,
                     identities=data.get("subject"),
                     progress=progress, log=lambda r: (curves.epoch(r), log and log(r)), step_log=curves.step,
                     identity=identity, mesh=mesh)
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
