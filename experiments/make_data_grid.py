"""Draw the synthetic data's pictures: ``docs/images/synthetic_<preset>.png`` per preset
(subjects × frames along one clip, onset to offset) and the apex grid
``docs/images/synthetic_grid.png``.

    python -m experiments.make_data_grid --clips [--presets posed spontaneous easy]
    python -m experiments.make_data_grid [--subjects 8] [--size 64] [--out PATH] [--nuisance]

The faces are the development subjects (``--subject-set test``: the test subjects).
``--clips``: one PNG per preset; row ``i`` is subject ``i`` in a clip of class ``i mod 6``
(the class is named on the row), columns the clip's frames in time order.
Without it: rows are subjects, columns the six expressions at apex, canonical view
(``--nuisance`` draws a dataset-like frame instead).
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

from clifer_jax.classes import EXPRESSIONS
from clifer_jax.data import synthetic


SUBJECT_SETS = {"dev": "dev", "test": "eval"}  # --subject-set -> synthetic pool


def grid_image(n_subjects: int = 8, size: int = 64, seed: int = 0, nuisance: bool = False,
               pool: str = "dev") -> np.ndarray:
    """uint8 [n_subjects * size, 6 * size] mosaic of subjects (rows) × expressions (cols)."""
    ids = synthetic.sample_identities(seed, n_subjects, pool).take((slice(None), None))
    aus = synthetic.PROTOTYPES[None]  # [1, 6, 11]
    nui = None
    if nuisance:
        nui = synthetic.sample_nuisance(np.random.default_rng(seed), (n_subjects, len(EXPRESSIONS)))
    img = synthetic.render(ids, aus, nui, size)[..., 0]  # [S, 6, H, W]
    return img.transpose(0, 2, 1, 3).reshape(n_subjects * size, len(EXPRESSIONS) * size)


def clip_grid(preset: str, n_subjects: int = 8, frames: int = 8, size: int = 64, seed: int = 0,
              pool: str = "dev") -> tuple[np.ndarray, list[str]]:
    """uint8 [n_subjects * size, frames * size]: subject ``i``'s first clip of class
    ``i mod 6``, frames left to right; and the row labels."""
    cfg = synthetic.SyntheticConfig(image_size=size, n_subjects=n_subjects, clips_per_class=1,
                                    test_clips_per_class=0, frames_per_clip=frames, seed=seed,
                                    preset=preset)
    rec = synthetic.generate(cfg, pool)
    img = rec["image"][..., 0].reshape(n_subjects, len(EXPRESSIONS), frames, size, size)
    rows = img[np.arange(n_subjects), np.arange(n_subjects) % len(EXPRESSIONS)]  # [S, F, H, W]
    labels = [f"S{i} {EXPRESSIONS[i % len(EXPRESSIONS)]}" for i in range(n_subjects)]
    return rows.transpose(0, 2, 1, 3).reshape(n_subjects * size, frames * size), labels


def _save(img: np.ndarray, xlabels, ylabels, scale: int, cell: int, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = np.kron(img, np.ones((scale, scale), np.uint8))
    s = cell * scale
    left = 1.1 if max(len(t) for t in ylabels) > 4 else 0.6
    fig_w, fig_h = img.shape[1] / 100 + left, img.shape[0] / 100 + 0.35
    fig = plt.figure(figsize=(fig_w, fig_h), dpi=100)
    ax = fig.add_axes([left / fig_w, 0.0, img.shape[1] / 100 / fig_w, img.shape[0] / 100 / fig_h])
    ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks(np.arange(len(xlabels)) * s + s / 2, xlabels, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks(np.arange(len(ylabels)) * s + s / 2, ylabels, fontsize=9)
    ax.tick_params(length=0)
    for sp in ax.spines.values():
        sp.set_visible(False)
    path = pathlib.Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    from PIL import Image

    Image.open(path).convert("L").save(path, optimize=True)  # grayscale: a third the bytes
    print(f"wrote {path}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=int, default=None,
                    help="pixel upscaling of the PNG (default 2; 1 with --clips)")
    ap.add_argument("--nuisance", action="store_true")
    ap.add_argument("--clips", action="store_true", help="one clip grid per preset")
    ap.add_argument("--presets", nargs="+", default=list(synthetic.PRESETS))
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--out", default=None, help="PNG path (--clips: folder)")
    ap.add_argument("--subject-set", choices=tuple(SUBJECT_SETS), default="dev",
                    help="development subjects (default) or the test subjects")
    args = ap.parse_args(argv)

    if args.scale is None:
        args.scale = 1 if args.clips else 2
    if args.clips:
        folder = pathlib.Path(args.out or "docs/images")
        for name in args.presets:
            img, labels = clip_grid(name, args.subjects, args.frames, args.size, args.seed,
                                    SUBJECT_SETS[args.subject_set])
            _save(img, [f"t{f}" for f in range(args.frames)], labels, args.scale, args.size,
                  str(folder / f"synthetic_{name}.png"))
        return
    img = grid_image(args.subjects, args.size, args.seed, args.nuisance, SUBJECT_SETS[args.subject_set])
    _save(img, list(EXPRESSIONS), [f"S{i}" for i in range(args.subjects)], args.scale, args.size,
          args.out or "docs/images/synthetic_grid.png")


if __name__ == "__main__":
    main()
