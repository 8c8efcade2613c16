"""Training curves of the CAAE and its identity network (docs/caae.md, "Training curves").

`Curves(folder)` writes TensorBoard event files through tensorboardX (no TensorFlow) into
`folder/tensorboard/` — every loss per step under `<prefix>/step/…`, every per-epoch
figure (training means, held-out figures) under `<prefix>/epoch/…` — and keeps the
numbers so that `save_png()` draws the same curves to `folder/curves.png`:

    curves = Curves(ckpt_dir)
    train(..., step_log=curves.step, log=curves.epoch)
    curves.save_png(); curves.close()

Open them with `tensorboard --logdir <ckpt_dir>/tensorboard` (the `tensorboard` package
only reads the files; nothing here needs it).
"""

from __future__ import annotations

import os

import numpy as np


class Curves:
    """Scalars per step and per epoch → TensorBoard events + one PNG."""

    def __init__(self, folder: str, prefix: str = "caae"):
        from tensorboardX import SummaryWriter

        self.folder = os.path.abspath(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.prefix = prefix
        self.writer = SummaryWriter(os.path.join(self.folder, "tensorboard"))
        self.steps: dict[str, list[tuple[int, float]]] = {}
        self.epochs: dict[str, list[tuple[int, float]]] = {}

    def step(self, step: int, metrics: dict) -> None:
        for k, v in metrics.items():
            self.writer.add_scalar(f"{self.prefix}/step/{k}", float(v), int(step))
            self.steps.setdefault(k, []).append((int(step), float(v)))

    def epoch(self, record: dict) -> None:
        e = int(record.get("epoch", len(next(iter(self.epochs.values()), [])) + 1))
        for k, v in record.items():
            if k == "epoch" or not np.isscalar(v):
                continue
            self.writer.add_scalar(f"{self.prefix}/epoch/{k}", float(v), e)
            self.epochs.setdefault(k, []).append((e, float(v)))
        self.writer.flush()

    def save_png(self, name: str = "curves.png", keys: tuple[str, ...] | None = None) -> str:
        """Per-step curves (a moving average over 20 steps) of `keys` (default: every
        non-constant one) and the per-epoch held-out figures, in one PNG; returns its path."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        keys = keys or tuple(k for k, v in self.steps.items() if np.ptp([x[1] for x in v]) > 0)
        held = tuple(k for k in self.epochs if k.startswith("heldout"))
        n = len(keys) + len(held)
        cols = 4
        rows = max(1, -(-n // cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
        for ax, k in zip(axes.flat, keys + held):
            pts = np.asarray(self.steps[k] if k in self.steps else self.epochs[k])
            if k in self.steps and len(pts) >= 20:
                smooth = np.convolve(pts[:, 1], np.ones(20) / 20, mode="valid")
                ax.plot(pts[:, 0], pts[:, 1], color="0.8", lw=0.5)
                ax.plot(pts[19:, 0], smooth, lw=1)
            else:
                ax.plot(pts[:, 0], pts[:, 1], marker="o", lw=1)
            ax.set_title(k, fontsize=8)
            ax.set_xlabel("epoch" if k in held else "step", fontsize=7)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.suptitle(f"{self.prefix} training curves", fontsize=9)
        fig.tight_layout()
        path = os.path.join(self.folder, name)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path

    def close(self) -> None:
        self.writer.close()
