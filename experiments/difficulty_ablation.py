"""What makes a synthetic preset hard: within-subject pixel 1-NN with one nuisance turned
off at a time (docs/data.md, "Difficulty").

    python -m experiments.difficulty_ablation [--preset posed] [--subjects 12]

Each row renders the preset's evaluation subjects with one field overridden and
prints the 1-NN accuracy from each subject's training clips to its held-out clip, on
raw pixels and on the true action units each face shows (left and right side: a
perfect expression feature, blind to identity, pose, lighting and speech — what the
clips' dynamics alone allow).
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
# Not nuisances but how frames and clips are taken: shown beside, not in "all of these off".
SAMPLING = {
    "frames spread over the whole clip (not the reference's windows)": dict(sampling="spread"),
    "held-out clips independent takes (no repetition)": dict(repetition=False),
}


def _clip_1nn(x: np.ndarray, cfg: synthetic.SyntheticConfig) -> float:
    """x [S, C, K, F, D]: 1-NN from each subject's training clips to its held-out clips."""
    s, c, k, f = x.shape[:4]
    y = np.broadcast_to(np.arange(c)[None, :, None, None], (s, c, k, f))
    n_train = k - cfg.test_clips_per_class
    tr, te = x[:, :, :n_train].reshape(s, c, -1, x.shape[-1]), x[:, :, n_train:].reshape(s, c, -1, x.shape[-1])
    ytr, yte = y[:, :, :n_train].reshape(s, c, -1), y[:, :, n_train:].reshape(s, c, -1)
    return difficulty.within_subject_1nn(tr, ytr, np.ones(ytr.shape, bool), te, yte, np.ones(yte.shape, bool))["mean"]


def pixel_1nn(preset: synthetic.Preset, subjects: int, seed: int = 0) -> float:
    cfg = synthetic.SyntheticConfig(preset=preset, n_subjects=subjects, seed=seed)
    g = synthetic.generate(cfg)
    s, c, k, f = subjects, len(synthetic.PROTOTYPES), cfg.clips_per_class, cfg.frames_per_clip
    return _clip_1nn(g["image"].reshape(s, c, k, f, -1).astype(np.float32) / 255.0, cfg)


def au_1nn(preset: synthetic.Preset, subjects: int, seed: int = 0) -> float:
    """The same 1-NN on the action units each face shows (``effective_aus``, both sides)."""
    cfg = synthetic.SyntheticConfig(preset=preset, n_subjects=subjects, seed=seed)
    pl = synthetic.plan(cfg)
    left, right = synthetic.effective_aus(pl["identity"], pl["aus"])
    return _clip_1nn(np.concatenate([left, right], -1), cfg)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="posed", help=f"one of {tuple(synthetic.PRESETS)}")
    p.add_argument("--subjects", type=int, default=12)
    args = p.parse_args(argv)
    if args.subjects < 1:
        print("difficulty_ablation: error: --subjects must be >= 1", file=sys.stderr)
        return 2
    try:
        base = synthetic.preset(args.preset)
    except ValueError as e:
        print(f"difficulty_ablation: error: {e}", file=sys.stderr)
        return 2
    rows = {args.preset: base}
    if base.dynamics:
        rows.update({k: synthetic.preset(args.preset, **v) for k, v in OFF.items()})
        rows["all of these off"] = synthetic.preset(args.preset, **{k: v for d in OFF.values() for k, v in d.items()})
        rows.update({k: synthetic.preset(args.preset, **v) for k, v in SAMPLING.items()})
    print("| variant | pixel 1-NN | true-AU 1-NN |\n|---|---|---|")
    for name, preset in rows.items():
        print(f"| {name} | {pixel_1nn(preset, args.subjects):.3f} | {au_1nn(preset, args.subjects):.3f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
