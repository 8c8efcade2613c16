"""The default study on the synthetic `easy` preset (docs/data.md); its CAAE trains on that
preset's pool.

    clifer run --config experiments/configs/easy.py --out runs/easy
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig().set("synthetic.preset=easy")
