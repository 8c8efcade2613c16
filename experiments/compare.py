"""Several runs side by side (e.g. the synthetic presets), as markdown.

    python -m experiments.compare runs/easy runs/default runs/spontaneous

Per model and memory: Experiment 1 F1 averaged over steps, Experiment 2 F1 after
the first step and at the end (mean ± 95% CI over subjects); then each run's
difficulty figures (docs/data.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clifer_jax.study.report import lines, mean_ci_text


def load(run: str) -> dict:
    path = Path(run) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is {run!r} a finished `clifer run` folder?")
    return json.loads(path.read_text())


def name_of(results: dict, run: str) -> str:
    d = results.get("difficulty") or {}
    return d.get("preset") or Path(run).name


def table(runs: dict[str, dict]) -> str:
    names = list(runs)
    out = ["| model | memory | " + " | ".join(f"{n}: Exp. 1 avg | {n}: Exp. 2 step 1 | {n}: Exp. 2 final"
                                            for n in names) + " |",
           "|---|---|" + "---|---|---|" * len(names)]
    first = runs[names[0]]
    for model, memory, _ in lines(first):
        cells = []
        for n in names:
            s = runs[n]["models"].get(model, {}).get(memory)
            if s is None:
                cells += ["—"] * 3
                continue
            e1 = s.get("exp1_f1_avg")
            cells += [mean_ci_text(e1["mean"], e1["ci95"]) if e1 else "—",
                      mean_ci_text(s["exp2_f1"]["mean"][0], s["exp2_f1"]["ci95"][0]),
                      mean_ci_text(s["exp2_f1"]["mean"][-1], s["exp2_f1"]["ci95"][-1])]
        out.append(f"| {model} | {memory} | " + " | ".join(cells) + " |")
    out += ["", "| difficulty | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows = {"feature 1-NN (within subject)": lambda d: f"{d['feature_1nn']['mean']:.3f}",
            "pixel 1-NN (within subject)": lambda d: f"{d['pixel_1nn']['mean']:.3f}",
            "frames below 30% intensity": lambda d: f"{d['low_intensity_share']:.2f}",
            "between/within-class distance, features": lambda d: f"{d['feature_distance_ratio']:.2f}",
            "between/within-class distance, pixels": lambda d: f"{d['pixel_distance_ratio']:.2f}"}
    for label, get in rows.items():
        vals = []
        for n in names:
            try:
                vals.append(get(runs[n]["difficulty"]))
            except (KeyError, TypeError):
                vals.append("—")
        out.append(f"| {label} | " + " | ".join(vals) + " |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="run folders (each with results.json)")
    args = p.parse_args(argv)
    try:
        loaded = {}
        for r in args.runs:
            res = load(r)
            loaded[name_of(res, r)] = res
    except (FileNotFoundError, json.JSONDecodeError) as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 2
    print(table(loaded), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
