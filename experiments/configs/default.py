"""The default study: synthetic `posed` data, the 24 test subjects, the six default models
(the MLPs, the GDM with and without replay, CLIFER and CLIFER without imagination), held-out clips,
class order Neutral, Happiness, Surprise, Anger, Fear, Sadness; the `cpu` CAAE.

    clifer run --config experiments/configs/default.py --out runs/default
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig()
