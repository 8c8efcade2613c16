"""The default study: synthetic `posed` data, 24 subjects, the five models, held-out clips,
class order Neutral, Happiness, Surprise, Anger, Fear, Sadness; the `cpu` CAAE.

    clifer run --config experiments/configs/default.py --out runs/default
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig()
