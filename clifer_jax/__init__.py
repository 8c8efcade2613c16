"""clifer-jax: CLIFER (continual learning with imagination for FER) in JAX/Flax."""

from clifer_jax.classes import DEFAULT_ORDER, EXPRESSIONS, NUM_CLASSES

__version__ = "0.1.0"
__all__ = ["DEFAULT_ORDER", "EXPRESSIONS", "NUM_CLASSES", "__version__"]
