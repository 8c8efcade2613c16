"""Draw the README grid of synthetic subjects × expressions: ``docs/images/synthetic_grid.png``.

    python -m experiments.make_data_grid [--subjects 8] [--size 64] [--out PATH] [--apex]

Rows are evaluation subjects; columns the six expressions at the apex of a clip. By
default the canonical (frontal, noise-free) view is drawn; ``--nuisance`` draws a
dataset-like frame instead.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

from clifer_jax.classes import EXPRESSIONS
from clifer_jax.data import synthetic


def grid_image(n_subjects: int = 8, size: int = 64, seed: int = 0, nuisance: bool = False,
               pool: str = "eval") -> np.ndarray:
    """uint8 [n_subjects * size, 6 * size] mosaic of subjects (rows) × expressions (cols)."""
    ids = synthetic.sample_identities(seed, n_subjects, pool).take((slice(None), None))
    aus = synthetic.PROTOTYPES[None]  # [1, 6, 11]
    nui = None
    if nuisance:
        nui = synthetic.sample_nuisance(np.random.default_rng(seed), (n_subjects, len(EXPRESSIONS)))
    img = synthetic.render(ids, aus, nui, size)[..., 0]  # [S, 6, H, W]
    return img.transpose(0, 2, 1, 3).reshape(n_subjects * size, len(EXPRESSIONS) * size)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=int, default=2, help="pixel upscaling of the PNG")
    ap.add_argument("--nuisance", action="store_true")
    ap.add_argument("--out", default="docs/images/synthetic_grid.png")
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = grid_image(args.subjects, args.size, args.seed, args.nuisance)
    img = np.kron(img, np.ones((args.scale, args.scale), np.uint8))
    s = args.size * args.scale
    fig_w, fig_h = img.shape[1] / 100 + 0.6, img.shape[0] / 100 + 0.35
    fig = plt.figure(figsize=(fig_w, fig_h), dpi=100)
    ax = fig.add_axes([0.6 / fig_w, 0.0, img.shape[1] / 100 / fig_w, img.shape[0] / 100 / fig_h])
    ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks(np.arange(len(EXPRESSIONS)) * s + s / 2, EXPRESSIONS, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks(np.arange(args.subjects) * s + s / 2, [f"S{i}" for i in range(args.subjects)],
                  fontsize=9)
    ax.tick_params(length=0)
    for sp in ax.spines.values():
        sp.set_visible(False)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
