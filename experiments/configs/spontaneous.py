"""The default study on the synthetic `spontaneous` preset (docs/data.md); its CAAE trains on that
preset's pool.

    clifer run --config experiments/configs/spontaneous.py --out runs/spontaneous
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig().set("synthetic.preset=spontaneous")
