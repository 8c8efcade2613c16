"""Many Gamma-GWR networks at once, the network axis sharded over devices (docs/scaling.md).

    states = init_sharded(config, xs[:, :2], ys[:, :2])          # S networks
    states = train_sharded(config, states, xs, ys, epochs=10)    # xs [S, T, D]
    preds = predict_sharded(config, states, xs_test)             # xs_test [S, B, D]

Each is `jax.vmap` of the single-network kernel, run by `clifer_jax.sharding.map_subjects`
over a mesh of every device (or `devices=`): the same computation as `jax.vmap` (floats
may differ in the last bit between batch sizes; docs/scaling.md). States come back as
global arrays, sharded by network when S is a multiple of the device count, and go
straight into the next call.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from clifer_jax import sharding
from clifer_jax.gwr import blocks, checks
from clifer_jax.gwr.config import GWRConfig
from clifer_jax.validate import is_concrete
from clifer_jax.gwr.params import GWRParams, check_params
from clifer_jax.gwr.predict import Prediction, predict_unchecked
from clifer_jax.gwr.state import GWRState, init_unchecked
from clifer_jax.gwr.train import (_train_block_impl, check_train_inputs, overflow_counts, warn_overflow,
                                  warn_refused)


@functools.lru_cache(maxsize=64)
def _kernel(name: str, config: GWRConfig, epochs: int = 1, remove_isolated: bool = True,
            block: int | None = None):
    """One stable function object per setting (map_subjects caches compilations by it)."""
    if name == "init":
        return lambda x, y, p: init_unchecked(config, p, x, y)
    if name == "train":   # on the leading `block` slots (docs/gwr.md, "Capacity headroom")
        return lambda s, x, y, v, p: _train_block_impl(config, p, s, x, y, v, epochs,
                                                       remove_isolated, block or config.capacity)
    return lambda s, x, p: predict_unchecked(config, p, s, x)


def _params(config: GWRConfig, params, s: int):
    """(params as arrays, in_axis): None → `GWRParams()`; a GWRParams of scalars is shared
    (in_axis None); one with a leading axis of S is per network (0)."""
    params = GWRParams() if params is None else params
    check_params(params)
    params = params.cast(config.dtype)
    lead = {np.shape(v)[:1] for v in jax.tree.leaves(params)}
    if lead == {()}:
        return params, None
    if lead == {(s,)} and all(np.ndim(v) == 1 for v in jax.tree.leaves(params)):
        return params, 0
    raise ValueError(f"params must hold scalars (shared) or a leading axis of {s} (one per "
                     f"network); got leaf shapes {sorted({np.shape(v) for v in jax.tree.leaves(params)})}")


def _batch(config: GWRConfig, xs, name: str) -> tuple[int, int]:
    lead = checks.check_samples(config, xs, name)
    if len(lead) != 2:
        raise ValueError(f"{name} must be [S, T, {config.dim}] (networks, samples, dim); "
                         f"got shape {np.shape(xs)}")
    return lead


def _networks(config: GWRConfig, states: GWRState, s: int) -> None:
    checks.check_state(config, states)
    got = np.shape(states.weights)
    if len(got) != 4 or got[0] != s:
        raise ValueError(f"states must hold {s} networks (weights [S, N, K+1, D] with S = {s}); "
                         f"got weights of shape {got}")


def init_sharded(config: GWRConfig, samples, labels=None, *, params=None, devices=None) -> GWRState:
    """S networks of two nodes each: samples [S, 2, D], labels [S, 2, H] (-1: none)."""
    s, two = _batch(config, samples, "init samples")
    if two != 2:
        raise ValueError(f"init takes exactly two samples per network [S, 2, {config.dim}], "
                         f"got shape {np.shape(samples)}")
    if labels is None:
        labels = np.full((s, 2, config.num_heads), -1, np.int32)
    labels = checks.check_labels(config, labels, (s, 2), "init labels")
    p, ax = _params(config, params, s)
    return sharding.map_subjects(_kernel("init", config), jnp.asarray(samples),
                                 jnp.asarray(labels, jnp.int32), p, in_axes=(0, 0, ax),
                                 mesh=sharding.subject_mesh(devices))


def train_sharded(config: GWRConfig, states: GWRState, xs, ys=None, valid=None, *, epochs: int = 1,
                  remove_isolated: bool = True, params=None, devices=None) -> GWRState:
    """`train` for S networks: xs [S, T, D], ys [S, T, H], valid [S, T] (False: padding).
    params: a `GWRParams` shared by all networks (scalars) or one per network ([S] leaves)."""
    lead = _batch(config, xs, "samples")
    _networks(config, states, lead[0])
    ys, valid = check_train_inputs(config, lead, ys, valid, epochs)
    xs = jnp.asarray(xs)
    block = config.capacity
    if all(is_concrete(a) for a in (states.active, states.num_nodes, states.max_nodes, xs)):
        # The batch runs at its largest member's block; samples padded to a length bucket.
        xs, ys, valid, block = blocks.plan_call(config, states, xs, ys, valid, lead[1], epochs)
    fn = _kernel("train", config, epochs, bool(remove_isolated), block)
    p, ax = _params(config, params, lead[0])
    new = sharding.map_subjects(fn, states, xs, ys, valid, p, in_axes=(0, 0, 0, 0, ax),
                                mesh=sharding.subject_mesh(devices))
    warn_refused(states, new)
    warn_overflow(overflow_counts(states), new)
    checks.warn_nonfinite(new.weights, "train_sharded", "networks")
    return new


def predict_sharded(config: GWRConfig, states: GWRState, xs, *, params=None, devices=None) -> Prediction:
    """`predict` for S networks: xs [S, B, D] → Prediction with leading [S, B]."""
    s, _ = _batch(config, xs, "predict samples")
    _networks(config, states, s)
    p, ax = _params(config, params, s)
    return sharding.map_subjects(_kernel("predict", config), states, jnp.asarray(xs), p,
                                 in_axes=(0, 0, ax), mesh=sharding.subject_mesh(devices))
