"""The README's headline table is the committed results file, figure for figure (docs stay
true): each cell is a figure's mean ± 95% CI over data seeds × CAAE seeds, to two decimals,
from experiments/results/seeds_posed.json ("over_seeds")."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("exp1_f1_avg", "exp2_f1_first_step", "exp2_f1_final", "backward_transfer", "forward_transfer")
ROW = re.compile(r"^\| (\w+) \| (\w+) \| (.+) \|$")
CELL = re.compile(r"^\*{0,2}(-?\d+\.\d\d) ± (\d+\.\d\d)\*{0,2}$")


def _headline_rows(text: str) -> dict:
    section = text.split("## Results", 1)[1].split("\n## ", 1)[0]
    table = section.split("| model | memory |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        m = ROW.match(line.strip())
        if m:
            rows[(m.group(1), m.group(2))] = [c.strip() for c in m.group(3).split(" | ")]
    return rows


def test_readme_headline_table_is_the_seeds_results_file():
    results = json.loads((ROOT / "experiments/results/seeds_posed.json").read_text())["over_seeds"]
    rows = _headline_rows((ROOT / "README.md").read_text())
    assert len(rows) >= 8
    for (model, memory), cells in rows.items():
        assert len(cells) == len(FIGURES), (model, memory, cells)
        for fig, cell in zip(FIGURES, cells):
            m = CELL.match(cell)
            assert m, f"README {model}/{memory} {fig}: cannot read {cell!r}"
            want = results[model][memory][fig]
            assert float(m.group(1)) == pytest.approx(round(want["mean"], 2), abs=0.0051), (model, memory, fig)
            assert float(m.group(2)) == pytest.approx(round(want["ci95"], 2), abs=0.0051), (model, memory, fig)
