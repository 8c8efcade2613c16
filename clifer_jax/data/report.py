"""Counted, reported skips: every input a builder leaves out is counted with a reason."""

from __future__ import annotations

import collections
import dataclasses
import logging

log = logging.getLogger("clifer_jax.data")

_EXAMPLES_PER_REASON = 5


@dataclasses.dataclass
class SkipReport:
    """Counts of skipped inputs per reason, with the first few offenders named."""

    counts: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    examples: dict = dataclasses.field(default_factory=dict)
    _logged: collections.Counter = dataclasses.field(default_factory=collections.Counter,
                                                     repr=False)

    def skip(self, reason: str, item, n: int = 1) -> None:
        self.counts[reason] += n
        names = self.examples.setdefault(reason, [])
        if len(names) < _EXAMPLES_PER_REASON:
            names.append(str(item))

    def as_dict(self) -> dict:
        return {"skipped": dict(self.counts), "skipped_examples": dict(self.examples)}

    def log(self, what: str) -> None:
        """One warning per reason for the skips since the previous call."""
        for reason, n in sorted((self.counts - self._logged).items()):
            log.warning("%s: skipped %d × %s (e.g. %s)", what, n, reason,
                        ", ".join(self.examples.get(reason, [])))
        self._logged = collections.Counter(self.counts)
