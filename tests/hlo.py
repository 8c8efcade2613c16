"""Reading compiled HLO text in tests: its computations, and the fallback loops to leave out.

A training call's end runs its N×N passes (`gwr.train.end_call`) only as a fallback, in
`while` loops of 0 or 1 trips named `full_pass`; checks of the per-sample loop and of
the per-call work look at everything else.
"""

import re

from clifer_jax.gwr.call_end import FULL_PASS


def computations(hlo: str) -> dict[str, str]:
    """name -> text of each HLO computation (the entry one under its own name)."""
    out = {}
    for block in re.split(r"\n(?=\S)", hlo):
        name = re.match(r"(?:ENTRY )?%?(\S+)", block.split("\n", 1)[0])
        if name:
            out[name.group(1)] = block
    return out


def full_pass_bodies(hlo: str) -> set[str]:
    """Names of the bodies of the `full_pass` loops and of every computation they call."""
    roots = {m.group(1) for m in re.finditer(r"while\([^\n]*?body=%(\S+?),[^\n]*?op_name=\"([^\"]*)\"", hlo)
             if FULL_PASS in m.group(2)}
    return reachable(hlo, roots)


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


def without_full_pass(hlo: str) -> str:
    """The HLO text without the bodies of the `full_pass` loops."""
    skip = full_pass_bodies(hlo)
    return "\n".join(text for name, text in computations(hlo).items() if name not in skip)
