"""Where CLIFER's imagined samples come from (docs/caae.md, "Imagination modes").

* ``"caae"`` — the CAAE's imagination in feature space, v' = F(E(G(F⁻¹(v), c)))
  (`clifer_jax.features.imagine_unchecked`); the method.
* ``"oracle"`` — perfect imagination, for synthetic data only: for the training sample
  whose episodic BMU is v, the feature of the renderer's *true* face of that evaluation
  subject with expression c, drawn at the subject's own expressive intensity for c (the
  mean peak of its training clips of c) and with the sample's viewing conditions (pose, lighting, speech, occlusion, noise), encoded by E and mapped into the
  memories' space like every other feature. It depends on the sample, not on v, so it is
  precomputed per (subject, class, sample, target class) outside jit (`oracle_table`)
  and looked up in CLIFER's step.
* ``"none"`` — CLIFER's schedule without imagined samples: after each class step both
  memories train on the BMUs and the episodic nodes only (an ablation).

Real datasets have no renderer, so they accept ``"caae"`` and ``"none"`` only
(`check_mode`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from clifer_jax.classes import INDEX
from clifer_jax.data import synthetic

MODES: tuple[str, ...] = ("caae", "oracle", "none")
_NEUTRAL = INDEX["Neutral"]


def check_mode(mode: str, dataset: str) -> None:
    """Raise ValueError for an unknown mode, or ``"oracle"`` on a dataset the renderer did
    not draw (anything but ``"synthetic"``)."""
    if mode not in MODES:
        raise ValueError(f"unknown imagination mode {mode!r}; expected one of {MODES}")
    if mode == "oracle" and dataset != "synthetic":
        raise ValueError(f"imagination 'oracle' needs the renderer's ground truth, which only the "
                         f"synthetic data have; dataset {dataset!r} accepts 'caae' or 'none'")


def oracle_levels(intensity: np.ndarray, train_clips: int) -> np.ndarray:
    """The intensity at which a subject's oracle faces of each class are drawn, [S, C].

    intensity [S, C, K, F]: the plan's level of every frame (`synthetic.plan`); the first
    `train_clips` clips of each class are the training clips. A class's level is the
    subject's own expressive intensity for it: the mean over its training clips of each
    clip's peak, so that an onset frame (near neutral) still imagines a full expression."""
    intensity = np.asarray(intensity, np.float32)
    if intensity.ndim != 4:
        raise ValueError(f"intensity must be [S, C, K, F], got shape {intensity.shape}")
    if not 1 <= int(train_clips) <= intensity.shape[2]:
        raise ValueError(f"train_clips must be in 1..{intensity.shape[2]}, got {train_clips}")
    return intensity[:, :, : int(train_clips)].max(axis=3).mean(axis=2).astype(np.float32)


def oracle_images(config, subjects, y: np.ndarray, clip: np.ndarray, frame: np.ndarray,
                  mask: np.ndarray, image_size: int | None = None, pool: str = "eval") -> np.ndarray:
    """The renderer's true faces for every training sample and target class.

    config: the `SyntheticConfig` the samples were generated with, `pool` the pool ("eval":
    the test subjects, "dev": the development subjects);
    subjects: their subject ids [S]; y, clip, frame, mask: [S, C, L] as in
    `loading.SubjectArrays` (padding rows are drawn like sample 0 and should be ignored).
    Returns uint8 [S, C, L, K, H, W, 1], K = 6 target classes in canonical order: subject
    s with prototype c at s's own expressive intensity for c (`oracle_levels`) under the
    sample's own viewing conditions (pose, lighting, speech, occlusion, noise)."""
    if not isinstance(config, synthetic.SyntheticConfig):
        raise TypeError(f"config must be a SyntheticConfig, got {type(config).__name__}")
    y, clip, frame, mask = (np.asarray(a) for a in (y, clip, frame, mask))
    if not (y.shape == clip.shape == frame.shape == mask.shape) or y.ndim != 3:
        raise ValueError(f"y, clip, frame and mask must share one shape [S, C, L], got "
                         f"{y.shape}, {clip.shape}, {frame.shape}, {mask.shape}")
    sid = np.asarray(subjects, np.int64)
    if sid.shape != (y.shape[0],):
        raise ValueError(f"subjects must list the {y.shape[0]} subject ids, got shape {sid.shape}")
    if sid.min() < 0 or sid.max() >= config.n_subjects:
        raise ValueError(f"subject ids {sid.min()}..{sid.max()} outside the config's "
                         f"{config.n_subjects} evaluation subjects")
    mask = mask.astype(bool)
    cls = np.where(mask, y, 0)
    k, f = np.where(mask, clip, 0), np.where(mask, frame, 0)
    if mask.any() and (k[mask].max() >= config.clips_per_class or f[mask].max() >= config.frames_per_clip):
        raise ValueError("clip or frame index outside the config's clips_per_class / frames_per_clip")
    plan = synthetic.plan(config, pool)
    s_idx = sid[:, None, None]
    train_clips = config.clips_per_class - config.test_clips_per_class
    levels = oracle_levels(plan["intensity"], train_clips)[sid]                    # [S, K]
    aus = levels[:, None, None, :, None] * synthetic.PROTOTYPES[None, None, None]   # [S, C, L, K, 11]
    aus = np.broadcast_to(aus, y.shape + aus.shape[-2:])
    nui = plan["nuisance"]
    nuisance = type(nui)(**{name: None if getattr(nui, name) is None
                            else np.asarray(getattr(nui, name))[s_idx, cls, k, f][..., None]
                            for name in nui.__dataclass_fields__})                # [S, C, L, 1]
    identity = plan["identity"].take(sid)                                           # [S, 1, 1, 1]
    return synthetic.render(identity, aus, nuisance, image_size or config.image_size)


def oracle_table(config, subjects, y, clip, frame, mask, encode: Callable[[np.ndarray], np.ndarray],
                 *, channels: int = 1, image_size: int | None = None, pool: str = "eval") -> np.ndarray:
    """Memory features of `oracle_images`: float32 [S, C, L, K, D] (padding rows 0).

    encode(images uint8 [N, H, W, ch]) -> features [N, D]: the run's feature map (E, then
    the fitted transform: `features.encode`). channels: 3 repeats gray to RGB."""
    images = oracle_images(config, subjects, y, clip, frame, mask, image_size, pool)
    lead = images.shape[:4]
    flat = images.reshape((-1,) + images.shape[-3:])
    if channels == 3:
        flat = np.repeat(flat, 3, axis=-1)
    feats = np.asarray(encode(flat), np.float32)
    feats = feats.reshape(lead + (feats.shape[-1],))
    return np.where(np.asarray(mask, bool)[..., None, None], feats, 0.0).astype(np.float32)

