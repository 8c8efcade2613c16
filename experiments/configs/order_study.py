"""The order study: six orders (each class first once, the rest shuffled from the seed) for
CLIFER and the GDM on the same subjects (docs/metrics.md, "Order study").

    clifer run --config experiments/configs/order_study.py --out runs/order
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig(models=("clifer", "gdm"), order_study=True, order_models=("clifer", "gdm"))
