"""Scores of a model's predictions and their summaries over subjects and seeds, and the
paired comparisons of models run on the same subjects (docs/metrics.md).

    s = score(preds["episodic"], data.y_test, data.mask_test, order)   # per subject and step
    summary = summarise(s)                                              # mean, 95% CI
    figs = {"clifer/episodic": headline_figures(s), ...}                # per subject
    paired = paired_comparisons(figs, comparison_pairs(models))         # differences, Holm
    grid = over_seed_grid([[s_d0_c0, s_d0_c1], [s_d1_c0, s_d1_c1]])     # data × CAAE seeds
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from clifer_jax import metrics
from clifer_jax.study import models as study_models

HEADLINE_FIGURES = ("exp1_f1_avg", "exp2_f1_first_step", "exp2_f1_final", "backward_transfer", "forward_transfer")

# the reference models of the paired comparisons (`comparison_pairs`)
REPLAY_BASELINE = "gdm_replay"
MLP_BASELINE = "mlp_joint"
ABLATIONS = (("clifer", "clifer_none"),       # imagination against its schedule without imagined samples
             ("clifer_oracle", "clifer"))     # the renderer's true faces against the CAAE's


def score(preds, y_test, mask_test, order) -> dict:
    """Scores of predictions [S, T, C, Lt] on test labels [S, C, Lt] (docs/metrics.md).

    Returns per subject and step: exp1_f1, exp1_acc (classes seen so far),
    exp2_f1, exp2_acc (all classes), and R [S, T, C] (accuracy on class
    order[i] after step t), with average accuracy, BWT and FWT per subject.
    """
    preds, y_test, mask_test = np.asarray(preds), np.asarray(y_test), np.asarray(mask_test, bool)
    order = [int(o) for o in order]
    s_num, t_num = preds.shape[:2]
    out = {k: np.zeros((s_num, t_num)) for k in ("exp1_f1", "exp1_acc", "exp2_f1", "exp2_acc")}
    r = np.zeros((s_num, t_num, len(order)))
    for s in range(s_num):
        yt, m = y_test[s].reshape(-1), mask_test[s].reshape(-1)
        for t in range(t_num):
            yp = preds[s, t].reshape(-1)
            seen = m & np.isin(yt, order[: t + 1])
            out["exp1_f1"][s, t] = metrics.macro_f1(yt, yp, mask=seen)
            out["exp1_acc"][s, t] = metrics.accuracy(yt, yp, mask=seen)
            out["exp2_f1"][s, t] = metrics.macro_f1(yt, yp, mask=m)
            out["exp2_acc"][s, t] = metrics.accuracy(yt, yp, mask=m)
        r[s] = metrics.cl_matrix(yt, preds[s].reshape(t_num, -1), order, mask=m)
    out["R"] = r
    out["average_accuracy"] = np.array([metrics.average_accuracy(ri) for ri in r])
    out["backward_transfer"] = np.array([metrics.backward_transfer(ri) for ri in r])
    out["forward_transfer"] = np.array([metrics.forward_transfer(ri) for ri in r])
    return out


def exp1_average(exp1_f1) -> np.ndarray:
    """Experiment 1's headline per subject: its F1 [S, T] averaged over steps 2..T.

    Step 1 is left out: with one class seen, every model without imagination predicts that
    class and scores 1.0, which says nothing about continual learning. With T == 1 the
    headline is step 1's F1."""
    f = np.asarray(exp1_f1, np.float64)
    if f.ndim != 2 or f.shape[1] == 0:
        raise ValueError(f"exp1_f1 must be [S, T] with T >= 1, got shape {f.shape}")
    return f[:, 1:].mean(axis=1) if f.shape[1] > 1 else f[:, 0].copy()


def headline_figures(scores: dict) -> dict[str, np.ndarray]:
    """Per-subject headline figures [S] of one model/memory's `score` output."""
    return {"exp1_f1_avg": exp1_average(scores["exp1_f1"]), "exp2_f1_first_step": scores["exp2_f1"][:, 0],
            "exp2_f1_final": scores["exp2_f1"][:, -1], "backward_transfer": scores["backward_transfer"],
            "forward_transfer": scores["forward_transfer"]}


def summarise(s: dict) -> dict:
    """`score`'s per-subject output summarised over subjects (docs/metrics.md, "Over
    subjects"): mean and 95% CI per step of the F1s and accuracies (with the per-subject
    values), Experiment 1's F1 averaged over steps 2..T (`exp1_average`), the transfer
    figures and the mean R."""
    res = {}
    for k in ("exp1_f1", "exp1_acc", "exp2_f1", "exp2_acc"):
        mean, ci = metrics.mean_ci(s[k], axis=0)
        res[k] = {"mean": np.asarray(mean).tolist(), "ci95": np.asarray(ci).tolist(),
                  "per_subject": s[k].tolist()}
    per_subject = exp1_average(s["exp1_f1"])
    mean, ci = metrics.mean_ci(per_subject)
    res["exp1_f1_avg"] = {"mean": mean, "ci95": ci, "per_subject": per_subject.tolist()}
    for k in ("average_accuracy", "backward_transfer", "forward_transfer"):
        mean, ci = metrics.mean_ci(s[k], axis=0)
        res[k] = {"mean": float(mean), "ci95": float(ci)}
    res["R_mean"] = np.nanmean(s["R"], axis=0).tolist()
    return res


# --------------------------------------------------------------------------- paired comparisons


def comparison_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """The paired comparisons a study reports, as ("model/memory", "model/memory") pairs
    (a, b), the difference read as a − b:

    * every predictor against `gdm_replay`'s same memory (an MLP against both of its memories);
    * every predictor against `mlp_joint/mlp`;
    * `clifer/<m>` against `clifer_none/<m>` (what the imagined samples add) and
      `clifer_oracle/<m>` against `clifer/<m>` (what the CAAE's imaginings lose).

    Only models in `models` take part; no self-pair and no pair twice in either direction
    (the first one made is kept: the ablations, then the model against gdm_replay, then
    against mlp_joint, in the order of `models`)."""
    models = list(dict.fromkeys(models))
    mems = {m: study_models.memories(m) for m in models}
    pairs: list[tuple[str, str]] = []
    seen: set[frozenset] = set()

    def add(a: str, b: str) -> None:
        if a != b and frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            pairs.append((a, b))

    for model in models:
        for memory in mems[model]:
            label = f"{model}/{memory}"
            for a, b in ABLATIONS:
                if model == a and b in mems and memory in mems[b]:
                    add(label, f"{b}/{memory}")
            if REPLAY_BASELINE in mems:
                targets = [memory] if memory in mems[REPLAY_BASELINE] else list(mems[REPLAY_BASELINE])
                for t in targets:
                    add(label, f"{REPLAY_BASELINE}/{t}")
            if MLP_BASELINE in mems:
                for t in mems[MLP_BASELINE]:
                    add(label, f"{MLP_BASELINE}/{t}")
    return pairs


def paired_comparisons(per_subject: Mapping[str, Mapping[str, np.ndarray]],
                       pairs: Sequence[tuple[str, str]]) -> dict:
    """Every pair compared on the same subjects, per headline figure (docs/metrics.md,
    "Paired comparisons").

    Args:
      per_subject: "model/memory" -> {figure: [S]} (`headline_figures` of each predictor).
      pairs: [(a, b)] labels of `per_subject` (`comparison_pairs`).
    Returns:
      {figure: [{"a", "b", "mean" (of a − b), "ci95", "p" (Wilcoxon signed-rank), "p_holm",
      "n"}]} for every figure of HEADLINE_FIGURES, pairs in the given order; Holm's correction
      runs within each figure over its family of pairs. A pair whose values hold NaN (BWT and
      FWT with one step) gets NaN figures and stays out of the family.
    Raises:
      ValueError: a label missing from `per_subject`, or a and b of different lengths.
    """
    pairs = [(str(a), str(b)) for a, b in pairs]
    missing = sorted({x for p in pairs for x in p} - set(per_subject))
    if missing:
        raise ValueError(f"paired_comparisons: no per-subject values for {missing}; "
                         f"have {sorted(per_subject)}")
    out = {}
    nan = float("nan")
    for fig in HEADLINE_FIGURES:
        rows = []
        for a, b in pairs:
            va = np.asarray(per_subject[a][fig], np.float64)
            vb = np.asarray(per_subject[b][fig], np.float64)
            if va.shape != vb.shape:
                raise ValueError(f"paired_comparisons: {a} has {va.shape} values of {fig}, {b} {vb.shape}")
            if np.isnan(va).any() or np.isnan(vb).any():
                rows.append({"a": a, "b": b, "mean": nan, "ci95": nan, "p": nan, "n": int(va.size)})
            else:
                rows.append({"a": a, "b": b, **metrics.paired_difference(va, vb)})
        family = [i for i, r in enumerate(rows) if np.isfinite(r["p"])]
        adjusted = metrics.holm([rows[i]["p"] for i in family])
        for r in rows:
            r["p_holm"] = nan
        for i, ph in zip(family, adjusted):
            rows[i]["p_holm"] = float(ph)
        out[fig] = rows
    return out


# --------------------------------------------------------------------------- over seeds


def over_seed_grid(cells: Sequence[Sequence[dict]], *, data_seeds: Sequence[int] | None = None,
                   caae_seeds: Sequence[int] | None = None) -> dict:
    """Every headline figure over a grid of runs: cells[i][j] is the `score` output of data
    seed i and CAAE seed j (a or b may be 1). Each cell contributes its mean over subjects;
    the figure is their mean with the crossed random-effects CI of
    `metrics.crossed_mean_ci`, which covers the variation of both seeds (with one data seed,
    the subjects are the same in every cell and the CI is the t-interval over CAAE seeds).

    Returns:
      {figure: {"mean", "ci95", "df", "per_cell": [[subject mean of cell (i, j)]]}} plus
      "data_seeds" / "caae_seeds" when given. A figure undefined in some cell (NaN: BWT
      and FWT with one step) has NaN mean, ci95 and df.
    """
    grid = [list(row) for row in cells]
    if not grid or not grid[0] or any(len(row) != len(grid[0]) for row in grid):
        raise ValueError(f"cells must be a non-empty rectangular [data seeds][CAAE seeds] grid, got "
                         f"row lengths {[len(r) for r in grid]}")
    for name, seeds, n in (("data_seeds", data_seeds, len(grid)), ("caae_seeds", caae_seeds, len(grid[0]))):
        if seeds is not None and len(seeds) != n:
            raise ValueError(f"{name} lists {len(seeds)} seeds for {n} grid {'rows' if name == 'data_seeds' else 'columns'}")
    figs = [[headline_figures(s) for s in row] for row in grid]
    out = {}
    for f in HEADLINE_FIGURES:
        per_cell = np.array([[float(np.mean(c[f])) for c in row] for row in figs])
        if np.isnan(per_cell).any():
            mean = ci = df = float("nan")
        else:
            mean, ci, df = metrics.crossed_mean_ci(per_cell)
        out[f] = {"mean": mean, "ci95": ci, "df": df, "per_cell": per_cell.tolist()}
        if data_seeds is not None:
            out[f]["data_seeds"] = [int(s) for s in data_seeds]
        if caae_seeds is not None:
            out[f]["caae_seeds"] = [int(s) for s in caae_seeds]
    return out


def train_accuracy(acc) -> dict:
    """The MLPs' fit after each step, [S, T] → mean, 95% CI and per-subject values."""
    acc = np.asarray(acc, np.float64)
    mean, ci = metrics.mean_ci(acc, axis=0)
    return {"mean": np.asarray(mean).tolist(), "ci95": np.asarray(ci).tolist(), "per_subject": acc.tolist()}
