"""The order study: each class first, followed by four random orders of the rest (24 orders,
shuffled from the seed), for CLIFER and the GDM on the same subjects; the first classes are
compared on each subject's mean over its tails (docs/metrics.md, "Order study").

    clifer run --config experiments/configs/order_study.py --out runs/order
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig(models=("clifer", "gdm"), order_study=True, order_models=("clifer", "gdm"))
