"""Scores of a model's predictions and their summaries over subjects and seeds
(docs/metrics.md).

    s = score(preds["episodic"], data.y_test, data.mask_test, order)   # per subject and step
    summary = summarise(s)                                              # mean, 95% CI
"""

from __future__ import annotations

import numpy as np

from clifer_jax import metrics

HEADLINE_FIGURES = ("exp1_f1_avg", "exp2_f1_first_step", "exp2_f1_final", "backward_transfer", "forward_transfer")

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


def headline_figures(scores: dict) -> dict[str, np.ndarray]:
    """Per-subject headline figures [S] of one model/memory's `score` output."""
    return {"exp1_f1_avg": scores["exp1_f1"].mean(axis=1), "exp2_f1_first_step": scores["exp2_f1"][:, 0],
            "exp2_f1_final": scores["exp2_f1"][:, -1], "backward_transfer": scores["backward_transfer"],
            "forward_transfer": scores["forward_transfer"]}


def summarise(s: dict) -> dict:
    """`score`'s per-subject output summarised over subjects (docs/metrics.md, "Over
    subjects"): mean and 95% CI per step of the F1s and accuracies (with the per-subject
    values), Experiment 1's F1 averaged over steps, the transfer figures and the mean R."""
    res = {}
    for k in ("exp1_f1", "exp1_acc", "exp2_f1", "exp2_acc"):
        mean, ci = metrics.mean_ci(s[k], axis=0)
        res[k] = {"mean": np.asarray(mean).tolist(), "ci95": np.asarray(ci).tolist(),
                  "per_subject": s[k].tolist()}
    # Experiment 1 over the whole run: each subject's Exp. 1 F1 averaged over steps
    per_subject = s["exp1_f1"].mean(axis=1)
    mean, ci = metrics.mean_ci(per_subject)
    res["exp1_f1_avg"] = {"mean": mean, "ci95": ci, "per_subject": per_subject.tolist()}
    for k in ("average_accuracy", "backward_transfer", "forward_transfer"):
        mean, ci = metrics.mean_ci(s[k], axis=0)
        res[k] = {"mean": float(mean), "ci95": float(ci)}
    res["R_mean"] = np.nanmean(s["R"], axis=0).tolist()
    return res


def over_seeds(per_seed_scores: list[dict]) -> dict:
    """Every headline figure per seed (the mean over subjects of one seed's `score`) and as
    mean ± 95% CI over the seeds: {figure: {mean, ci95, per_seed}}."""
    out = {}
    for f in HEADLINE_FIGURES:
        vals = [float(np.mean(headline_figures(s)[f])) for s in per_seed_scores]
        mean, ci = metrics.mean_ci(np.asarray(vals), axis=0)
        out[f] = {"mean": float(mean), "ci95": float(ci), "per_seed": vals}
    return out


def train_accuracy(acc) -> dict:
    """The MLPs' fit after each step, [S, T] → mean, 95% CI and per-subject values."""
    acc = np.asarray(acc, np.float64)
    mean, ci = metrics.mean_ci(acc, axis=0)
    return {"mean": np.asarray(mean).tolist(), "ci95": np.asarray(ci).tolist(), "per_subject": acc.tolist()}
