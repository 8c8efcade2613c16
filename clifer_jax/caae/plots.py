"""Figures of a trained CAAE: held-out faces translated into every expression, with the
renderer's true faces underneath (docs/caae.md, "Evaluation").

    save_grid(params, "runs/caae_cpu/caae_grid.png", seed=0, preset="posed")
"""

from __future__ import annotations

import os

import numpy as np

from clifer_jax.caae.api import CAAEParams, translate
from clifer_jax.caae.pool import synthetic_pool
from clifer_jax.classes import EXPRESSIONS, NUM_CLASSES
from clifer_jax.data.synthetic import prototype_aus, render, sample_identities


def save_grid(params: CAAEParams, path: str, *, n_faces: int = 6, seed: int = 0, preset: str = "posed") -> None:
    """Held-out synthetic faces (first column) and their translations into the six
    expressions; under each row, the renderer's true face of that subject and expression."""
    import matplotlib    # plotting only: loaded when a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = params.config
    data = synthetic_pool(cfg, "eval", seed, preset=preset)
    rng = np.random.default_rng(seed)
    subjects = rng.choice(int(data["subject"].max()) + 1, n_faces, replace=False)
    rows = []
    for s in subjects:
        idx = np.flatnonzero((data["subject"] == s) & (data["split"] == 1))
        rows.append(rng.choice(idx))
    src = data["image"][np.array(rows)]
    trans = np.stack([np.asarray(translate(params, src, c)) for c in range(NUM_CLASSES)], axis=1)
    ids = sample_identities(seed, int(data["subject"].max()) + 1, "eval").take((subjects, None))
    protos = np.stack([prototype_aus(c) for c in range(NUM_CLASSES)])
    truth = render(ids, np.broadcast_to(protos, (n_faces, NUM_CLASSES, protos.shape[1])), None, cfg.image_size)
    fig, axes = plt.subplots(2 * n_faces, NUM_CLASSES + 1, figsize=(1.3 * (NUM_CLASSES + 1), 1.3 * 2 * n_faces))
    show = lambda ax, im: ax.imshow(np.squeeze(im), cmap="gray", vmin=0, vmax=1)  # noqa: E731
    for r in range(n_faces):
        show(axes[2 * r, 0], src[r] / 255.0)
        axes[2 * r, 0].set_ylabel(f"subject {subjects[r]}", fontsize=7)
        axes[2 * r + 1, 0].text(0.5, 0.5, "true face →", ha="center", va="center", fontsize=7)
        for c in range(NUM_CLASSES):
            show(axes[2 * r, c + 1], trans[r, c])
            show(axes[2 * r + 1, c + 1], truth[r, c] / 255.0)
            if r == 0:
                axes[0, c + 1].set_title(EXPRESSIONS[c], fontsize=8)
    axes[0, 0].set_title("source", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for sp in ax.spines.values():
            sp.set_visible(False)
    fig.suptitle(f"CAAE ({cfg.name} preset): translations of held-out faces (odd rows) vs true renders (even rows)",
                 fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
