"""The default study over three data seeds × three CAAE training seeds: the README's
headline table (results.json["over_seeds"]: each figure's mean over the nine cells with a
CI that covers both seeds' variation; docs/metrics.md, "Over seeds").

    clifer run --config experiments/configs/seeds.py --out runs/seeds
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig(data_seeds=(0, 1, 2), caae_seeds=(0, 1, 2))
