"""Markdown report and plots of a study's results.json (`report.md`, `plots/`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MEMORY_STYLE = {"episodic": "-", "semantic": "--", "mlp": ":"}
EXPERIMENTS = {"exp1_f1": "Experiment 1: classes seen so far", "exp2_f1": "Experiment 2: all six classes"}


def mean_ci_text(m, ci) -> str:
    return f"{m:.2f} ± {ci:.2f}" if np.isfinite(ci) else f"{m:.2f}"


NOT_MEMORIES = ("train_acc",)   # entries of a model beside its predictors (the MLPs' fit)


def lines(results: dict):
    """(model, memory, summary) for every reported predictor, in a stable order."""
    for model, mems in results["models"].items():
        for memory, s in mems.items():
            if memory not in NOT_MEMORIES:
                yield model, memory, s


def _pairs(r: dict, alpha: float = 0.05) -> str:
    """The order pairs the Holm-corrected Wilcoxon post-hoc separates, higher mean first."""
    short = lambda n: n.replace("first-", "")[:4]
    sig = [(p["a"], p["b"]) if p["mean_diff"] > 0 else (p["b"], p["a"])
           for p in r.get("posthoc", []) if p["p_holm"] <= alpha]
    return ", ".join(f"{short(a)}>{short(b)}" for a, b in sig) or "none"


def _neutral(r: dict) -> str:
    n = r.get("neutral_first")
    if n is None:
        return "—"
    verdict = "best" if n["is_best"] else f"rank {n['rank']}"
    if n["better_than"] or n["worse_than"]:
        verdict += f" (above {len(n['better_than'])}, below {len(n['worse_than'])} at p≤0.05)"
    else:
        verdict += " (no pair separated)"
    return verdict


def markdown(results: dict) -> str:
    order = results["order"]
    out = [f"# CLIFER experiment: {results['dataset']}",
           "",
           f"Protocol **{results['protocol']}** "
           f"({'held-out clips of each subject' if results['protocol'] == 'heldout' else 'tested on the training samples, as the reference code'}), "
           f"{len(results['subjects'])} subjects, backend {results['backend']}, seed {results['config']['seed']}.",
           f"Class order: {', '.join(order)}. Scores: macro-F1, mean ± 95% CI over subjects (t-distribution).",
           ""]
    steps = exp1_steps(len(order))
    out += ["## Headline", "",
            f"Exp. 1 F1 is each subject's Experiment 1 F1 (classes seen so far) averaged over {steps}"
            f"{' (at step 1 every model without imagination scores 1.0 on the one class it has seen)' if len(order) > 1 else ''}; "
            "at the last step Experiment 1 and 2 test the same classes, so their final "
            "figures coincide and only Experiment 2's is shown. FWT's baseline is chance (1/C): a "
            "model that cannot answer for an unseen class has FWT −1/C."
            + (" Whether two models differ is read from the paired comparisons below, not from "
               "whether these CIs over subjects overlap." if results.get("paired") else ""), "",
            f"| model | memory | Exp. 1 F1, avg over {steps} | Exp. 2 F1, step 1 | Exp. 2 F1, final | "
            "Exp. 2 acc, final | ACC | BWT | FWT |",
            "|---|---|---|---|---|---|---|---|---|"]
    for model, memory, s in lines(results):
        f = lambda k, t: mean_ci_text(s[k]["mean"][t], s[k]["ci95"][t])
        g = lambda k: mean_ci_text(s[k]["mean"], s[k]["ci95"]) if k in s else "—"
        out.append(f"| {model} | {memory} | {g('exp1_f1_avg')} | {f('exp2_f1', 0)} | {f('exp2_f1', -1)} | "
                   f"{f('exp2_acc', -1)} | {g('average_accuracy')} | {g('backward_transfer')} | "
                   f"{g('forward_transfer')} |")
    fits = {m: e["train_acc"] for m, e in results["models"].items() if "train_acc" in e}
    if fits:
        out += ["", "## MLP training accuracy after each step (on the samples trained on at that step)", "",
                "| model | " + " | ".join(f"{i + 1}: {c[:4]}" for i, c in enumerate(order)) + " |",
                "|---|" + "---|" * len(order)]
        for model, t in fits.items():
            out.append(f"| {model} | " + " | ".join(mean_ci_text(m, c) for m, c in zip(t["mean"], t["ci95"])) + " |")
    for exp, title in EXPERIMENTS.items():
        out += ["", f"## {title} — macro-F1 after each step", "",
                "| model | memory | " + " | ".join(f"{i + 1}: {c[:4]}" for i, c in enumerate(order)) + " |",
                "|---|---|" + "---|" * len(order)]
        for model, memory, s in lines(results):
            cells = [mean_ci_text(m, c) for m, c in zip(s[exp]["mean"], s[exp]["ci95"])]
            out.append(f"| {model} | {memory} | " + " | ".join(cells) + " |")
    if results.get("order_study"):
        out += ["", "## Order study (six orders on the same subjects)", "",
                "Friedman's test (repeated measures) with Kendall's W; post-hoc: pairwise Wilcoxon "
                "signed-rank tests, Holm-corrected, pairs listed where p ≤ 0.05 (higher mean first). "
                "Kruskal-Wallis (H, p), which treats the orders as independent groups, as the "
                "poster reported it.", "",
                "| model | memory | experiment | step | Friedman χ² | p | W | separated pairs | "
                "best order (mean) | Neutral first | KW H | KW p |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for model, mems in results["order_study"].items():
            for memory, e in mems.items():
                for exp in ("exp1_f1", "exp2_f1"):
                    for step in ("first_step", "last_step"):
                        r = e[f"{exp}_{step}"]
                        fr = r.get("friedman")
                        fcells = (f"{fr['statistic']:.2f} | {fr['p_value']:.3g} | {fr['kendall_w']:.2f}"
                                  if fr else "— | — | —")
                        best = r.get("best_order")
                        bcell = "—"
                        if best:
                            bcell = f"{best['order'].replace('first-', '')} ({best['mean']:.2f})"
                            bcell += ", beats all" if best.get("significantly_best") else ""
                        out.append(f"| {model} | {memory} | {exp[:4]} | {step.replace('_', ' ')} | "
                                   f"{fcells} | {_pairs(r)} | {bcell} | {_neutral(r)} | "
                                   f"{r['H']:.2f} | {r['p']:.3g} |")
    out += paired_lines(results.get("paired"), len(order))
    out += difficulty_lines(results.get("difficulty"))
    if results.get("over_seeds"):
        out += seed_lines(results["over_seeds"], results.get("caae_seeds"), results.get("data_seeds"))
    else:   # results.json of runs made before the grid of data seeds × CAAE seeds
        out += seed_lines(results.get("over_caae_seeds"), results.get("caae_seeds"))
    b = results.get("data_build")
    if b and "faces_detected" in b:
        total = b["faces_detected"] + b.get("centre_crop_fallbacks", 0)
        out += ["", "## Data build", "",
                f"Build `{b.get('image_config')}`: a face was detected in {b['faces_detected']} of "
                f"{total} sampled frames; {b.get('centre_crop_fallbacks', 0)} fell back to a centre crop."]
        if b.get("skipped"):
            out.append("Skipped: " + ", ".join(f"{n} × {k}" for k, n in sorted(b["skipped"].items())) + ".")
    t = results.get("timings_s", {})
    if t:
        out += ["", "## Wall time (this run's work; resumed units count where they ran)", "",
                "| stage | seconds |", "|---|---|"] + [f"| {k} | {v:.1f} |" for k, v in t.items()]
    out += ["", "![F1 curves](plots/f1_curves.png)", "", "![CL matrices](plots/cl_matrices.png)"]
    if results.get("order_study"):
        out += ["", "![order study](plots/order_study.png)"]
    return "\n".join(out) + "\n"


SEED_FIGURES = {"exp1_f1_avg": "Exp. 1 F1, avg", "exp2_f1_first_step": "Exp. 2 F1, step 1",
                "exp2_f1_final": "Exp. 2 F1, final", "backward_transfer": "BWT", "forward_transfer": "FWT"}


def exp1_steps(t: int) -> str:
    """The steps Experiment 1's headline averages (`scores.exp1_average`): "steps 2–T"."""
    return f"steps 2–{t}" if t > 2 else ("step 2" if t == 2 else "step 1")


def _p_text(p) -> str:
    return "—" if p is None or not np.isfinite(p) else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}")


def paired_lines(paired: dict | None, steps: int = 6, alpha: float = 0.05) -> list[str]:
    """results["paired"] (`scores.paired_comparisons`) as one table per headline figure:
    per pair the mean of the per-subject differences a − b ± the 95% t-interval, the
    Wilcoxon signed-rank p and Holm's p within the figure; pairs at Holm p < alpha in bold."""
    if not paired:
        return []
    out = ["", "## Paired comparisons (same subjects)", "",
           "Per pair a − b: the mean of the per-subject differences ± 95% CI (t-interval of the "
           "differences), the two-sided Wilcoxon signed-rank p, and Holm's p over the pairs of that "
           f"figure. **Bold**: Holm p < {alpha:g} (the pair differs, the family-wise error held at "
           f"{alpha:g}); the sign says which is higher."]
    names = {**SEED_FIGURES, "exp1_f1_avg": f"Exp. 1 F1, avg over {exp1_steps(steps)}"}
    for fig, rows in paired.items():
        if not rows:
            continue
        out += ["", f"### {names.get(fig, fig)}", "", "| a | b | a − b (mean ± 95% CI) | p | Holm p |",
                "|---|---|---|---|---|"]
        for r in rows:
            diff = ("—" if not np.isfinite(r["mean"]) else
                    f"{r['mean']:+.3f} ± {r['ci95']:.3f}" if np.isfinite(r["ci95"]) else f"{r['mean']:+.3f}")
            sig = r.get("p_holm") is not None and np.isfinite(r["p_holm"]) and r["p_holm"] < alpha
            b = "**" if sig else ""
            out.append(f"| {r['a']} | {r['b']} | {b}{diff}{b} | {_p_text(r['p'])} | {b}{_p_text(r.get('p_holm'))}{b} |")
    return out


def difficulty_lines(d: dict | None) -> list[str]:
    """The data's difficulty (docs/data.md) as a short markdown section."""
    if not d:
        return []
    nn = lambda k: f"{d[k]['mean']:.3f} (worst subject {d[k]['min']:.3f})" if k in d else "—"  # noqa: E731
    rows = [("within-subject 1-NN, memory features", nn("feature_1nn")),
            ("within-subject 1-NN, pixels", nn("pixel_1nn")),
            ("between / within-class distance, features", f"{d.get('feature_distance_ratio', float('nan')):.2f}"),
            ("between / within-class distance, pixels", f"{d.get('pixel_distance_ratio', float('nan')):.2f}")]
    if "low_intensity_share" in d:
        rows.append(("expressive frames below 30% intensity", f"{d['low_intensity_share']:.2f}"))
    if "domain_gap" in d:
        g = d["domain_gap"]
        rows.append(("CAAE pool → evaluation (nearest class mean), gap-free pool", f"{g['pool_to_eval']:.3f}, "
                     f"{g['reference_to_eval']:.3f}"))
    head = f"## Difficulty of the data{' (preset ' + d['preset'] + ')' if 'preset' in d else ''}"
    return ["", head, "", "| measure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]


def seed_lines(over: dict | None, seeds=None, data_seeds=None) -> list[str]:
    """The figures over seeds. results["over_seeds"] (`scores.over_seed_grid`: per figure
    "per_cell" [data seeds][CAAE seeds]): the mean over the cells of each cell's mean over
    subjects ± the crossed random-effects 95% CI, the cells in brackets. The old
    results["over_caae_seeds"] layout (per figure "per_seed") is rendered as before."""
    if not over:
        return []
    first = next(iter(next(iter(over.values())).values()))
    some = next(iter(first.values()))
    if "per_cell" not in some:          # {model: {memory: {figure: {mean, ci95, per_seed}}}}
        out = ["", f"## Over CAAE seeds {', '.join(map(str, seeds or []))}", "",
               "Mean ± 95% CI over seeds of each seed's mean over subjects; per seed in brackets.", "",
               "| model | memory | " + " | ".join(SEED_FIGURES.values()) + " |",
               "|---|---|" + "---|" * len(SEED_FIGURES)]
        for model, mems in over.items():
            for memory, e in mems.items():
                cells = [f"{mean_ci_text(e[k]['mean'], e[k]['ci95'])} ({' / '.join(f'{v:.2f}' for v in e[k]['per_seed'])})"
                         for k in SEED_FIGURES]
                out.append(f"| {model} | {memory} | " + " | ".join(cells) + " |")
        return out
    a, b = len(some["per_cell"]), len(some["per_cell"][0])
    seeds = list(seeds) if seeds else list(some.get("caae_seeds", range(b)))
    data_seeds = list(data_seeds) if data_seeds else list(some.get("data_seeds", range(a)))
    def fmt(xs) -> str:
        return ", ".join(map(str, xs))

    if a == 1:
        head = f"## Over CAAE seeds {fmt(seeds)} (data seed {fmt(data_seeds)})"
        how = ("Mean ± 95% CI (t-interval) over CAAE seeds of each seed's mean over the same "
               "subjects; per seed in brackets.")
    elif b == 1:
        head = f"## Over data seeds {fmt(data_seeds)} (CAAE seed {fmt(seeds)})"
        how = ("Mean ± 95% CI (t-interval) over data seeds of each seed's mean over its subjects; "
               "per seed in brackets.")
    else:
        head = f"## Over data seeds {fmt(data_seeds)} × CAAE seeds {fmt(seeds)}"
        how = (f"Mean over the {a} × {b} cells of each cell's mean over subjects ± 95% CI of the "
               "two-way crossed random-effects model (data seed × CAAE seed, Satterthwaite degrees "
               "of freedom; docs/metrics.md), so it covers both seeds' variation. Per cell in "
               "brackets: CAAE seeds separated by /, data seeds by ;.")
    out = ["", head, "", how, "",
           "| model | memory | " + " | ".join(SEED_FIGURES.values()) + " |",
           "|---|---|" + "---|" * len(SEED_FIGURES)]
    for model, mems in over.items():
        for memory, e in mems.items():
            cells = []
            for k in SEED_FIGURES:
                per = "; ".join(" / ".join(f"{v:.2f}" for v in row) for row in e[k]["per_cell"])
                cells.append(f"{mean_ci_text(e[k]['mean'], e[k]['ci95'])} ({per})")
            out.append(f"| {model} | {memory} | " + " | ".join(cells) + " |")
    return out


def plot_f1(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    models = list(results["models"])
    colors = dict(zip(models, plt.cm.tab10.colors))
    for ax, (exp, title) in zip(axes, EXPERIMENTS.items()):
        for model, memory, s in lines(results):
            m, ci = np.array(s[exp]["mean"]), np.nan_to_num(np.array(s[exp]["ci95"]))
            x = np.arange(1, len(m) + 1)
            ax.plot(x, m, MEMORY_STYLE[memory], color=colors[model], marker="o", ms=3,
                    label=f"{model} ({memory})" if memory != "mlp" else model)
            ax.fill_between(x, m - ci, m + ci, color=colors[model], alpha=0.12)
        ax.set_title(title)
        ax.set_xlabel("classes learned")
        ax.set_xticks(range(1, len(results["order"]) + 1))
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("macro-F1 (mean, 95% CI)")
    # Below the panels: inside either one the legend hides curves.
    handles, labels = axes[1].get_legend_handles_labels()
    ncol = 4
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.suptitle(f"{results['dataset']} — protocol {results['protocol']}")
    rows = -(-len(labels) // ncol)
    fig.tight_layout(rect=(0, 0.035 * rows + 0.02, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cl_matrices(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = list(lines(results))
    cols = min(4, len(entries))
    rows = int(np.ceil(len(entries) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.1 * rows), squeeze=False)
    short = [c[:3] for c in results["order"]]
    for ax, (model, memory, s) in zip(axes.flat, entries):
        r = np.array(s["R_mean"], float)
        ax.imshow(r, vmin=0, vmax=1, cmap="viridis")
        ax.set_title(f"{model} ({memory})", fontsize=9)
        ax.set_xticks(range(len(short)), short, fontsize=7)
        ax.set_yticks(range(r.shape[0]), [f"t{i + 1}" for i in range(r.shape[0])], fontsize=7)
        for (i, j), v in np.ndenumerate(r):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if v < 0.5 else "black")
    for ax in list(axes.flat)[len(entries):]:
        ax.axis("off")
    fig.suptitle("R[t, c]: accuracy on class c after step t (mean over subjects)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_order_study(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [(m, mem, e) for m, mems in results["order_study"].items() for mem, e in mems.items()]
    fig, axes = plt.subplots(len(entries), 2, figsize=(12, 3.2 * len(entries)), squeeze=False)
    for row, (model, memory, e) in zip(axes, entries):
        for ax, step in zip(row, ("first_step", "last_step")):
            r = e[f"exp2_f1_{step}"]
            names = list(r["per_order"])
            ax.boxplot([r["per_order"][n] for n in names])
            ax.set_xticks(range(1, len(names) + 1), [n.replace("first-", "") + " first" for n in names],
                          fontsize=7, rotation=20)
            fr = r.get("friedman")
            test = (f"Friedman χ²={fr['statistic']:.2f}, p={fr['p_value']:.3g}, W={fr['kendall_w']:.2f}"
                    if fr else f"KW H={r['H']:.2f}, p={r['p']:.3g}")
            ax.set_title(f"{model} ({memory}), Exp. 2 F1, {step.replace('_', ' ')}: {test}", fontsize=9)
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(results: dict, root: Path) -> None:
    root = Path(root)
    (root / "plots").mkdir(exist_ok=True)
    plot_f1(results, root / "plots" / "f1_curves.png")
    plot_cl_matrices(results, root / "plots" / "cl_matrices.png")
    if results.get("order_study"):
        plot_order_study(results, root / "plots" / "order_study.png")
    (root / "report.md").write_text(markdown(results))
