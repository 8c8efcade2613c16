"""The reference code's protocol: every model tested on its own training samples (the
paper's setting; docs/metrics.md).

    clifer run --config experiments/configs/reference_protocol.py --out runs/reference
"""

from clifer_jax.study import StudyConfig


def get_config() -> StudyConfig:
    return StudyConfig(protocol="reference")
