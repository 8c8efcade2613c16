"""The Gamma-GWR network (docs/gwr.md) as fixed-capacity masked arrays in a pytree.

    config = GWRConfig(dim=50, capacity=1024)          # static: shapes, control flow
    params = GWRParams()                                # traced: thresholds, rates, β, max_age
    state = init(config, xs[:2], ys[:2], params)
    state = train(config, state, xs, ys, epochs=10, params=params)
    pred = predict(config, state, xs_test, params)

The validated entry points check their inputs and take `params=None` as `GWRParams()`
(the reference episodic memory). The `*_unchecked` kernels are pure and compose under
`jax.jit` (config static), `jax.vmap` and `lax.scan`; they take `(config, params, state,
...)`, params required, so a new value of a number does not recompile and a batch of
values can be vmapped.
"""

from clifer_jax.gwr.config import GWRConfig, episodic_config, semantic_config
from clifer_jax.gwr.params import GWRParams, check_params
from clifer_jax.gwr.footprint import largest_capacity, state_bytes
from clifer_jax.gwr.predict import Prediction, predict, predict_unchecked, quantization_error
from clifer_jax.gwr.state import GWRState, creation_order, empty, init, init_unchecked, with_max_nodes
from clifer_jax.gwr.topology import birth_matrix, edge_matrix, temporal_matrix, with_topology
from clifer_jax.gwr.sharded import init_sharded, predict_sharded, train_sharded
from clifer_jax.gwr.step import step_unchecked
from clifer_jax.gwr.train import train, train_unchecked

__all__ = [
    "GWRConfig", "GWRParams", "GWRState", "Prediction", "birth_matrix", "check_params", "creation_order",
    "edge_matrix", "empty", "episodic_config", "init", "init_sharded", "init_unchecked", "largest_capacity",
    "predict", "predict_sharded", "predict_unchecked", "quantization_error", "semantic_config",
    "state_bytes", "step_unchecked", "temporal_matrix", "train", "train_sharded", "train_unchecked",
    "with_max_nodes", "with_topology",
]
