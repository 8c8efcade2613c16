"""The Gamma-GWR network (docs/gwr.md) as fixed-capacity masked arrays in a pytree.

    config = GWRConfig(dim=50, capacity=1024)
    state = init(config, xs[:2], ys[:2])
    state = train(config, state, xs, ys, epochs=10)
    pred = predict(config, state, xs_test)

Every function is pure and composes under `jax.jit` (config static) and `jax.vmap`;
the numbers a sweep varies travel as a traced `GWRParams` (`params=`, default
`config.params()`'s values), so a new value does not recompile.
"""

from clifer_jax.gwr.config import GWRConfig, episodic_config, semantic_config
from clifer_jax.gwr.params import GWRParams, check_params, make_params
from clifer_jax.gwr.footprint import largest_capacity, state_bytes
from clifer_jax.gwr.predict import Prediction, predict, predict_unchecked, quantization_error
from clifer_jax.gwr.state import (GWRState, creation_order, empty, init, init_unchecked,
                                  reindex_edges, with_max_nodes)
from clifer_jax.gwr.sharded import init_sharded, predict_sharded, train_sharded
from clifer_jax.gwr.step import step
from clifer_jax.gwr.call_end import prune_old_edges, remove_isolated_nodes
from clifer_jax.gwr.train import train, train_unchecked

__all__ = [
    "GWRConfig", "GWRParams", "GWRState", "check_params", "make_params", "Prediction", "creation_order", "empty", "episodic_config", "init",
    "init_sharded", "init_unchecked", "largest_capacity", "predict", "predict_sharded", "predict_unchecked",
    "prune_old_edges", "quantization_error", "reindex_edges", "remove_isolated_nodes", "semantic_config",
    "state_bytes", "step", "train", "train_sharded", "train_unchecked", "with_max_nodes",
]
