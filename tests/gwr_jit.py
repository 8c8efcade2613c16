"""The GWR kernels jitted once, for tests that call them directly.

`gwr.train_unchecked` / `gwr.predict_unchecked` are plain traceable functions (docs/design.md,
"Naming: kernels and wrappers"); these are the jitted objects the tests time, count and compare.
"""

import jax

from clifer_jax import gwr

train_unchecked = jax.jit(gwr.train_unchecked, static_argnames=("config", "epochs", "remove_isolated"))
predict_unchecked = jax.jit(gwr.predict_unchecked, static_argnames=("config",))
