"""The default study over three CAAE training seeds (results.json["over_caae_seeds"]).

    clifer run --config experiments/configs/caae_seeds.py --out runs/seeds
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig(caae_seeds=(0, 1, 2))
