"""clifer-jax: CLIFER (continual learning with imagination for FER) in JAX/Flax.

    from clifer_jax import gwr, gdm, clifer, caae, study

`gwr`: one Gamma-GWR memory; `gdm`: the Growing Dual Memory; `clifer`: the GDM with
imagination; `caae`: the encoder and imagination model; `study`: a whole experiment
(data, CAAE, features, models, scores) and its sweeps.
"""

from clifer_jax import caae, clifer, gdm, gwr, study
from clifer_jax.classes import DEFAULT_ORDER, EXPRESSIONS, NUM_CLASSES

__version__ = "0.2.0"
__all__ = ["DEFAULT_ORDER", "EXPRESSIONS", "NUM_CLASSES", "__version__", "caae", "clifer", "gdm",
           "gwr", "study"]
