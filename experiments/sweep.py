"""`clifer sweep`: a full grid over traced settings, every grid point x subject of a model in
one compiled call (`clifer_jax.sweep.run_grid`; docs/design.md, "Sweeps").

    clifer sweep --grid gdm.episodic.a_t=0.2,0.3,0.4 --grid gdm.semantic.a_t=0.1,0.2 \
                 --models gdm clifer --out runs/sweep

Grid paths: any GDM params leaf (`gdm.episodic.*`, `gdm.semantic.*`; `clifer config`
lists them) and `order` (values: `default` and the order study's names, e.g.
`first-Neutral`). The run folder holds config.json (the resolved tree and the grid), the
features, one unit per model (resumable like `clifer run`), sweep.json, sweep.csv and
plots/ (a line over one swept path, a heatmap over two).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from clifer_jax import config_tree, experiment, metrics, sweep
from clifer_jax.classes import EXPRESSIONS
from experiments import runner
from experiments.configs import ExperimentConfig
from experiments.runner import ExperimentError

PARAM_PREFIXES = ("gdm.episodic.", "gdm.semantic.")
FIGURES = experiment.HEADLINE_FIGURES


def parse_grid(cfg: ExperimentConfig, items) -> dict[str, list]:
    """`PATH=V1,V2,...` items -> {path: [typed values]}, each value checked by setting it."""
    axes: dict[str, list] = {}
    for item in items or ():
        path, text = config_tree.split_assignment(item)
        if path in axes:
            raise ValueError(f"--grid {path} given twice")
        raw = [t.strip() for t in text.split(",") if t.strip()]
        if not raw:
            raise ValueError(f"--grid {path}: no values")
        if path == "order":
            known = {"default": tuple(cfg.order), **runner.order_study_orders(cfg)}
            bad = [v for v in raw if v not in known]
            if bad:
                raise ValueError(f"--grid order: unknown order(s) {bad}; expected some of {list(known)}")
            axes[path] = raw
            continue
        if not path.startswith(PARAM_PREFIXES):
            config_tree.leaf_type(cfg, path)          # unknown paths get the resolver's message
            raise ValueError(f"--grid {path}: only traced params can be swept in one compiled call "
                             f"(paths under {', '.join(PARAM_PREFIXES)} and `order`); {path} is a "
                             f"static setting: run `clifer run --set {path}=...` once per value")
        tp = config_tree.leaf_type(cfg, path)
        values = [config_tree.parse(t, tp, path) for t in raw]
        for v in values:
            config_tree.replace_path(cfg, path, v)    # range checks, errors naming the path
        axes[path] = values
    if not axes:
        raise ValueError("clifer sweep needs at least one --grid PATH=V1,V2,...")
    return axes


def point_config(cfg: ExperimentConfig, point: dict) -> ExperimentConfig:
    for path, v in point.items():
        if path != "order":
            cfg = config_tree.replace_path(cfg, path, v)
    return cfg


def point_order(cfg: ExperimentConfig, point: dict) -> tuple[int, ...]:
    name = point.get("order", "default")
    return tuple(cfg.order) if name == "default" else runner.order_study_orders(cfg)[name]


def run_sweep(cfg: ExperimentConfig, grid_items, out_dir, *, caae_dir=None, progress: bool = True,
              devices: int | None = None, point_batch: int | None = None, log=print) -> dict:
    """Run (or resume) a sweep; returns the content of sweep.json. point_batch: grid points
    run at a time within the compiled call (`clifer_jax.sweep.run_grid`; bounds memory)."""
    import jax

    axes = parse_grid(cfg, grid_items)
    points = sweep.grid(axes)
    params_swept = any(p != "order" for p in axes)
    for m in cfg.models:
        if experiment.spec(m).family != "gdm" and params_swept:
            raise ExperimentError(f"model {m!r} has no GDM params to sweep; drop it from --models "
                                  f"or sweep only `order`")
    use = devices if devices and devices > 1 else None
    extra = {"sweep": {"grid": {k: list(v) for k, v in axes.items()},
                       **({"caae_dir": str(Path(caae_dir).resolve())} if caae_dir else {})}}
    store, lock, timings, timed = runner.open_run(out_dir, cfg, extra)  # noqa: F841 - lock held
    train, test, _, ccfg = runner.load_checked(cfg, log)
    pool = runner.caae_pool(cfg, ccfg)
    seed = runner.caae_seeds(cfg)[0]
    data, imagine_params = runner.seed_features(cfg, store, ccfg, pool, train, test, seed, timings, timed,
                                                progress, caae_dir=caae_dir)
    gdm_cfg, mlp_cfg = runner.model_configs(cfg, data)
    orders = np.asarray([point_order(cfg, pt) for pt in points], np.int32)
    s = int(np.shape(data.x)[0])
    log(f"sweep: {len(points)} grid point(s) x {s} subjects, models {list(cfg.models)}")
    for model in cfg.models:
        name = f"sweep-{model}"
        if store.has(name):
            continue
        run = runner.make_model_run(cfg, model, gdm_cfg, mlp_cfg)
        params = (sweep.stack([point_config(cfg, pt).gdm.params() for pt in points])
                  if experiment.spec(model).family == "gdm" else None)
        keys = sweep.point_keys(experiment.model_key(cfg.seed, model), len(points), s)
        preds = timed(f"model:{name}", lambda: sweep.run_grid(run, keys, data, orders, imagine_params,
                                                              params, devices=use, point_batch=point_batch))
        store.save(name, {k: np.asarray(v) for k, v in preds.items()})
        log(f"{model}: {len(points)} points in {timings[f'model:{name}']:.1f} s (compilation included)")
    rows = summarise(cfg, store, data, points)
    out = {"grid": {k: list(v) for k, v in axes.items()}, "points": points, "rows": rows,
           "timings_s": timings, "backend": jax.default_backend(), "subjects": s,
           "config": cfg.to_dict()}
    write_outputs(out, store.root)
    log(f"wrote {store.root / 'sweep.json'}, sweep.csv and plots/")
    return out


def summarise(cfg: ExperimentConfig, store, data, points) -> list[dict]:
    """One row per grid point x model x memory: the headline figures' mean and 95% CI over
    subjects."""
    rows = []
    for model in cfg.models:
        preds = store.load(f"sweep-{model}")
        for memory in experiment.memories(model):
            for i, pt in enumerate(points):
                order = point_order(cfg, pt)
                figs = experiment.headline_figures(experiment.score(preds[memory][i], data.y_test, data.mask_test, order))
                row = {**{k: v for k, v in pt.items()}, "model": model, "memory": memory,
                       "order_classes": "-".join(EXPRESSIONS[c] for c in order)}
                for f in FIGURES:
                    mean, ci = metrics.mean_ci(np.asarray(figs[f], np.float64))
                    row[f] = float(mean)
                    row[f"{f}_ci95"] = float(ci)
                rows.append(row)
    return rows


def write_outputs(out: dict, root: Path) -> None:
    tmp = root / "sweep.json.tmp"
    tmp.write_text(json.dumps(out, indent=2))
    os.replace(tmp, root / "sweep.json")
    rows = out["rows"]
    with open(root / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot(out, root / "plots")


def plot(out: dict, folder: Path, figure: str = "exp1_f1_avg") -> list[Path]:
    """A line per model x memory over one swept path; a heatmap per model x memory over two.
    Nothing for three or more paths (the CSV holds every point)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = [p for p in out["grid"] if p != "order" or len(out["grid"]) == 1]
    rows = out["rows"]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    series = sorted({(r["model"], r["memory"]) for r in rows}, key=lambda mm: (mm[0], mm[1]))
    if len(axes) == 1:
        path = axes[0]
        fig, ax = plt.subplots(figsize=(6, 4))
        for model, memory in series:
            sel = [r for r in rows if r["model"] == model and r["memory"] == memory]
            xs = [str(r[path]) if path == "order" else r[path] for r in sel]
            ys = np.array([r[figure] for r in sel])
            ci = np.array([r[f"{figure}_ci95"] for r in sel])
            ax.errorbar(xs, ys, yerr=ci, marker="o", capsize=3, label=f"{model} {memory}")
        ax.set_xlabel(path)
        ax.set_ylabel(f"{figure} (mean, 95% CI over subjects)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        written.append(folder / f"sweep_{figure}.png")
        fig.savefig(written[-1], dpi=120)
        plt.close(fig)
    elif len(axes) == 2:
        pa, pb = axes
        va, vb = out["grid"][pa], out["grid"][pb]
        fig, axs = plt.subplots(1, len(series), figsize=(3.6 * len(series), 3.4), squeeze=False)
        for ax, (model, memory) in zip(axs[0], series):
            grid = np.full((len(va), len(vb)), np.nan)
            for r in rows:
                if r["model"] == model and r["memory"] == memory:
                    grid[va.index(r[pa]), vb.index(r[pb])] = r[figure]
            im = ax.imshow(grid, origin="lower", aspect="auto", vmin=0, vmax=1, cmap="viridis")
            ax.set_xticks(range(len(vb)), [str(v) for v in vb], rotation=45, fontsize=7)
            ax.set_yticks(range(len(va)), [str(v) for v in va], fontsize=7)
            ax.set_xlabel(pb, fontsize=8)
            ax.set_ylabel(pa, fontsize=8)
            ax.set_title(f"{model} {memory}", fontsize=9)
        fig.colorbar(im, ax=axs[0].tolist(), label=figure)
        written.append(folder / f"sweep_{figure}_heatmap.png")
        fig.savefig(written[-1], dpi=120)
        plt.close(fig)
    return written


def table(out: dict, figures=("exp1_f1_avg", "exp2_f1_final")) -> str:
    """A markdown table of sweep.json's rows (mean ± 95% CI)."""
    paths = list(out["grid"])
    head = paths + ["model", "memory"] + list(figures)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in out["rows"]:
        cells = [str(r[p]) for p in paths] + [r["model"], r["memory"]]
        cells += [f"{r[f]:.3f} ± {r[f + '_ci95']:.3f}" for f in figures]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
