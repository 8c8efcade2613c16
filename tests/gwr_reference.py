"""An independent NumPy reference of the Gamma-GWR (SPEC §2), written from the spec.

A plain per-sample Python loop, vectorised over nodes only, in float64. It keeps
its own representation (a bool edge matrix, an update clock and per-edge reset
times: age = clock − reset time, i.e. "every updating step ages every edge by
one" without an N×N increment, so the loop is O(N·D) per sample like the
kernel) and shares no code with `clifer_jax.gwr`. Used by the tests as
ground truth and by `benchmarks/gwr_kernel.py` as the baseline.

`compact=True` removes nodes as the authors' code does: the node's row and column
are deleted from every array and later nodes move down, so a new node is always
appended and node index = creation order. `compact=False` frees the slot and a new
node takes the lowest free one (the kernel's layout, compared slot by slot).
`predict_context="input"` predicts as the authors' test routine: every context row
is the previous raw input (its loop copies row j−1 into row j, upwards).

`max_degree=k` bounds a node's edges and temporal successors (None: unbounded, the
authors' code): a node that needs a (k+1)-th edge drops its oldest one (ties: the
neighbour in the lower slot), a (k+1)-th successor replaces the one with the fewest
transitions (ties: the lower slot). Both are counted (`edge_overflow`, `temporal_overflow`).
"""

from __future__ import annotations

import numpy as np


class ReferenceGWR:
    def __init__(self, *, dim, capacity, max_nodes=None, context=0, beta=0.7,
                 activity_threshold=0.4, habituation_threshold=0.5, eps_b=0.2, eps_n=0.001,
                 tau_b=0.3, tau_n=0.1, kappa=1.05, a_inc=1.0, a_dec=0.1, max_age=1000,
                 regulated=False, mod_rate=0.01, inactivity_scaling=True, distance="clifer",
                 num_heads=1, num_classes=6, dtype=np.float64, compact=False,
                 predict_context="bmu", max_degree=None, **_ignored):
        self.dim, self.N, self.K = dim, capacity, context
        self.max_nodes = capacity if max_nodes is None else max_nodes
        self.beta = beta
        self.aT, self.hT = activity_threshold, habituation_threshold
        self.eps_b, self.eps_n = eps_b, eps_n
        self.tau_b, self.tau_n, self.kappa = tau_b, tau_n, kappa
        self.a_inc, self.a_dec = a_inc, a_dec
        self.max_age = max_age
        self.regulated, self.mod_rate = regulated, mod_rate
        self.inactivity_scaling = inactivity_scaling
        self.distance_kind = distance
        self.compact, self.predict_context = compact, predict_context
        self.H, self.C = num_heads, num_classes
        alpha = np.exp(-np.arange(context + 1, dtype=np.float64))
        self.alpha = alpha / alpha.sum()
        N, K1 = capacity, context + 1
        self.W = np.zeros((N, K1, dim), dtype)
        self.active = np.zeros(N, bool)
        self.h = np.zeros(N, dtype)
        self.edges = np.zeros((N, N), bool)
        self.clock = 0                          # number of updating steps so far
        self.reset_at = np.zeros((N, N), np.int64)  # clock value when the edge was (re)set
        self.temporal = np.zeros((N, N), np.int64)
        self.hist = np.zeros((num_heads, N, num_classes), dtype)
        self.refused = 0
        self.max_degree = max_degree
        self.edge_overflow = self.temporal_overflow = 0

    # -- setup -------------------------------------------------------------------------
    def init(self, samples, labels):
        for i in range(2):
            self.W[i, 0] = samples[i]
            self.active[i] = True
            self.h[i] = 1.0
            self._set_new_hist(i, labels[i])

    def _set_new_hist(self, i, y):
        self.hist[:, i] = 0.0
        for l in range(self.H):
            if y[l] >= 0:
                self.hist[l, i, y[l]] = self.a_inc

    # -- one sample --------------------------------------------------------------------
    def context(self, x, prev_w):
        """g_0 = x; g_k = β·prev_k + (1−β)·prev_{k−1}."""
        g = np.zeros_like(self.W[0])
        g[0] = x
        for k in range(1, self.K + 1):
            g[k] = self.beta * prev_w[k] + (1 - self.beta) * prev_w[k - 1]
        return g

    def dist(self, g):
        diff = g[None] - self.W                                  # [N, K+1, D]
        if self.distance_kind == "clifer":
            d = (np.linalg.norm(diff, axis=2) * self.alpha[None]).sum(axis=1)
        else:
            d = np.linalg.norm((diff * self.alpha[None, :, None]).sum(axis=1), axis=1)
        d[~self.active] = np.inf
        return d

    def step(self, x, y, prev):
        """prev = (prev_weights, prev_bmu); returns the new prev."""
        prev_w, prev_b = prev
        g = self.context(x, prev_w)
        d = self.dist(g)
        b = int(np.argmin(d))
        d_without_b = d.copy()
        d_without_b[b] = np.inf
        s = int(np.argmin(d_without_b))
        a = np.exp(-d[b])
        w_b_before = self.W[b].copy()

        eps_b, eps_n = self.eps_b, self.eps_n
        if self.regulated:
            predicted = int(np.argmax(self.hist[0, b]))
            if y[0] < 0 or predicted == y[0]:
                return (w_b_before, b)          # nothing learned, nothing aged
            eps_b, eps_n = eps_b * self.mod_rate, eps_n * self.mod_rate

        self.clock += 1                         # every updating step ages every edge by one
        n_nodes = int(self.active.sum())
        if a < self.aT and self.h[b] < self.hT and n_nodes >= self.max_nodes:
            self.refused += 1
        if a < self.aT and self.h[b] < self.hT and n_nodes < self.max_nodes:
            r = int(np.flatnonzero(~self.active)[0])
            self.active[r] = True
            self.W[r] = 0.5 * (self.W[b] + g)
            self.h[r] = 1.0
            self._set_new_hist(r, y)
            self._unlink(b, s)
            self._link(b, r)
            self._link(s, r)
            current = r
        else:
            self.h[b] = self.h[b] + self.tau_b * self.kappa * (1 - self.h[b]) - self.tau_b
            scale = (1 - a) if self.inactivity_scaling else 1.0
            self.W[b] += eps_b * self.h[b] * scale * (g - self.W[b])
            if not self.regulated:
                for l in range(self.H):
                    if y[l] >= 0:
                        others = np.arange(self.C) != y[l]
                        self.hist[l, b, others] = np.maximum(self.hist[l, b, others] - self.a_dec, 0.0)
                        self.hist[l, b, y[l]] += self.a_inc
            self._link(b, s)
            nb = np.flatnonzero(self.edges[b])  # neighbours, s included
            self.W[nb] += eps_n * self.h[nb][:, None, None] * (g[None] - self.W[nb])
            self.h[nb] = self.h[nb] + self.tau_n * self.kappa * (1 - self.h[nb]) - self.tau_n
            current = b
        if prev_b >= 0 and prev_b != current:
            row = self.temporal[prev_b]
            if self.max_degree is not None and row[current] == 0 and (row > 0).sum() >= self.max_degree:
                succ = np.flatnonzero(row > 0)
                del_j = succ[np.lexsort((succ, row[succ]))[0]]     # fewest transitions, then lower slot
                row[del_j] = 0
                self.temporal_overflow += 1
            row[current] += 1
        return (w_b_before, b)

    def _link(self, i, j):
        if self.max_degree is not None and not self.edges[i, j]:
            for u in (i, j):
                nb = np.flatnonzero(self.edges[u])
                if nb.size >= self.max_degree:
                    old = nb[np.lexsort((nb, self.reset_at[u, nb]))[0]]   # oldest, then lower slot
                    self._unlink(u, old)
                    self.edge_overflow += 1
        self.edges[i, j] = self.edges[j, i] = True
        self.reset_at[i, j] = self.reset_at[j, i] = self.clock   # age 0 now

    def _unlink(self, i, j):
        self.edges[i, j] = self.edges[j, i] = False

    # -- calls -------------------------------------------------------------------------
    def train(self, xs, ys, valid=None, epochs=1, remove_isolated=True):
        if valid is None:
            valid = np.ones(len(xs), bool)
        prev = (np.zeros_like(self.W[0]), -1)
        for _ in range(epochs):
            for x, y, v in zip(xs, ys, valid):
                if v:
                    prev = self.step(np.asarray(x, np.float64), np.asarray(y), prev)
            self.edges[self.clock - self.reset_at > self.max_age] = False
        if remove_isolated:
            self.remove_isolated_nodes()

    def remove_isolated_nodes(self):
        if self.compact:
            return self._remove_isolated_compacting()
        for i in range(self.N):
            if self.active.sum() <= 2:
                break
            if self.active[i] and not self.edges[i].any():
                self.active[i] = False
                self.W[i] = 0.0
                self.h[i] = 0.0
                self.hist[:, i] = 0.0
                self.temporal[i, :] = 0
                self.temporal[:, i] = 0

    def _remove_isolated_compacting(self):
        """The authors' loop: walk the nodes; pop an isolated one (the next node moves
        into its index) while more than 2 remain, else step on."""
        i = 0
        while i < int(self.active.sum()):
            if not self.edges[i].any():
                if int(self.active.sum()) <= 2:
                    return
                self._delete(i)
            else:
                i += 1

    def _delete(self, i):
        keep = np.arange(self.N) != i
        last = self.N - 1
        for name in ("W", "h", "active"):
            a = getattr(self, name)
            a[:last] = a[keep]
            a[last] = 0
        self.hist[:, :last] = self.hist[:, keep]
        self.hist[:, last] = 0.0
        for name in ("edges", "reset_at", "temporal"):
            a = getattr(self, name)
            a[:last, :last] = a[np.ix_(keep, keep)]
            a[last, :] = 0
            a[:, last] = 0

    def predict(self, xs):
        bmus, labels, acts, weights = [], [], [], []
        prev_w = np.zeros_like(self.W[0])
        input_context = np.zeros_like(self.W[0])
        for x in xs:
            if self.predict_context == "input":
                input_context[0] = x
                g = input_context.copy()
            else:
                g = self.context(x, prev_w)
            d = self.dist(g)
            b = int(np.argmin(d))
            bmus.append(b)
            acts.append(np.exp(-d[b]))
            labels.append([int(np.argmax(self.hist[l, b])) for l in range(self.H)])
            weights.append(self.W[b].copy())
            prev_w = self.W[b]
            for j in range(1, self.K + 1):
                input_context[j] = input_context[j - 1]
        return np.array(bmus), np.array(acts), np.array(labels), np.array(weights)
