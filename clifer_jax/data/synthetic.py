"""Synthetic FER: procedural subjects, expression prototypes and clips (docs/data.md).

The embedded default dataset. A subject is an ``Identity`` (face geometry, tones and a
personal expression style); an expression is a vector of 11 action-unit intensities; a
clip is a short video whose intensity, head pose, lighting, speech and occlusion follow a
*preset* (``PRESETS``): ``"posed"`` (the default; RAVDESS/MMI-like: clips rise from
neutral, hold the apex and relax), ``"spontaneous"`` (BAUM-1s-like: subtle, blended,
occluded, blurred) and ``"easy"`` (the original data: a ramp from half the apex to the
apex, nearly frontal). Every number is drawn from ``numpy.random.default_rng`` streams
keyed by ``(seed, pool, subject, purpose)``, so subject ``i`` is the same face whatever
the number of subjects or the preset, and the pools never share a stream: ``"eval"`` (the
test subjects results are reported on), ``"dev"`` (development subjects drawn by the same
laws, for screening and calibration) and ``"train"`` (the CAAE's identities, with a
domain gap).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from clifer_jax.classes import EXPRESSIONS, NUM_CLASSES
from clifer_jax.data.frames import sample_frames
from clifer_jax.data.renderer import (
    AU_NAMES,
    NUM_AUS,
    Identity,
    OPTIONAL_NUISANCE,
    Nuisance,
    canonical_nuisance,
    effective_aus,
    render,
    sample_nuisance,
)

__all__ = [
    "AU_NAMES", "NUM_AUS", "PRESETS", "PROTOTYPES", "Identity", "Nuisance", "Preset",
    "SyntheticConfig", "canonical_nuisance", "effective_aus", "generate", "plan", "preset",
    "prototype_aus", "render", "sample_identities", "sample_nuisance",
]

# Stream keys of the pools: "eval" (test subjects), "train" (the CAAE's identities) and
# "dev" (development subjects: the laws of "eval", disjoint from both).
POOLS: dict[str, int] = {"eval": 0, "train": 1, "dev": 2}
SAMPLINGS: tuple[str, ...] = ("ravdess", "baum", "mmi", "spread")
_CLIP_JITTER = 0.25  # per-clip deviations relative to ``sample_nuisance`` at strength 1
_FRAME_JITTER = 0.15  # per-frame deviations on top of the clip's


def _proto(**aus: float) -> np.ndarray:
    v = np.zeros(NUM_AUS, np.float32)
    for name, value in aus.items():
        v[AU_NAMES.index(name)] = value
    return v


# docs/data.md prototypes, rows in canonical class order (clifer_jax.classes.EXPRESSIONS).
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


INDEX_NEUTRAL: int = EXPRESSIONS.index("Neutral")
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


def _perturb_style(row: dict, rng: np.random.Generator, gap: float) -> dict:
    """The domain gap of the CAAE's pool: personal styles from wider, shifted laws."""
    row = dict(row)
    row["au_gain"] = np.clip(row["au_gain"] * np.exp(rng.normal(0.1 * gap, 0.35 * gap, NUM_AUS)),
                             0.3, 2.2)
    coupling = row["au_coupling"].copy()
    for _ in range(int(round(3 * gap))):  # more idiosyncratic co-activations
        i, j = rng.choice(NUM_AUS, 2, replace=False)
        coupling[i, j] += rng.uniform(0.1, 0.5) * gap
    row["au_coupling"] = coupling
    row["asym"] = np.clip(row["asym"] * (1 + gap) + rng.normal(0, 0.1 * gap), -0.5, 0.5)
    return row


def sample_identities(seed: int, n: int, pool: str = "eval", gap: float = 0.0) -> Identity:
    """``n`` subjects (fields with leading shape [n]) of a pool: ``"eval"`` (test
    subjects), ``"dev"`` (development subjects) or ``"train"`` (the CAAE's identities).

    Subject ``i`` depends only on ``(seed, pool, i)``; the pools use different streams.
    ``gap`` > 0 (the ``"train"`` pool of the posed and spontaneous presets) draws the
    personal styles from wider, shifted laws (a domain gap; docs/data.md).
    """
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not np.isfinite(gap) or gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    pid = _pool_id(pool)
    rows = [_one_identity(np.random.default_rng([int(seed), pid, i, 0])) for i in range(int(n))]
    if gap > 0:
        rows = [_perturb_style(r, np.random.default_rng([int(seed), pid, i, 2]), gap)
                for i, r in enumerate(rows)]
    return Identity(**{k: np.stack([r[k] for r in rows]).astype(np.float32) for k in rows[0]})


def _pair(name: str, value) -> tuple[float, float]:
    lo, hi = (float(x) for x in value)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(f"Preset.{name} must be a finite (low, high) range, got {value!r}")
    return lo, hi


@dataclasses.dataclass(frozen=True)
class Preset:
    """How clips behave (docs/data.md). Ranges are ``(low, high)`` of uniform draws.

    ``dynamics=False`` is the original ramp (``SyntheticConfig.onset`` × apex → apex,
    small pose jitter, lighting per subject) and ignores the other fields. With
    ``dynamics=True`` a clip is a video: neutral until ``lead`` (fraction of the clip),
    rising over ``rise`` to its apex, holding it until ``hold_end``, relaxing to
    ``end`` × apex at the end. ``sampling``: the frames kept from the clip's 30 fps
    video, as the reference keeps them (``frames.sample_frames``: ``"ravdess"``,
    ``"baum"`` or ``"mmi"``; the clip lasts the fewest 15-frame windows that yield the
    clip's frames, plus 0–14 frames), or ``"spread"``: one frame per equal slice of the
    clip. ``repetition``: each held-out clip is a second take of a training clip, its
    twin (as RAVDESS's held-out repetitions): the same intensity level and statement
    (whether it speaks, its rate within 5%) and the same clip length; its apex the twin's
    within ± ``take_apex`` × the middle of the apex range, its lead-in, rise, end of the
    hold and final level the twin's moved by a normal deviation of ``take_timing`` × the
    typical lead-in, rise, hold and level (each reflected back into its range, so second
    takes follow the law of every clip); its own speech onset and phase, pose and
    lighting. Apex intensity:
    ``apex`` for normal clips, ``apex_strong`` for the ``strong_share`` of strong ones
    (Neutral has none). ``blend``: weight of a second class's prototype mixed in.
    ``speech_share`` of clips speak: jaw (``speech`` amplitude, AU26 units) and lips
    move at syllable rate, whatever the class. Head pose: a habitual yaw per subject,
    uniform in ±``pose_deg`` (pitch 0.7×), plus per clip a change of standard deviation
    ``clip_pose_deg`` (pitch 0.7×) and a drift across the clip (standard deviation half
    that); ``light`` strength per clip in a random direction; ``occlusion_share`` of clips
    have a hand, hair or glasses; ``blur`` edge widening per clip; ``blocks`` the block
    (compression) noise and ``noise`` the pixel noise. ``gap`` is the domain gap of the
    ``"train"`` pool: perturbed prototypes and styles, ``gap_pose`` × the pose and the
    ``gap_light`` lighting range.
    """

    name: str
    dynamics: bool = True
    apex: tuple[float, float] = (0.6, 0.85)
    apex_strong: tuple[float, float] = (0.9, 1.1)
    strong_share: float = 0.5
    lead: tuple[float, float] = (0.2, 0.3)
    rise: tuple[float, float] = (0.1, 0.2)
    hold_end: tuple[float, float] = (0.55, 0.7)
    end: tuple[float, float] = (0.2, 0.5)
    blend: tuple[float, float] = (0.0, 0.0)
    speech_share: float = 0.5
    speech: float = 0.25
    pose_deg: float = 15.0
    light: tuple[float, float] = (0.05, 0.35)
    occlusion_share: float = 0.0
    blur: tuple[float, float] = (0.0, 0.3)
    blocks: float = 0.0
    noise: float = 0.02
    gap: float = 0.6
    gap_pose: float = 1.2
    gap_light: tuple[float, float] = (0.0, 0.25)
    align: float = 0.1
    light_spread: float = 0.1
    light_jitter: float = 0.01
    clip_pose_deg: float = 3.0
    photometric: float = 0.1
    sampling: str = "ravdess"
    repetition: bool = True
    take_timing: float = 0.25
    take_apex: float = 0.12

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Preset.name must be a non-empty string, got {self.name!r}")
        for k in ("apex", "apex_strong", "lead", "rise", "hold_end", "end", "blend", "light",
                  "blur", "gap_light"):
            lo, hi = _pair(k, getattr(self, k))
            if lo < 0:
                raise ValueError(f"Preset.{k} must be >= 0, got {getattr(self, k)!r}")
            object.__setattr__(self, k, (lo, hi))
        checks = {
            "strong_share": 0 <= self.strong_share <= 1,
            "speech_share": 0 <= self.speech_share <= 1,
            "occlusion_share": 0 <= self.occlusion_share <= 1,
            "speech": 0 <= self.speech <= 1,
            "pose_deg": 0 <= self.pose_deg <= 30,
            "clip_pose_deg": 0 <= self.clip_pose_deg <= 15,
            "take_timing": 0 <= self.take_timing <= 1,
            "take_apex": 0 <= self.take_apex <= 0.5,
            "light_jitter": 0 <= self.light_jitter <= 0.5,
            "blocks": 0 <= self.blocks <= 0.2,
            "noise": 0 <= self.noise <= 0.2,
            "gap": 0 <= self.gap <= 2,
            "gap_pose": 0 <= self.gap_pose <= 2,
            "align": 0 <= self.align <= 3,
            "light_spread": 0 <= self.light_spread <= 4,
            "photometric": 0 <= self.photometric <= 3,
            "apex": self.apex[1] <= 1.3,
            "apex_strong": self.apex_strong[1] <= 1.3,
            "end": self.end[1] <= 1,
            "blend": self.blend[1] <= 1,
            "lead": self.lead[1] + self.rise[1] <= self.hold_end[0],
            "hold_end": self.hold_end[1] <= 1,
        }
        if not isinstance(self.repetition, (bool, np.bool_)):
            raise ValueError(f"Preset.repetition must be True or False, got {self.repetition!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"Preset.sampling must be one of {SAMPLINGS}, got {self.sampling!r}")
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid Preset fields {bad}: {self}")


PRESETS: dict[str, Preset] = {
    # The original data: a ramp from onset × apex to apex, 1° roll, a quarter-pixel shift.
    "easy": Preset("easy", dynamics=False, gap=0.0),
    # RAVDESS / MMI: posed clips from neutral to apex and back, half of them speaking.
    "posed": Preset("posed"),
    # BAUM-1s: subtle, blended, more pose, occlusions, blur and compression.
    "spontaneous": Preset(
        "spontaneous", apex=(0.25, 0.55), apex_strong=(0.45, 0.75), strong_share=0.3,
        lead=(0.05, 0.2), rise=(0.2, 0.35), hold_end=(0.55, 0.8), end=(0.1, 0.6),
        sampling="baum", repetition=False, blend=(0.0, 0.45), speech_share=0.6, pose_deg=20.0, clip_pose_deg=3.0,
        light=(0.1, 0.45), light_spread=0.5, light_jitter=0.05, align=0.3, photometric=0.5,
        occlusion_share=0.4, blur=(0.3, 1.5), blocks=0.03, noise=0.03),
}


def preset(name: str, **overrides) -> Preset:
    """The preset called ``name`` (``PRESETS``), with some fields overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown synthetic preset {name!r}; expected one of {tuple(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides) if overrides else PRESETS[name]


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """Shape of a synthetic dataset (static: every field sets array shapes or streams).

    Each (subject, class) has ``clips_per_class`` clips of ``frames_per_clip`` frames; its
    last ``test_clips_per_class`` clips form the test split, the others the train split.
    A pool holds ``n_subjects`` identities: the test subjects (pool ``"eval"``), the
    development subjects (pool ``"dev"``, drawn like them) or the CAAE's disjoint training
    identities (pool ``"train"``; ``caae.pool.PoolConfig`` sets its size). ``preset``: how
    clips behave, a name in ``PRESETS`` (``"posed"``, ``"spontaneous"``, ``"easy"``) or a
    ``Preset``.
    ``nuisance`` scales pose, lighting, blur and noise (0: every frame in the canonical
    view; speech and occlusions stay).

    ``onset`` (``"easy"`` only) is the intensity of a clip's first frame relative to its
    apex.
    """

    image_size: int = 64
    n_subjects: int = 24
    clips_per_class: int = 4
    test_clips_per_class: int = 1
    frames_per_clip: int = 8
    onset: float = 0.5
    nuisance: float = 1.0
    seed: int = 0
    preset: str | Preset = "posed"

    def __post_init__(self):
        if isinstance(self.preset, str) and self.preset not in PRESETS:
            raise ValueError(f"SyntheticConfig.preset: unknown synthetic preset {self.preset!r}; "
                             f"expected one of {tuple(PRESETS)} or a Preset")
        if not isinstance(self.preset, (str, Preset)):
            raise ValueError(f"SyntheticConfig.preset must be a name or a Preset, got "
                             f"{type(self.preset).__name__}")
        checks = {
            "image_size": self.image_size >= 16,
            "n_subjects": self.n_subjects >= 1,
            "clips_per_class": self.clips_per_class >= 1,
            "test_clips_per_class": 0 <= self.test_clips_per_class < self.clips_per_class,
            "frames_per_clip": self.frames_per_clip >= 1,
            "onset": 0.0 <= self.onset <= 1.0,
            "nuisance": self.nuisance >= 0.0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid SyntheticConfig fields {bad}: {self}")

    @property
    def dynamics(self) -> Preset:
        """The ``Preset`` object of ``preset``."""
        return self.preset if isinstance(self.preset, Preset) else PRESETS[self.preset]



def _clip_plan(config: SyntheticConfig, rng: np.random.Generator):
    """AU intensity scale of every frame [C, K, F]: a per-clip apex times the ramp."""
    C, K, F = NUM_CLASSES, config.clips_per_class, config.frames_per_clip
    apex = rng.uniform(0.8, 1.0, (C, K))
    pos = np.linspace(0.0, 1.0, F) if F > 1 else np.ones(1)
    ramp = pos * pos * (3 - 2 * pos)  # smoothstep onset → apex
    level = apex[..., None] * (config.onset + (1 - config.onset) * ramp)
    return level.astype(np.float32)


def _subject_nuisance(config: SyntheticConfig, rng: np.random.Generator) -> Nuisance:
    """Viewing conditions of one subject's clips (``"easy"``): fields [C, K, F].

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
    z = np.zeros((C, K, F), np.float32)
    return Nuisance(
        roll=b(clip.roll + frame.roll), dx=b(clip.dx + frame.dx), dy=b(clip.dy + frame.dy),
        scale=b(clip.scale * frame.scale), yaw=b(clip.yaw + frame.yaw),
        light_angle=b(session.light_angle + rng.normal(0.0, 0.1 * s, (C, K, 1))),
        light=b(np.maximum(session.light + rng.uniform(-0.02, 0.02, (C, K, 1)) * s, 0.0)),
        brightness=b(session.brightness + clip.brightness),
        contrast=b(session.contrast * clip.contrast),
        noise=b(session.noise), noise_seed=frame.noise_seed,
        **{k: z for k in OPTIONAL_NUISANCE},
    )


def _smooth(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


WINDOW = 15  # frames per window of the reference's sampling: half of 30 fps


def _reference_times(scheme: str, F: int, extra: np.ndarray) -> np.ndarray:
    """Times in [0, 1] [C, K, F] of the frames the reference keeps (``frames.sample_frames``)
    from a clip of the fewest whole windows that yield F frames, plus ``extra`` [C, K]
    frames of a last partial window (clip lengths vary)."""
    w = 1
    while len(sample_frames(w * WINDOW, scheme, WINDOW)) < F:
        w += 1
    n = w * WINDOW + extra  # [C, K]
    idx = sample_frames(w * WINDOW, scheme, WINDOW)[:F]
    return ((idx + 0.5)[None, None, :] / n[..., None]).astype(np.float64)


def _fold(x: np.ndarray, lo, hi) -> np.ndarray:
    """``x`` reflected back into [lo, hi] at the bounds (as often as needed)."""
    w = np.maximum(np.asarray(hi, np.float64) - lo, 1e-12)
    z = np.mod(x - lo, 2 * w)
    return lo + np.where(z > w, 2 * w - z, z)


class _Takes:
    """Held-out clips as second takes (RAVDESS's repetitions): each of a class's last
    ``test_clips_per_class`` clips repeats one of its training clips (``src`` [C, T], its
    twin). ``__call__`` copies the twin's value (intensity level, statement, clip
    length); ``vary`` draws a new take around the twin's value: the twin's plus a
    symmetric deviation, reflected back into the preset's range, so that a second take
    follows the same law as any clip (the two takes are exchangeable, as RAVDESS's
    repetitions 01 and 02 are). What neither touches (speech onset and phase, pose,
    lighting) stays the clip's own. The identity when ``on`` is False. Draws come from a
    stream of their own (``rng``), the same whether ``on`` or not, so turning it off
    changes the held-out clips only. ``extra`` [C, K]: each clip's frames beyond its whole
    windows (``_reference_times``)."""

    def __init__(self, config, on: bool, rng: np.random.Generator):
        K, T = config.clips_per_class, config.test_clips_per_class
        self.on = bool(on) and T > 0
        self.test = np.arange(K - T, K)
        self.src = rng.integers(0, K - T, (NUM_CLASSES, T))
        self.extra = rng.integers(0, WINDOW, (NUM_CLASSES, K))
        self.rng = np.random.default_rng(rng.integers(0, 2**63))

    def __call__(self, a: np.ndarray) -> np.ndarray:
        if not self.on:
            return a
        a = a.copy()
        rows = np.arange(a.shape[0])[:, None]
        a[rows, self.test] = a[rows, self.src]
        return a

    def vary(self, a: np.ndarray, lo, hi, scale, law: str = "normal") -> np.ndarray:
        """``a`` with each held-out clip's value its twin's plus a deviation — normal with
        standard deviation ``scale``, or uniform in ±``scale`` — reflected into [lo, hi]
        (``lo``, ``hi``, ``scale``: scalars or arrays that broadcast to ``a``)."""
        if not self.on:
            return a
        a = self(a)
        pick = lambda v: np.broadcast_to(v, a.shape)[:, self.test]  # noqa: E731
        shape = a[:, self.test].shape
        d = (self.rng.normal(0.0, 1.0, shape) if law == "normal"
             else self.rng.uniform(-1.0, 1.0, shape)) * pick(scale)
        a[:, self.test] = _fold(a[:, self.test] + d, pick(lo), pick(hi))
        return a


def _video_plan(config: SyntheticConfig, rng: np.random.Generator, train_pool: bool,
                takes_rng: np.random.Generator):
    """One subject's clips as videos (``Preset.dynamics``): AUs [C, K, F, 11], intensity
    [C, K, F], strong [C, K] and the viewing conditions (fields [C, K, F])."""
    P = config.dynamics
    C, K, F = NUM_CLASSES, config.clips_per_class, config.frames_per_clip
    U = lambda r, shape: rng.uniform(r[0], r[1], shape)  # noqa: E731
    s = config.nuisance

    # Expression: prototypes (perturbed in the CAAE's pool), per-clip apex and blend.
    protos = PROTOTYPES.astype(np.float64)
    if train_pool and P.gap > 0:
        scale = np.exp(rng.normal(0.0, 0.3 * P.gap, protos.shape))
        extra = rng.uniform(0, 0.35 * P.gap, protos.shape) * (rng.random(protos.shape) < 0.2)
        protos = np.clip(protos * scale + extra * (protos == 0), 0.0, 1.2)
        protos[INDEX_NEUTRAL] = 0.0
    take = _Takes(config, P.repetition, takes_rng)
    mid = lambda r: 0.5 * (r[0] + r[1])  # noqa: E731
    strong = take((rng.random((C, K)) < P.strong_share) & (np.arange(C) != INDEX_NEUTRAL)[:, None])
    apex = np.where(strong, U(P.apex_strong, (C, K)), U(P.apex, (C, K)))
    apex = take.vary(apex, np.where(strong, P.apex_strong[0], P.apex[0]),  # within take_apex
                     np.where(strong, P.apex_strong[1], P.apex[1]),
                     P.take_apex * np.where(strong, mid(P.apex_strong), mid(P.apex)), "uniform")
    second = take((np.arange(C)[:, None] + rng.integers(1, C, (C, K))) % C)
    blend = take.vary(U(P.blend, (C, K)), *P.blend, 0.1 * mid(P.blend), "uniform")

    # Timing: neutral → apex → offset; the frames the reference keeps from the video.
    t = (np.arange(F) + 0.5 + rng.uniform(-0.25, 0.25, (C, K, F))) / F
    if P.sampling != "spread":  # the reference's windows over a 30 fps video
        t = _reference_times(P.sampling, F, take(take.extra))
    # A second take's lead-in, rise, end of the hold and final level: its twin's, each
    # moved by take_timing × the typical lead-in, rise, hold (hold_end - lead - rise) and
    # level, within the preset's ranges.
    sd = P.take_timing
    lead = take.vary(U(P.lead, (C, K, 1)), *P.lead, sd * mid(P.lead))
    rise = take.vary(U(P.rise, (C, K, 1)), *P.rise, sd * mid(P.rise))
    hold = take.vary(U(P.hold_end, (C, K, 1)), *P.hold_end,
                     sd * (mid(P.hold_end) - mid(P.lead) - mid(P.rise)))
    end = take.vary(U(P.end, (C, K, 1)), *P.end, sd * mid(P.end))
    up = _smooth((t - lead) / rise)
    down = 1.0 - (1.0 - end) * _smooth((t - hold) / np.maximum(1.0 - hold, 1e-3))
    wobble = 1.0 + 0.05 * np.sin(2 * np.pi * (2 * t + rng.random((C, K, 1))))
    level = apex[..., None] * up * down * wobble  # [C, K, F]
    aus = level[..., None] * (protos[:, None, None, :]
                              + blend[..., None, None] * protos[second][:, :, None, :])
    intensity = np.where((np.arange(C) == INDEX_NEUTRAL)[:, None, None], 0.0, level)

    # Speech: syllable-rate jaw and lip movement from just after the onset. A second take
    # says its twin's statement at its rate (within 5%), but starts, ends and articulates
    # (phase) on its own.
    speaks = take(rng.random((C, K, 1)) < P.speech_share)
    t0 = lead + rng.uniform(0.0, 0.1, (C, K, 1))
    t1 = rng.uniform(0.75, 0.95, (C, K, 1))
    on = speaks * (t > t0) * (t < t1)
    rate = take.vary(rng.uniform(3.0, 6.0, (C, K, 1)), 3.0, 6.0, 0.05 * 4.5, "uniform")
    ph = rng.random((C, K, 2))
    jaw = on * P.speech * (0.5 + 0.5 * np.sin(2 * np.pi * (rate * t + ph[..., :1])))
    lips = on * 0.6 * P.speech * (0.5 + 0.5 * np.sin(2 * np.pi * (0.7 * rate * t + ph[..., 1:])))

    # Pose: the subject's habitual yaw/pitch towards the camera (a session), a per-clip
    # change and a drift across the clip; small roll, shift and scale (alignment).
    gp = P.gap_pose if train_pool and P.gap > 0 else 1.0
    rad = np.deg2rad(1.0) * s * gp
    drift = rng.normal(0.0, 0.5, (C, K, 2)) * P.clip_pose_deg * rad
    head_yaw = (rng.uniform(-1, 1) * P.pose_deg * rad
                + rng.normal(0.0, 1.0, (C, K, 1)) * P.clip_pose_deg * rad + drift[..., :1] * (t - 0.5))
    head_pitch = (0.7 * rng.uniform(-1, 1) * P.pose_deg * rad
                  + 0.7 * rng.normal(0.0, 1.0, (C, K, 1)) * P.clip_pose_deg * rad
                  + drift[..., 1:] * (t - 0.5))
    n = lambda sd, shape: rng.normal(0.0, sd * s, shape)  # noqa: E731
    light_range = P.gap_light if train_pool and P.gap > 0 else P.light
    session_angle = rng.uniform(0, 2 * np.pi)  # the studio's key light; clips vary around it
    light_spread = P.light_spread * s
    occ = np.where(rng.random((C, K, 1)) < P.occlusion_share, rng.integers(1, 4, (C, K, 1)), 0)
    side = rng.choice([-1.0, 1.0], (C, K, 1))
    occ_u = np.where(occ == 1, rng.uniform(-0.35, 0.35, (C, K, 1)), side * rng.uniform(0.1, 0.3, (C, K, 1)))
    occ_v = np.where(occ == 1, rng.uniform(0.25, 0.6, (C, K, 1)), -0.05)
    b = lambda a: np.broadcast_to(a, (C, K, F)).astype(np.float32)  # noqa: E731
    al, ph = P.align, P.photometric
    nuisance = Nuisance(
        roll=b(n(al * np.deg2rad(2.0), (C, K, 1)) + n(al * np.deg2rad(0.5), (C, K, F))),
        dx=b(n(al * 0.02, (C, K, 1)) + n(al * 0.004, (C, K, F))),
        dy=b(n(al * 0.02, (C, K, 1)) + n(al * 0.004, (C, K, F))),
        scale=b(1.0 + n(al * 0.02, (C, K, 1))), yaw=b(0.0),
        light_angle=b(session_angle + rng.normal(0.0, light_spread, (C, K, 1))),
        light=b(np.maximum(U(light_range, ()) + rng.normal(0.0, P.light_jitter, (C, K, 1)), 0) * s),
        brightness=b(n(ph * 0.04, (C, K, 1))), contrast=b(1.0 + n(ph * 0.06, (C, K, 1))),
        noise=b(P.noise * s), noise_seed=rng.integers(0, 2**32, (C, K, F), dtype=np.uint32),
        head_yaw=b(head_yaw), head_pitch=b(head_pitch), jaw=b(jaw), lips=b(lips),
        occluder=b(occ), occ_u=b(occ_u), occ_v=b(occ_v), occ_size=b(rng.uniform(0.3, 0.45, (C, K, 1))),
        blur=b(U(P.blur, (C, K, 1)) * s), blocks=b(P.blocks * s),
    )
    twin = take.src if take.on else np.full((C, config.test_clips_per_class), -1)
    return aus.astype(np.float32), intensity.astype(np.float32), strong, nuisance, twin


def plan(config: SyntheticConfig = SyntheticConfig(), pool: str = "eval") -> dict:
    """Everything ``generate`` draws, without rendering: ``identity`` (batch [S, 1, 1, 1]),
    ``aus`` [S, C, K, F, 11] (intended), ``intensity`` [S, C, K, F] (the main class's
    level relative to its full prototype; 0 for Neutral), ``strong`` [S, C, K] and
    ``nuisance`` (fields [S, C, K, F]) and ``twin`` int [S, C, T] (T =
    ``test_clips_per_class``): the training clip that each held-out clip (clip K - T + j)
    repeats as a second take (``Preset.repetition``), -1 where held-out clips are
    independent. ``render(identity, aus, nuisance)`` draws the pool.
    """
    if not isinstance(config, SyntheticConfig):
        raise TypeError(f"config must be a SyntheticConfig, got {type(config).__name__}")
    pid = _pool_id(pool)
    P = config.dynamics
    S = config.n_subjects
    train_pool = pid == POOLS["train"]
    ids = sample_identities(config.seed, S, pool, gap=P.gap if train_pool and P.dynamics else 0.0)
    aus, intensity, strong, nuis, twins = [], [], [], [], []
    for s in range(S):
        if P.dynamics:
            rng = np.random.default_rng([config.seed, pid, s, 3])
            a, i, st, nu, tw = _video_plan(config, rng, train_pool,
                                           np.random.default_rng([config.seed, pid, s, 4]))
        else:
            rng = np.random.default_rng([config.seed, pid, s, 1])
            level = _clip_plan(config, rng)
            nu = _subject_nuisance(config, rng)
            a = level[..., None] * PROTOTYPES[:, None, None, :]
            i = np.where((np.arange(NUM_CLASSES) == INDEX_NEUTRAL)[:, None, None], 0.0, level)
            st = np.zeros(level.shape[:2], bool)
            tw = np.full((NUM_CLASSES, config.test_clips_per_class), -1)
        aus.append(a)
        intensity.append(i)
        strong.append(st)
        nuis.append(nu)
        twins.append(tw)
    nuisance = Nuisance(**{k: np.stack([getattr(n, k) for n in nuis])
                           for k in Nuisance.__dataclass_fields__})
    return {"identity": ids.take((slice(None), None, None, None)),
            "aus": np.stack(aus).astype(np.float32),
            "intensity": np.stack(intensity).astype(np.float32),
            "strong": np.stack(strong), "nuisance": nuisance,
            "twin": np.stack(twins).astype(np.int32)}


def generate(config: SyntheticConfig = SyntheticConfig(), pool: str = "eval") -> dict:
    """Render a whole pool: dict of arrays, one row per image, ordered subject, class, clip,
    frame.

    Keys: ``image`` uint8 [N, H, W, 1], ``expression``/``subject``/``clip``/``frame`` int32
    [N], ``aus`` float32 [N, 11] (the intended AUs given to ``render``; speech is not in
    them), ``intensity`` float32 [N] (the expression's level relative to its full
    prototype, 0 for Neutral), ``strong`` int32 [N] (1 for strong-intensity clips),
    ``split`` int32 [N] (0 train, 1 test; by clip). Same config → same bytes.
    """
    pl = plan(config, pool)
    S = config.n_subjects
    C, K, F = NUM_CLASSES, config.clips_per_class, config.frames_per_clip
    images = render(pl["identity"], pl["aus"], pl["nuisance"], config.image_size)
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
        "aus": pl["aus"].reshape(N, NUM_AUS),
        "intensity": pl["intensity"].reshape(N),
        "strong": np.broadcast_to(pl["strong"][..., None], (S, C, K, F)).reshape(N).astype(np.int32),
        "split": split,
    }
