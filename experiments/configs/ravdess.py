"""RAVDESS (downloaded by the user; docs/data.md) with the paper's CAAE at 96×96×3.

    clifer run --config experiments/configs/ravdess.py --set manual_dir=PATH \
               --set data_dir=WHERE_TO_BUILD --out runs/ravdess
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig.for_dataset("ravdess").with_caae_preset("paper")
