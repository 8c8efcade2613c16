"""Reading compiled HLO text in tests: its computations and what they call."""

import re


def computations(hlo: str) -> dict[str, str]:
    """name -> text of each HLO computation (the entry one under its own name)."""
    out = {}
    for block in re.split(r"\n(?=\S)", hlo):
        name = re.match(r"(?:ENTRY )?%?(\S+)", block.split("\n", 1)[0])
        if name:
            out[name.group(1)] = block
    return out


def reachable(hlo: str, roots: set[str]) -> set[str]:
    """`roots` and the computations they call (fusions, reductions, loops), transitively."""
    comps = computations(hlo)
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += re.findall(r"(?:calls|to_apply|body|condition)=%([\w.\-]+)", comps.get(name, ""))
    return seen
