"""A study swept over a grid of traced settings and class orders: every grid point ×
subject of a model in one compiled call (`study.grid.run_grid`; docs/study.md, "Sweeps").

    out = sweep(StudyConfig(), ["gdm_params.episodic.activity_threshold=0.2,0.3,0.4"], "runs/sweep")

Grid paths: any GDM params leaf (`gdm_params.episodic.*`, `gdm_params.semantic.*`;
`clifer config` lists them) and `order` (values: `default` and the order study's names,
e.g. `first-Neutral`). The run folder holds config.json (the resolved tree and the grid),
the features, one unit per model (resumable like a run), sweep.json (with per-subject
values, and every point compared paired with the baseline point: `paired_vs_baseline`),
sweep.csv and plots/ (a line over one swept path, a heatmap over two).
"""

from __future__ import annotations

import csv
from pathlib import Path

import jax
import numpy as np

from clifer_jax import config_tree, hosts, metrics
from clifer_jax.classes import EXPRESSIONS
from clifer_jax.study import data as study_data
from clifer_jax.study import grid, models, orders, pipeline, scores
from clifer_jax.study.config import StudyConfig
from clifer_jax.study.runner import quiet, check_devices, prepare, record_caae, seed_inputs
from clifer_jax.study.store import StudyError, open_run
from clifer_jax.validate import byte_size

PARAM_PREFIXES = ("gdm_params.episodic.", "gdm_params.semantic.")
FIGURES = scores.HEADLINE_FIGURES


def parse_grid(cfg: StudyConfig, items) -> dict[str, list]:
    """`PATH=V1,V2,...` items -> {path: [typed values]}, each value checked by setting it;
    a path or a value given twice is refused."""
    axes: dict[str, list] = {}
    for item in items or ():
        path, text = config_tree.split_assignment(item)
        if path in axes:
            raise ValueError(f"--grid {path} given twice")
        raw = [t.strip() for t in text.split(",") if t.strip()]
        if not raw:
            raise ValueError(f"--grid {path}: no values")
        if path == "order":
            known = {"default": tuple(cfg.order), **orders.orders(cfg.order, cfg.seed)}
            bad = [v for v in raw if v not in known]
            if bad:
                raise ValueError(f"--grid order: unknown order(s) {bad}; expected some of {list(known)}")
            values = raw
        else:
            if not path.startswith(PARAM_PREFIXES):
                config_tree.leaf_type(cfg, path)          # unknown paths get the resolver's message
                raise ValueError(f"--grid {path}: only traced params can be swept in one compiled call "
                                 f"(paths under {', '.join(PARAM_PREFIXES)} and `order`); {path} is a "
                                 f"static setting: run `clifer run --set {path}=...` once per value")
            tp = config_tree.leaf_type(cfg, path)
            values = [config_tree.parse(t, tp, path) for t in raw]
            for v in values:
                config_tree.replace_path(cfg, path, v)    # range checks, errors naming the path
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"--grid {path}: value(s) {', '.join(repeated)} given more than once")
        axes[path] = values
    if not axes:
        raise ValueError("a sweep needs at least one --grid PATH=V1,V2,...")
    return axes


def point_config(cfg: StudyConfig, point: dict) -> StudyConfig:
    """The study at one grid point (its params leaves set; the order is `point_order`)."""
    for path, v in point.items():
        if path != "order":
            cfg = config_tree.replace_path(cfg, path, v)
    return cfg


def point_order(cfg: StudyConfig, point: dict) -> tuple[int, ...]:
    name = point.get("order", "default")
    return tuple(cfg.order) if name == "default" else orders.orders(cfg.order, cfg.seed)[name]


def sweep(cfg: StudyConfig, grid_items, out_dir, *, caae_dir=None, caae_store=None, progress: bool = True,
          devices: int | None = None, point_batch: int | None = None, log=print) -> dict:
    """Run (or resume) a sweep; returns the content of sweep.json. caae_dir: a finished
    run's CAAE folder to reuse (it must hold this study's CAAE; nothing is trained then);
    caae_store: the CAAE store's folder otherwise (`study.run`'s).
    point_batch: grid points run at a time within the compiled call (bounds memory)."""
    cfg = cfg.replace(subject_set=cfg.subject_set_for("sweep"))   # screening: development subjects
    axes = parse_grid(cfg, grid_items)
    if point_batch is not None and (isinstance(point_batch, bool) or not isinstance(point_batch, int)
                                    or point_batch < 1):
        raise StudyError(f"--point-batch must be an integer >= 1, got {point_batch!r}")
    use = check_devices(devices)
    log, progress = (log, progress) if hosts.is_writer() else (quiet, False)
    points = grid.grid(axes)
    params_swept = any(p != "order" for p in axes)
    for m in cfg.models:
        if models.spec(m).family != "gdm" and params_swept:
            raise StudyError(f"model {m!r} has no GDM params to sweep; drop it from --models "
                             f"or sweep only `order`")
    seed = pipeline.caae_seeds(cfg)[0]
    train, test, _ = prepare(cfg, log, progress)
    pipeline.check_memory(cfg, train, len(points) if point_batch is None else min(point_batch, len(points)))
    pool = study_data.pool_images(cfg)
    # a CAAE folder named by the user must hold the finished CAAE: checked (and restored,
    # once) before the run folder is made
    caae_params = None if caae_dir is None else pipeline.load_caae(cfg, caae_dir, seed, pool)
    extra = {"sweep": {"grid": {k: list(v) for k, v in axes.items()},
                       **({"caae_dir": str(Path(caae_dir).resolve())} if caae_dir else {})}}
    store, lock = open_run(out_dir, {**cfg.to_dict(), **extra},  # noqa: F841 - lock held
                           {**StudyConfig().to_dict(), **extra})
    data, imagine_args, _ = seed_inputs(cfg, store, pool, train, test, seed, progress=progress,
                                        caae_params=caae_params, caae_store=caae_store, log=log, devices=use)
    if caae_dir is not None:
        record_caae(store, "", {"seed": seed, "source": "caae-dir", "path": str(Path(caae_dir).resolve())})
    gdm_config, mlp_config = pipeline.model_configs(cfg, data)
    at_once = len(points) if point_batch is None else min(point_batch, len(points))
    state_bytes = pipeline.gdm_state_bytes(cfg, gdm_config, int(data.x.shape[0]), at_once)
    if state_bytes:
        log(f"sweep: the GDM states of {at_once} grid point(s) at once take about {byte_size(state_bytes)}"
            f"{'' if point_batch else ' (--point-batch K runs K at a time)'}")
    point_orders = np.asarray([point_order(cfg, pt) for pt in points], np.int32)
    s = int(np.shape(data.x)[0])
    log(f"sweep: {len(points)} grid point(s) x {s} subjects, models {list(cfg.models)}")
    for model in cfg.models:
        name = f"sweep-{model}"
        if store.has(name):
            continue
        run = pipeline.make_model_run(cfg, model, gdm_config, mlp_config)
        params = (grid.stack([point_config(cfg, pt).gdm_params.cast(gdm_config.dtype) for pt in points])
                  if models.spec(model).family == "gdm" else None)
        keys = grid.point_keys(models.model_key(cfg.seed, model), len(points), s)
        preds = store.timed(f"model:{name}", lambda: grid.run_grid(
            run, keys, data, point_orders, imagine_args, params, devices=use, point_batch=point_batch))
        store.save(name, {k: np.asarray(v) for k, v in preds.items()})
        log(f"{model}: {len(points)} points in {store.timings[f'model:{name}']:.1f} s (compilation included)")
    rows = summarise(cfg, store, data, points)
    out = {"grid": {k: list(v) for k, v in axes.items()}, "points": points, "rows": rows,
           "paired": paired_vs_baseline(rows, points, baseline_index(cfg, axes, points)),
           "timings_s": store.timings, "backend": jax.default_backend(), "subjects": s,
           "config": cfg.to_dict()}
    write_outputs(out, store)
    log(f"wrote {store.root / 'sweep.json'}, sweep.csv and plots/")
    return out


def summarise(cfg: StudyConfig, store, data, points) -> list[dict]:
    """One row per grid point x model x memory: the headline figures' mean and 95% CI over
    subjects, and their per-subject values (`per_subject`, in sweep.json only)."""
    rows = []
    for model in cfg.models:
        preds = store.load(f"sweep-{model}")
        for memory in models.memories(model):
            for i, pt in enumerate(points):
                order = point_order(cfg, pt)
                figs = scores.headline_figures(scores.score(preds[memory][i], data.y_test, data.mask_test, order))
                row = {**{k: v for k, v in pt.items()}, "model": model, "memory": memory,
                       "order_classes": "-".join(EXPRESSIONS[c] for c in order)}
                for f in FIGURES:
                    mean, ci = metrics.mean_ci(np.asarray(figs[f], np.float64))
                    row[f] = float(mean)
                    row[f"{f}_ci95"] = float(ci)
                row["per_subject"] = {f: np.asarray(figs[f], np.float64).tolist() for f in FIGURES}
                rows.append(row)
    return rows


def baseline_index(cfg: StudyConfig, axes: dict, points: list[dict]) -> int:
    """The grid point the others are compared with: the one at the study's configured value
    of every swept path (`order`: "default"), else the first point."""
    configured = {path: "default" if path == "order" else config_tree.get_path(cfg, path) for path in axes}
    for i, pt in enumerate(points):
        if all(pt[path] == v for path, v in configured.items()):
            return i
    return 0


def paired_vs_baseline(rows: list[dict], points: list[dict], base: int) -> dict:
    """Every grid point against the baseline point on the same subjects, per model × memory
    and headline figure (`scores.paired_comparisons`: mean of the per-subject differences
    point − baseline ± 95% t-interval, Wilcoxon signed-rank p, Holm's p over the other
    points of that model, memory and figure).

    Returns {"baseline_index", "baseline" (the point), "comparisons": {"model/memory":
    {figure: [{"index", "point", "a", "b", "mean", "ci95", "p", "p_holm", "n"}]}}}."""
    out = {"baseline_index": int(base), "baseline": points[base], "comparisons": {}}
    series: dict[str, dict[int, dict]] = {}
    for r in rows:
        i = next(k for k, pt in enumerate(points) if all(r.get(p) == v for p, v in pt.items()))
        series.setdefault(f"{r['model']}/{r['memory']}", {})[i] = r["per_subject"]
    for label, per_point in series.items():
        per_subject = {f"point {i}": v for i, v in per_point.items()}
        pairs = [(f"point {i}", f"point {base}") for i in sorted(per_point) if i != base]
        if f"point {base}" not in per_subject or not pairs:
            continue
        res = scores.paired_comparisons(per_subject, pairs)
        for cmp in res.values():
            for c in cmp:
                c["index"] = int(c["a"].split()[-1])
                c["point"] = points[c["index"]]
        out["comparisons"][label] = res
    return out


def write_outputs(out: dict, store) -> None:
    """sweep.json, sweep.csv (the rows without their per-subject values) and plots/ (the
    writer's; a follower of a multi-process sweep writes nothing)."""
    if not store.writer:
        return
    store.write_json("sweep.json", out)
    rows = [{k: v for k, v in r.items() if k != "per_subject"} for r in out["rows"]]
    with open(store.root / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot(out, store.root / "plots")


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
    """A markdown table of sweep.json's rows (mean ± 95% CI); beside each point's figure its
    paired difference from the baseline point and Holm's p (`*`: Holm p < 0.05)."""
    paths = list(out["grid"])
    head = paths + ["model", "memory"] + list(figures)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    paired = out.get("paired") or {}
    base = paired.get("baseline_index")
    for r in out["rows"]:
        cells = [str(r[p]) for p in paths] + [r["model"], r["memory"]]
        cmp = paired.get("comparisons", {}).get(f"{r['model']}/{r['memory']}", {})
        i = next((k for k, pt in enumerate(out.get("points", [])) if all(r.get(p) == v for p, v in pt.items())), None)
        for f in figures:
            cell = f"{r[f]:.3f} ± {r[f + '_ci95']:.3f}"
            if i is not None and i == base and cmp:
                cell += " (baseline)"
            for c in cmp.get(f, []):
                if c["index"] == i and np.isfinite(c["mean"]):
                    star = "*" if np.isfinite(c["p_holm"]) and c["p_holm"] < 0.05 else ""
                    cell += f" (Δ {c['mean']:+.3f} ± {c['ci95']:.3f}, Holm p {c['p_holm']:.2g}{star})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    if base is not None:
        pt = ", ".join(f"{k}={v}" for k, v in paired["baseline"].items())
        lines.append(f"\nΔ: paired difference from the baseline point ({pt}) over the same subjects, "
                     "± 95% CI; Holm p over the other points (Wilcoxon signed-rank); * Holm p < 0.05.")
    return "\n".join(lines)
