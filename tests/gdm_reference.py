"""An independent NumPy reference of the Growing Dual Memory (SPEC §3), built on
the NumPy Gamma-GWR reference: plain loops over mini-batches and trajectories.

With `compact=True` in both memories' keyword dicts the networks delete removed nodes as
the authors' code does, so `pseudo_samples` walks the nodes in creation order and a tie in
a temporal row goes to the older node, like the authors' replay."""

from __future__ import annotations

import numpy as np

from gwr_reference import ReferenceGWR


class ReferenceGDM:
    def __init__(self, episodic: dict, semantic: dict, *, batch_size=5, epochs=10, replay=False,
                 replay_epochs=3, extra_epochs=5, grow_max_nodes=True):
        self.ep = ReferenceGWR(**episodic)
        self.se = ReferenceGWR(**semantic)
        self.bs, self.epochs = batch_size, epochs
        self.replay_on, self.replay_epochs, self.extra_epochs = replay, replay_epochs, extra_epochs
        self.grow = grow_max_nodes
        self.seen, self.steps = 0, 0
        self.traj_len = 2 * self.ep.K + 1

    def init(self, x, y, mask):
        x2, y2 = x[mask][:2], y[mask][:2]
        self.ep.init(x2.astype(np.float64), np.stack([y2] * self.ep.H, 1))
        self.se.init(x2.astype(np.float64), np.stack([y2] * self.se.H, 1))

    def _train_both(self, x_ep, y_ep, x_se, y_se, epochs):
        self.ep.train(x_ep, np.stack([y_ep] * self.ep.H, 1), epochs=epochs)
        self.se.train(x_se, np.stack([y_se] * self.se.H, 1), epochs=epochs)

    def pseudo_samples(self):
        trajectories = []
        for i in np.flatnonzero(self.ep.active):
            path = [int(i)]
            while len(path) < self.traj_len:
                row = self.ep.temporal[path[-1]]
                path.append(int(np.argmax(row)) if row.max() > 0 else path[-1])
            x = np.array([self.ep.W[j, 0] for j in path])
            y = np.array([int(np.argmax(self.ep.hist[0, j])) for j in path])
            trajectories.append((x, y))
        return trajectories

    def learn_class(self, x, y, mask):
        xv, yv = x[mask].astype(np.float64), y[mask]
        if self.grow:
            self.seen += len(xv)
            self.ep.max_nodes = min(self.seen, self.ep.N)
            self.se.max_nodes = max(2, min(self.seen // 2, self.se.N))
        elif self.steps == 0:
            self.ep.max_nodes, self.se.max_nodes = len(xv), max(2, len(xv) // 2)
        pseudo = None
        for start in range(0, len(xv), self.bs):
            xb, yb = xv[start:start + self.bs], yv[start:start + self.bs]
            self.ep.train(xb, np.stack([yb] * self.ep.H, 1), epochs=self.epochs)
            _, _, labels, weights = self.ep.predict(xb)
            self.se.train(weights[:, 0], labels[:, :1].repeat(self.se.H, 1), epochs=self.epochs)
            if self.replay_on:
                if pseudo is not None:
                    for px, py in pseudo:
                        self._train_both(px, py, px, py, self.replay_epochs)
                pseudo = self.pseudo_samples()
        self.steps += 1

    def learn_extra(self, x, y, mask):
        xv, yv = x[mask].astype(np.float64), y[mask]
        self._train_both(xv, yv, xv, yv, self.extra_epochs)
