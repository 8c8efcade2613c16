"""The examples of docs/api.md run as written, and print what the page says they show."""

import contextlib
import io
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)


def _run(i: int) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(BLOCKS[i], f"{PAGE.name} example {i}", "exec"), {})
    return out.getvalue()


def test_the_page_has_its_examples():
    assert len(BLOCKS) == 4                      # the import line and three examples


@pytest.mark.filterwarnings("ignore:GWR network full")
def test_gwr_example_grows_and_sweeps_in_one_call():
    text = _run(0) + _run(1)
    nodes, acc = re.search(r"(\d+) nodes; ([\d.]+) accuracy", text).groups()
    assert int(nodes) > 2 and float(acc) > 0.9
    counts = [int(n) for n in re.search(r"\[\s*(\d+)\s+(\d+)\s+(\d+)\]", text).groups()]
    assert counts[0] < counts[1] < counts[2]     # a higher a_T inserts more nodes


def test_gdm_example_learns_every_class_in_both_memories():
    scores = eval(_run(2).strip().splitlines()[-1])          # {'episodic': acc, 'semantic': acc}
    assert set(scores) == {"episodic", "semantic"} and min(scores.values()) > 0.8


def test_clifer_example_recognises_classes_it_has_not_seen():
    acc = float(_run(3).strip().split()[-1])
    assert acc > 0.8                            # the toy imagination puts them where they lie
