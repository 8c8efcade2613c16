"""Batched prediction with the training distance (docs/gwr.md)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from clifer_jax.gwr import checks
from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.distance import context, distances
from clifer_jax.gwr.params import GWRParams, check_params
from clifer_jax.gwr.state import GWRState


@struct.dataclass
class Prediction:
    """bmu [B] int32, activity [B] = exp(−d_b), distance [B], labels [B, H] int32, weights [B, K+1, D]."""

    bmu: jax.Array
    activity: jax.Array
    distance: jax.Array
    labels: jax.Array
    weights: jax.Array


def _match(config: GWRConfig, state: GWRState, g: jax.Array):
    d = distances(config, state.weights, state.sq_norms, state.active, g)
    b = jnp.argmin(d).astype(jnp.int32)
    labels = jnp.argmax(state.label_hist[:, b], axis=-1).astype(jnp.int32)
    return Prediction(bmu=b, activity=jnp.exp(-d[b]), distance=d[b], labels=labels,
                      weights=state.weights[b])


def predict_unchecked(config: GWRConfig, params: GWRParams, state: GWRState,
                      xs: jax.Array) -> Prediction:
    """xs [B, D]. With K = 0 samples are independent (vmapped). With K > 0 the context
    follows the sequence (the first sample's is zero): with `predict_context="bmu"` it is
    built from the previous sample's BMU weights as in training; with "input" every
    context row is the previous raw input, as in the reference's test routine. Of the
    params only β is read."""
    beta = params.cast(config.dtype).beta
    if config.context == 0:
        zero = jnp.zeros_like(state.prev_weights)
        return jax.vmap(lambda x: _match(config, state, context(config, x, zero, beta)))(xs)

    if config.predict_context == "input":
        x = xs.astype(config.jnp_dtype)
        prev = jnp.concatenate([jnp.zeros_like(x[:1]), x[:-1]])                # [B, D]
        g = jnp.concatenate([x[:, None], jnp.repeat(prev[:, None], config.context, axis=1)],
                            axis=1)                                             # [B, K+1, D]
        return jax.vmap(lambda gi: _match(config, state, gi))(g)

    def one(prev, x):
        p = _match(config, state, context(config, x, prev, beta))
        return p.weights, p

    _, out = jax.lax.scan(one, jnp.zeros_like(state.prev_weights), xs)
    return out


_predict_jit = jax.jit(predict_unchecked, static_argnames=("config",))


def predict(config: GWRConfig, state: GWRState, xs, params: GWRParams | None = None) -> Prediction:
    """BMU index, activity, per-head label and BMU weights for xs [B, D]. params: the
    network's numbers (only β is read, with K > 0; None: `GWRParams()`)."""
    checks.check_state(config, state)
    params = GWRParams() if params is None else params
    check_params(params)
    lead = checks.check_samples(config, xs)
    if len(lead) != 1:
        raise ValueError(f"predict takes xs [B, D]; got shape {np.shape(xs)}")
    return _predict_jit(config, params.cast(config.dtype), state, jnp.asarray(xs))


def quantization_error(config: GWRConfig, state: GWRState, xs, valid=None,
                       params: GWRParams | None = None) -> jax.Array:
    """Mean distance from each (valid) sample to its BMU."""
    p = predict(config, state, xs, params)
    if valid is None:
        return jnp.mean(p.distance)
    w = jnp.asarray(valid, p.distance.dtype)
    return jnp.sum(p.distance * w) / jnp.maximum(jnp.sum(w), 1.0)
