"""Synthetic FER: procedural subjects, expression prototypes and clips (SPEC §5).

The embedded default dataset. A subject is an ``Identity`` (face geometry, tones and a
personal expression style); an expression is a vector of 11 action-unit intensities; a
clip ramps the intensity from onset towards apex while the head jitters a little. Every
number is drawn from ``numpy.random.default_rng`` streams keyed by ``(seed, pool, subject)``,
so subject ``i`` is the same face whatever the number of subjects, and the ``"eval"`` and
``"train"`` pools never share a stream.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from clifer_jax.classes import EXPRESSIONS, NUM_CLASSES
from clifer_jax.data.renderer import (
    AU_NAMES,
    NUM_AUS,
    Identity,
    Nuisance,
    canonical_nuisance,
    effective_aus,
    render,
    sample_nuisance,
)

__all__ = [
    "AU_NAMES", "NUM_AUS", "PROTOTYPES", "Identity", "Nuisance", "SyntheticConfig",
    "canonical_nuisance", "effective_aus", "generate", "prototype_aus", "render",
    "sample_identities", "sample_nuisance",
]

POOLS: dict[str, int] = {"eval": 0, "train": 1}
_CLIP_JITTER = 0.25  # per-clip deviations relative to ``sample_nuisance`` at strength 1
_FRAME_JITTER = 0.15  # per-frame deviations on top of the clip's


def _proto(**aus: float) -> np.ndarray:
    v = np.zeros(NUM_AUS, np.float32)
    for name, value in aus.items():
        v[AU_NAMES.index(name)] = value
    return v


# SPEC §5 prototypes, rows in canonical class order (clifer_jax.classes.EXPRESSIONS).
# AU25 (lips part) is not among the 11 AUs; a little AU26 stands in for it in Happiness.
_BY_NAME = {
    "Anger": _proto(AU4=1.0, AU5=0.7, AU7=1.0, AU23=1.0),
    "Sadness": _proto(AU1=1.0, AU4=0.7, AU15=1.0),
    "Happiness": _proto(AU6=1.0, AU12=1.0, AU26=0.2),
    "Surprise": _proto(AU1=1.0, AU2=1.0, AU5=1.0, AU26=1.0),
    "Fear": _proto(AU1=1.0, AU2=0.7, AU4=0.6, AU5=1.0, AU20=1.0, AU26=0.5),
    "Neutral": _proto(),
}
PROTOTYPES: np.ndarray = np.stack([_BY_NAME[name] for name in EXPRESSIONS])  # [6, 11]
PROTOTYPES.setflags(write=False)


def prototype_aus(expression: int) -> np.ndarray:
    """Apex AU intensities [11] of a canonical class index (``clifer_jax.classes``)."""
    e = int(expression)
    if not 0 <= e < NUM_CLASSES:
        raise ValueError(f"expression must be in 0..{NUM_CLASSES - 1}, got {expression}")
    return PROTOTYPES[e].copy()


def _pool_id(pool: str) -> int:
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {tuple(POOLS)}, got {pool!r}")
    return POOLS[pool]


INDEX_AU: dict[str, int] = {name: i for i, name in enumerate(AU_NAMES)}


def _one_identity(rng: np.random.Generator) -> dict:
    U = rng.uniform
    gain = np.clip(np.exp(rng.normal(0.0, 0.3, NUM_AUS)), 0.5, 1.7)
    coupling = np.zeros((NUM_AUS, NUM_AUS))
    for _ in range(3):  # a few idiosyncratic co-activations
        i, j = rng.choice(NUM_AUS, 2, replace=False)
        coupling[i, j] = U(0.15, 0.5)
    rest = np.zeros(NUM_AUS)
    mood = U(-0.3, 0.3)  # a slight resting smile (> 0) or pout (< 0)
    rest[INDEX_AU["AU12"]] = max(mood, 0.0)
    rest[INDEX_AU["AU15"]] = max(-mood, 0.0)
    rest[INDEX_AU["AU4"]] = U(0.0, 0.2) * (rng.random() < 0.4)
    skin = U(0.5, 0.85)
    return dict(
        face_w=U(0.58, 0.7), face_h=U(0.76, 0.86), chin=U(0.05, 0.35),
        eye_sep=U(0.22, 0.28), eye_y=U(-0.14, -0.06), eye_w=U(0.095, 0.125),
        eye_h=U(0.035, 0.05), brow_h=U(0.1, 0.15), brow_t=U(0.018, 0.03),
        nose_len=U(0.2, 0.27), nose_w=U(0.07, 0.1), mouth_y=U(0.36, 0.44),
        mouth_w=U(0.15, 0.2), lip_t=U(0.025, 0.045), hairline=U(-0.62, -0.42),
        hair_vol=U(1.04, 1.2), hair_part=U(-0.25, 0.25), hair_len=U(0.0, 1.0),
        skin=skin, hair=U(0.05, 0.45) if rng.random() < 0.8 else U(0.6, 0.9),
        background=U(0.15, 0.95),
        au_gain=gain, au_coupling=coupling, au_rest=rest, asym=U(-0.3, 0.3),
    )


def sample_identities(seed: int, n: int, pool: str = "eval") -> Identity:
    """``n`` subjects (fields with leading shape [n]) of a pool: ``"eval"`` or ``"train"``.

    Subject ``i`` depends only on ``(seed, pool, i)``; the pools use different streams.
    """
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rows = [_one_identity(np.random.default_rng([int(seed), _pool_id(pool), i, 0]))
            for i in range(int(n))]
    return Identity(**{k: np.stack([r[k] for r in rows]).astype(np.float32) for k in rows[0]})


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """Shape of a synthetic dataset (static: every field sets array shapes or streams).

    Each (subject, class) has ``clips_per_class`` clips of ``frames_per_clip`` frames; its
    last ``test_clips_per_class`` clips form the test split, the others the train split.
    ``n_subjects`` evaluation subjects form the ``"eval"`` pool, ``n_train_identities``
    the disjoint ``"train"`` pool (for the CAAE). ``nuisance`` scales pose, lighting and
    noise (0: every frame in the canonical view).

    ``onset`` is the intensity of a clip's first frame relative to its apex (the reference
    samples late frames of each window, so clips start part-way into the expression).
    """

    image_size: int = 64
    n_subjects: int = 24
    n_train_identities: int = 48
    clips_per_class: int = 4
    test_clips_per_class: int = 1
    frames_per_clip: int = 8
    onset: float = 0.5
    nuisance: float = 1.0
    seed: int = 0

    def __post_init__(self):
        checks = {
            "image_size": self.image_size >= 16,
            "n_subjects": self.n_subjects >= 1,
            "n_train_identities": self.n_train_identities >= 1,
            "clips_per_class": self.clips_per_class >= 1,
            "test_clips_per_class": 0 <= self.test_clips_per_class < self.clips_per_class,
            "frames_per_clip": self.frames_per_clip >= 1,
            "onset": 0.0 <= self.onset <= 1.0,
            "nuisance": self.nuisance >= 0.0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid SyntheticConfig fields {bad}: {self}")

    def n_identities(self, pool: str) -> int:
        return self.n_subjects if _pool_id(pool) == 0 else self.n_train_identities


def _clip_plan(config: SyntheticConfig, rng: np.random.Generator):
    """AU intensity scale of every frame [C, K, F]: a per-clip apex times the ramp."""
    C, K, F = NUM_CLASSES, config.clips_per_class, config.frames_per_clip
    apex = rng.uniform(0.8, 1.0, (C, K))
    pos = np.linspace(0.0, 1.0, F) if F > 1 else np.ones(1)
    ramp = pos * pos * (3 - 2 * pos)  # smoothstep onset → apex
    level = apex[..., None] * (config.onset + (1 - config.onset) * ramp)
    return level.astype(np.float32)


def _subject_nuisance(config: SyntheticConfig, rng: np.random.Generator) -> Nuisance:
    """Viewing conditions of one subject's clips: fields [C, K, F].

    Like a recording session: lighting, brightness and contrast are drawn once per
    subject, with small per-clip changes; head pose varies a little per clip and less per
    frame. Pixel noise is independent per frame.
    """
    C, K, F = NUM_CLASSES, config.clips_per_class, config.frames_per_clip
    s = config.nuisance
    session = sample_nuisance(rng, (1, 1, 1), strength=s)
    clip = sample_nuisance(rng, (C, K, 1), strength=_CLIP_JITTER * s)
    frame = sample_nuisance(rng, (C, K, F), strength=_FRAME_JITTER * s)
    b = lambda a: np.broadcast_to(a, (C, K, F)).astype(np.float32)  # noqa: E731
    return Nuisance(
        roll=b(clip.roll + frame.roll), dx=b(clip.dx + frame.dx), dy=b(clip.dy + frame.dy),
        scale=b(clip.scale * frame.scale), yaw=b(clip.yaw + frame.yaw),
        light_angle=b(session.light_angle + rng.normal(0.0, 0.1 * s, (C, K, 1))),
        light=b(np.maximum(session.light + rng.uniform(-0.02, 0.02, (C, K, 1)) * s, 0.0)),
        brightness=b(session.brightness + clip.brightness),
        contrast=b(session.contrast * clip.contrast),
        noise=b(session.noise), noise_seed=frame.noise_seed,
    )


def generate(config: SyntheticConfig = SyntheticConfig(), pool: str = "eval") -> dict:
    """Render a whole pool: dict of arrays, one row per image, ordered subject, class, clip,
    frame.

    Keys: ``image`` uint8 [N, H, W, 1], ``expression``/``subject``/``clip``/``frame`` int32
    [N], ``aus`` float32 [N, 11] (the intended AUs given to ``render``), ``split`` int32 [N]
    (0 train, 1 test; by clip). Same config → same bytes.
    """
    if not isinstance(config, SyntheticConfig):
        raise TypeError(f"config must be a SyntheticConfig, got {type(config).__name__}")
    pid = _pool_id(pool)
    S = config.n_identities(pool)
    C, K, F = NUM_CLASSES, config.clips_per_class, config.frames_per_clip
    ids = sample_identities(config.seed, S, pool)
    levels, nuis = [], []
    for s in range(S):
        rng = np.random.default_rng([config.seed, pid, s, 1])
        levels.append(_clip_plan(config, rng))
        nuis.append(_subject_nuisance(config, rng))
    level = np.stack(levels)  # [S, C, K, F]
    nuisance = Nuisance(**{k: np.stack([getattr(n, k) for n in nuis])
                           for k in Nuisance.__dataclass_fields__})
    aus = level[..., None] * PROTOTYPES[None, :, None, None, :]  # [S, C, K, F, 11]
    ident = ids.take((slice(None), None, None, None))  # [S, 1, 1, 1]
    images = render(ident, aus, nuisance, config.image_size)
    grid = np.meshgrid(np.arange(S), np.arange(C), np.arange(K), np.arange(F), indexing="ij")
    subject, expression, clip, frame = (g.reshape(-1).astype(np.int32) for g in grid)
    split = (clip >= K - config.test_clips_per_class).astype(np.int32)
    N = S * C * K * F
    return {
        "image": images.reshape(N, config.image_size, config.image_size, 1),
        "expression": expression,
        "subject": subject,
        "clip": clip,
        "frame": frame,
        "aus": aus.reshape(N, NUM_AUS).astype(np.float32),
        "split": split,
    }
