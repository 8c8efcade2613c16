"""Where CLIFER's imagined samples come from (docs/caae.md, "Imagination modes").

* ``"caae"`` — the CAAE's imagination in feature space, v' = F(E(G(F⁻¹(v), c)))
  (`clifer_jax.features.imagine_unchecked`); the method.
* ``"oracle"`` — perfect imagination, for synthetic data only: for the training sample
  whose episodic BMU is v, the feature of the renderer's *true* face of that evaluation
  subject with expression c, drawn at the sample's intensity and with its viewing
  conditions (pose, lighting, speech, occlusion, noise), encoded by E and mapped into the
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


def oracle_levels(intensity: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The intensity at which each sample's oracle faces are drawn, [S, C, L].

    A sample's own intensity (the main class's level relative to its prototype); a
    Neutral sample has none (0 by definition), so its oracle faces take the mean
    intensity of that subject's valid expressive samples (1 if it has none)."""
    intensity, y, mask = np.asarray(intensity, np.float32), np.asarray(y), np.asarray(mask, bool)
    expressive = mask & (y != _NEUTRAL)
    total = np.where(expressive, intensity, 0.0).sum(axis=(1, 2))
    count = expressive.sum(axis=(1, 2))
    mean = np.where(count > 0, total / np.maximum(count, 1), 1.0).astype(np.float32)   # [S]
    return np.where(y == _NEUTRAL, mean[:, None, None], intensity).astype(np.float32)


def oracle_images(config, subjects, y: np.ndarray, clip: np.ndarray, frame: np.ndarray,
                  mask: np.ndarray, image_size: int | None = None) -> np.ndarray:
    """The renderer's true faces for every training sample and target class.

    config: the `SyntheticConfig` the samples were generated with (evaluation pool);
    subjects: their subject ids [S]; y, clip, frame, mask: [S, C, L] as in
    `loading.SubjectArrays` (padding rows are drawn like sample 0 and should be ignored).
    Returns uint8 [S, C, L, K, H, W, 1], K = 6 target classes in canonical order: subject
    s with prototype c at the sample's intensity (`oracle_levels`) under the sample's own
    viewing conditions. For an "easy" sample of a non-Neutral class, target = its class
    redraws the sample exactly."""
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
    plan = synthetic.plan(config, "eval")
    s_idx = sid[:, None, None]
    levels = oracle_levels(plan["intensity"][s_idx, cls, k, f], y, mask)            # [S, C, L]
    aus = levels[..., None, None] * synthetic.PROTOTYPES[None, None, None]          # [S, C, L, K, 11]
    nui = plan["nuisance"]
    nuisance = type(nui)(**{name: None if getattr(nui, name) is None
                            else np.asarray(getattr(nui, name))[s_idx, cls, k, f][..., None]
                            for name in nui.__dataclass_fields__})                # [S, C, L, 1]
    identity = plan["identity"].take(sid)                                           # [S, 1, 1, 1]
    return synthetic.render(identity, aus, nuisance, image_size or config.image_size)


def oracle_table(config, subjects, y, clip, frame, mask, encode: Callable[[np.ndarray], np.ndarray],
                 *, channels: int = 1, image_size: int | None = None) -> np.ndarray:
    """Memory features of `oracle_images`: float32 [S, C, L, K, D] (padding rows 0).

    encode(images uint8 [N, H, W, ch]) -> features [N, D]: the run's feature map (E, then
    the fitted transform: `features.encode`). channels: 3 repeats gray to RGB."""
    images = oracle_images(config, subjects, y, clip, frame, mask, image_size)
    lead = images.shape[:4]
    flat = images.reshape((-1,) + images.shape[-3:])
    if channels == 3:
        flat = np.repeat(flat, 3, axis=-1)
    feats = np.asarray(encode(flat), np.float32)
    feats = feats.reshape(lead + (feats.shape[-1],))
    return np.where(np.asarray(mask, bool)[..., None, None], feats, 0.0).astype(np.float32)

