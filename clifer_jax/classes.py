"""The six expression classes of CLIFER and their canonical indices (docs/design.md, docs/metrics.md).

Every array of labels in clifer-jax uses these indices; -1 means "no label".
"""

EXPRESSIONS: tuple[str, ...] = ("Anger", "Sadness", "Happiness", "Surprise", "Fear", "Neutral")
NUM_CLASSES: int = len(EXPRESSIONS)
INDEX: dict[str, int] = {name: i for i, name in enumerate(EXPRESSIONS)}

# docs/metrics.md: the default order in which classes are learned.
DEFAULT_ORDER: tuple[int, ...] = tuple(
    INDEX[n] for n in ("Neutral", "Happiness", "Surprise", "Anger", "Fear", "Sadness")
)


def class_index(name: str) -> int:
    """Index of an expression name (case-insensitive); raises ValueError on an unknown name."""
    for n, i in INDEX.items():
        if n.lower() == name.strip().lower():
            return i
    raise ValueError(f"unknown expression {name!r}; expected one of {EXPRESSIONS}")
