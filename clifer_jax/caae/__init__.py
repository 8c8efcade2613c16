"""The CAAE (docs/caae.md): encoder E → 50-d z, generator G(z, c), trained adversarially.

    from clifer_jax.caae import CAAEParams, encode, translate, imagine, cpu, paper
    from clifer_jax.caae.pool import load_or_train, synthetic_pool

See docs/caae.md for the design, presets, measured figures and the deliberate
differences from the reference code.
"""

from clifer_jax.caae.api import (CAAEParams, encode, encode_unchecked, generate_unchecked, imagine,
                                 imagine_unchecked, translate, translate_unchecked)
from clifer_jax.caae.config import CAAEConfig, cpu, default_preset, paper, preset

__all__ = [
    "CAAEConfig", "CAAEParams", "cpu", "default_preset", "encode", "encode_unchecked", "generate_unchecked",
    "imagine", "imagine_unchecked", "paper", "preset", "translate", "translate_unchecked",
]
