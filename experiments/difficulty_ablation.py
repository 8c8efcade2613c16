"""What makes a synthetic preset hard: within-subject pixel 1-NN with one nuisance turned
off at a time (docs/data.md, "Difficulty").

    python -m experiments.difficulty_ablation [--preset posed] [--subjects 12] [--subject-set dev]

Each row renders the preset's development subjects (``--subject-set test``: the test
subjects results are reported on) with one field overridden and prints the 1-NN accuracy
from each subject's training clips to its held-out clip, on raw pixels and on the true
action units each face shows (left and right side: a perfect expression feature, blind to
identity, pose, lighting and speech — what the clips' dynamics alone allow), and how close
a held-out clip (a second take) is to the training clip it repeats against the class's
other training clips (``difficulty.repetition_distance``: distance to the twin / to the
other takes, frame by frame, on the true AUs and on pixels; "–" without repetitions).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from clifer_jax.data import difficulty, synthetic

OFF = {
    "no speech": dict(speech_share=0.0),
    "no blur": dict(blur=(0.0, 0.0)),
    "no alignment jitter": dict(align=0.0),
    "no photometric change": dict(photometric=0.0),
    "no per-clip lighting change": dict(light_jitter=0.0, light_spread=0.0),
    "no per-clip head-pose change": dict(clip_pose_deg=0.0),
    "no pixel noise": dict(noise=0.0),
}
# The neutral lead-in's candidates (fraction of the clip before the expression rises; docs/data.md).
LEAD_INS = {f"lead-in {lo:.0%}–{hi:.0%} of the clip": dict(lead=(lo, hi))
            for lo, hi in ((0.10, 0.15), (0.20, 0.30), (0.25, 0.35))}
# Not nuisances but how frames and clips are taken: shown beside, not in "all of these off".
SAMPLING = {
    "frames spread over the whole clip (not the reference's windows)": dict(sampling="spread"),
    "held-out clips independent takes (no repetition)": dict(repetition=False),
    "second takes with their twin's timing and apex": dict(take_timing=0.0, take_apex=0.0),
}


SUBJECT_SETS = {"dev": "dev", "test": "eval"}  # --subject-set -> synthetic pool


def _clip_1nn(x: np.ndarray, cfg: synthetic.SyntheticConfig) -> float:
    """x [S, C, K, F, D]: 1-NN from each subject's training clips to its held-out clips."""
    s, c, k, f = x.shape[:4]
    y = np.broadcast_to(np.arange(c)[None, :, None, None], (s, c, k, f))
    n_train = k - cfg.test_clips_per_class
    tr, te = x[:, :, :n_train].reshape(s, c, -1, x.shape[-1]), x[:, :, n_train:].reshape(s, c, -1, x.shape[-1])
    ytr, yte = y[:, :, :n_train].reshape(s, c, -1), y[:, :, n_train:].reshape(s, c, -1)
    return difficulty.within_subject_1nn(tr, ytr, np.ones(ytr.shape, bool), te, yte, np.ones(yte.shape, bool))["mean"]


def _config(preset, subjects: int, seed: int) -> synthetic.SyntheticConfig:
    return synthetic.SyntheticConfig(preset=preset, n_subjects=subjects, seed=seed)


def _pixels(cfg: synthetic.SyntheticConfig, pool: str) -> np.ndarray:
    """Every frame's pixels in [0, 1], [S, C, K, F, H*W]."""
    g = synthetic.generate(cfg, pool)
    s, c, k, f = cfg.n_subjects, len(synthetic.PROTOTYPES), cfg.clips_per_class, cfg.frames_per_clip
    return g["image"].reshape(s, c, k, f, -1).astype(np.float32) / 255.0


def _true_aus(pl: dict) -> np.ndarray:
    """The action units each face shows (``effective_aus``, both sides), [S, C, K, F, 22]."""
    left, right = synthetic.effective_aus(pl["identity"], pl["aus"])
    return np.concatenate([left, right], -1)


def pixel_1nn(preset: synthetic.Preset, subjects: int, seed: int = 0, pool: str = "dev") -> float:
    cfg = _config(preset, subjects, seed)
    return _clip_1nn(_pixels(cfg, pool), cfg)


def au_1nn(preset: synthetic.Preset, subjects: int, seed: int = 0, pool: str = "dev") -> float:
    """The same 1-NN on the action units each face shows (``effective_aus``, both sides)."""
    cfg = _config(preset, subjects, seed)
    return _clip_1nn(_true_aus(synthetic.plan(cfg, pool)), cfg)


def measure(preset: synthetic.Preset, subjects: int, seed: int = 0, pool: str = "dev") -> dict:
    """One row: ``pixel_1nn``, ``au_1nn`` and, when held-out clips are second takes,
    ``repetition`` = {"aus": ..., "pixels": ...} (``difficulty.repetition_distance``)."""
    cfg = _config(preset, subjects, seed)
    pl = synthetic.plan(cfg, pool)
    pixels, aus = _pixels(cfg, pool), _true_aus(pl)
    out = {"pixel_1nn": _clip_1nn(pixels, cfg), "au_1nn": _clip_1nn(aus, cfg)}
    if (pl["twin"] >= 0).any() and cfg.clips_per_class - cfg.test_clips_per_class >= 2:
        out["repetition"] = {"aus": difficulty.repetition_distance(aus, pl["twin"]),
                             "pixels": difficulty.repetition_distance(pixels, pl["twin"])}
    return out


def _twin(r: dict, key: str) -> str:
    if "repetition" not in r:
        return "–"
    d = r["repetition"][key]
    return f"{d['twin']:.3f} / {d['other']:.3f} ({d['ratio']:.2f})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="posed", help=f"one of {tuple(synthetic.PRESETS)}")
    p.add_argument("--subjects", type=int, default=12)
    p.add_argument("--subject-set", choices=tuple(SUBJECT_SETS), default="dev",
                   help="development subjects (default: screening) or the test subjects")
    p.add_argument("--lead-ins", action="store_true",
                   help="the three neutral lead-ins measured when the posed one was chosen, instead of the nuisances")
    args = p.parse_args(argv)
    if args.subjects < 1:
        print("difficulty_ablation: error: --subjects must be >= 1", file=sys.stderr)
        return 2
    try:
        base = synthetic.preset(args.preset)
    except ValueError as e:
        print(f"difficulty_ablation: error: {e}", file=sys.stderr)
        return 2
    pool = SUBJECT_SETS[args.subject_set]
    rows = {args.preset: base}
    if args.lead_ins:
        if not base.dynamics:
            print(f"difficulty_ablation: error: preset {args.preset!r} has no lead-in", file=sys.stderr)
            return 2
        rows = {k: synthetic.preset(args.preset, **v) for k, v in LEAD_INS.items()}
    elif base.dynamics:
        rows.update({k: synthetic.preset(args.preset, **v) for k, v in OFF.items()})
        rows["all of these off"] = synthetic.preset(args.preset, **{k: v for d in OFF.values() for k, v in d.items()})
        rows.update({k: synthetic.preset(args.preset, **v) for k, v in SAMPLING.items()})
    print(f"{args.subject_set} subjects ({args.subjects}), preset {args.preset}")
    print("| variant | pixel 1-NN | true-AU 1-NN | twin / other takes, AUs (ratio) "
          "| twin / other takes, pixels (ratio) |\n|---|---|---|---|---|")
    for name, preset in rows.items():
        r = measure(preset, args.subjects, pool=pool)
        print(f"| {name} | {r['pixel_1nn']:.3f} | {r['au_1nn']:.3f} | {_twin(r, 'aus')} "
              f"| {_twin(r, 'pixels')} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
