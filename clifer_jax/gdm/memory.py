"""The Growing Dual Memory: episodic + semantic Gamma-GWR, one class step at a time (docs/design.md).

All functions are pure and jit-compiled with static shapes: a class step's data
arrives padded to a fixed length L with a validity mask, so one compiled
function serves every subject and step, and `jax.vmap` runs all subjects at once.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from clifer_jax import gwr
from clifer_jax.gdm.config import GDMConfig, GDMParams
from clifer_jax.gdm.replay import PseudoSamples, pseudo_samples_unchecked
from clifer_jax.gwr import blocks
from clifer_jax.gwr.state import GWRState
from clifer_jax.validate import tree_bytes


@struct.dataclass
class GDMState:
    """episodic, semantic: the two memories; samples_seen: valid samples learned so
    far (drives the node limits); steps: class steps learned."""

    episodic: GWRState
    semantic: GWRState
    samples_seen: jax.Array
    steps: jax.Array


@struct.dataclass
class GDMPrediction:
    episodic: gwr.Prediction
    semantic: gwr.Prediction


def _heads(y: jax.Array, heads: int) -> jax.Array:
    """Class labels [...] -> [..., heads] (every head is the expression)."""
    return jnp.repeat(y[..., None], heads, axis=-1).astype(jnp.int32)


def init_unchecked(config: GDMConfig, params: GDMParams, x: jax.Array, y: jax.Array,
                   mask: jax.Array) -> GDMState:
    """Both memories start from the first two valid samples of x [L, D], y [L], mask [L].
    params (here and below): both memories' traced numbers."""
    first = jnp.nonzero(mask, size=2, fill_value=0)[0]
    x2, y2 = x[first], y[first]
    return GDMState(
        episodic=gwr.init_unchecked(config.episodic, params.episodic, x2,
                                    _heads(y2, config.episodic.num_heads)),
        semantic=gwr.init_unchecked(config.semantic, params.semantic, x2,
                                    _heads(y2, config.semantic.num_heads)),
        samples_seen=jnp.array(0, jnp.int32),
        steps=jnp.array(0, jnp.int32),
    )


def _set_limits(config: GDMConfig, state: GDMState, n_new: jax.Array) -> GDMState:
    seen = state.samples_seen + n_new
    if config.grow_max_nodes:
        ep_max, se_max = seen, seen // 2
    else:   # the reference: frozen from the first class step
        first = state.steps == 0
        ep_max = jnp.where(first, n_new, state.episodic.max_nodes)
        se_max = jnp.where(first, n_new // 2, state.semantic.max_nodes)
    return state.replace(
        episodic=gwr.with_max_nodes(state.episodic, ep_max),
        semantic=gwr.with_max_nodes(state.semantic, se_max),
        samples_seen=seen,
    )


def _train_both(config: GDMConfig, params: GDMParams, ep: GWRState, se: GWRState, x, y, valid,
                epochs: int):
    """Both memories on the same labelled samples, one training call each."""
    ep = gwr.train_unchecked(config.episodic, params.episodic, ep, x, _heads(y, config.episodic.num_heads),
                             valid, epochs=epochs)
    se = gwr.train_unchecked(config.semantic, params.semantic, se, x, _heads(y, config.semantic.num_heads),
                             valid, epochs=epochs)
    return ep, se


REPLAY_CHUNK = 8   # trajectories per iteration of the replay pass's loop


def replay_unchecked(config: GDMConfig, params: GDMParams, ep: GWRState, se: GWRState,
                     pseudo: PseudoSamples):
    """Train both memories on every valid trajectory, one training call per trajectory,
    in the order of `pseudo` (`pseudo_samples` gives the nodes' creation order, the
    reference's).

    The pass is one loop: trajectories are compacted first (stably, so their order is
    kept) and run REPLAY_CHUNK at a time (a `scan` inside a `while_loop` that stops after
    the last valid one; under `vmap` a chunk costs one select over the state, not one per
    trajectory). A slot past the last trajectory runs a call with no valid step and keeps
    the memories' context: it changes nothing."""

    n = pseudo.valid.shape[0]
    size = -(-n // REPLAY_CHUNK) * REPLAY_CHUNK
    order = jnp.argsort(~pseudo.valid, stable=True)
    xs = jnp.pad(pseudo.samples[order], ((0, size - n), (0, 0), (0, 0)))
    ys = jnp.pad(pseudo.labels[order], ((0, size - n), (0, 0)))
    count = jnp.sum(pseudo.valid, dtype=jnp.int32)
    steps = jnp.ones(ys.shape[1:], bool)
    e_cfg, s_cfg, epochs = config.episodic, config.semantic, config.replay_epochs

    def trajectory(carry, inp):
        ep, se = carry
        x, y, run = inp
        ep = _replay_call(e_cfg, params.episodic, ep, x, y, steps & run, epochs)
        se = _replay_call(s_cfg, params.semantic, se, x, y, steps & run, epochs)
        return (ep, se), None

    def chunk(carry):
        i, ep, se = carry
        start = i * REPLAY_CHUNK
        x = jax.lax.dynamic_slice_in_dim(xs, start, REPLAY_CHUNK)
        y = jax.lax.dynamic_slice_in_dim(ys, start, REPLAY_CHUNK)
        run = start + jnp.arange(REPLAY_CHUNK) < count
        (ep, se), _ = jax.lax.scan(trajectory, (ep, se), (x, y, run))
        return i + 1, ep, se

    _, ep, se = jax.lax.while_loop(lambda c: c[0] * REPLAY_CHUNK < count, chunk,
                                   (jnp.array(0, jnp.int32), ep, se))
    return ep, se


def _replay_call(config: gwr.GWRConfig, params: gwr.GWRParams, state: GWRState, x, y, valid,
                 epochs: int) -> GWRState:
    """One trajectory's training call; with no valid step the context is kept too (a
    call with no valid step changes nothing else: its end finds nothing to prune)."""
    new = gwr.train_unchecked(config, params, state, x, _heads(y, config.num_heads), valid, epochs=epochs)
    ran = jnp.any(valid)
    return new.replace(prev_bmu=jnp.where(ran, new.prev_bmu, state.prev_bmu),
                       prev_weights=jnp.where(ran, new.prev_weights, state.prev_weights))


def learn_class_unchecked(config: GDMConfig, params: GDMParams, state: GDMState, x: jax.Array,
                          y: jax.Array, mask: jax.Array, replay: bool = False) -> GDMState:
    """One class step: x [L, D], y [L], mask [L].

    The valid samples, in order, are cut into mini-batches; each trains the episodic memory, then
    the semantic memory on the episodic BMUs' weights and labels (docs/design.md), then,
    with `replay` (static: GDM + replay), both memories on the previous mini-batch's
    pseudo-samples."""
    return _learn_class_body(config, params, _set_limits(config, state, jnp.sum(mask, dtype=jnp.int32)),
                             x, y, mask, replay)


def _learn_class_body(config: GDMConfig, params: GDMParams, state: GDMState, x, y, mask,
                      replay: bool) -> GDMState:
    """`learn_class_unchecked` after the node limits are set."""
    bs = config.batch_size
    # Valid samples first, in their order, so mini-batches never straddle padding.
    order = jnp.argsort(~mask.astype(bool), stable=True)
    x, y, mask = x[order], y[order], mask[order]
    pad = (-x.shape[0]) % bs
    x = jnp.pad(x, ((0, pad), (0, 0)))
    y = jnp.pad(y.astype(jnp.int32), (0, pad))
    mask = jnp.pad(mask.astype(bool), (0, pad))
    xb = x.reshape(-1, bs, x.shape[-1])
    yb = y.reshape(-1, bs)
    mb = mask.reshape(-1, bs)

    n_e, t_len = config.episodic.capacity, config.trajectory_length
    no_pseudo = PseudoSamples(samples=jnp.zeros((n_e, t_len, config.dim), config.episodic.jnp_dtype),
                              labels=jnp.zeros((n_e, t_len), jnp.int32),
                              valid=jnp.zeros((n_e,), bool))

    def minibatch(carry, batch):
        ep0, se0, pseudo = carry
        ep, se = ep0, se0
        xs, ys, ms = batch
        any_valid = jnp.any(ms)
        ep = gwr.train_unchecked(config.episodic, params.episodic, ep, xs,
                                 _heads(ys, config.episodic.num_heads), ms, epochs=config.epochs)
        bmu = gwr.predict_unchecked(config.episodic, params.episodic, ep, xs)
        se = gwr.train_unchecked(config.semantic, params.semantic, se, bmu.weights[:, 0],
                                 _heads(bmu.labels[:, 0], config.semantic.num_heads), ms,
                                 epochs=config.epochs)
        if replay:                           # an all-padding mini-batch replays nothing
            ep, se = replay_unchecked(config, params, ep, se,
                                      pseudo.replace(valid=pseudo.valid & any_valid))
            fresh = pseudo_samples_unchecked(ep, t_len)
            pseudo = jax.tree.map(lambda a, b: jnp.where(any_valid, a, b), fresh, pseudo)
        # An all-padding mini-batch changes nothing but the context its calls reset; keep
        # the last real one's, so that padding a class step (length buckets) is invisible.
        ep, se = (m.replace(prev_weights=jnp.where(any_valid, m.prev_weights, m0.prev_weights),
                            prev_bmu=jnp.where(any_valid, m.prev_bmu, m0.prev_bmu))
                  for m, m0 in ((ep, ep0), (se, se0)))
        return (ep, se, pseudo), None

    (ep, se, _), _ = jax.lax.scan(minibatch, (state.episodic, state.semantic, no_pseudo), (xb, yb, mb))
    return state.replace(episodic=ep, semantic=se, steps=state.steps + 1)


def learn_extra_unchecked(config: GDMConfig, params: GDMParams, state: GDMState, x: jax.Array,
                          y: jax.Array, mask: jax.Array, epochs: int | None = None) -> GDMState:
    """Train both memories on an extra labelled set x [M, D], y [M], mask [M] in one call
    each, `epochs` (static; None: `config.extra_epochs`) epochs (CLIFER's imagination step
    uses this; docs/design.md)."""
    ep, se = _train_both(config, params, state.episodic, state.semantic, x, y, mask.astype(bool),
                         epochs or config.extra_epochs)
    return state.replace(episodic=ep, semantic=se)


def predict_unchecked(config: GDMConfig, params: GDMParams, state: GDMState,
                      x: jax.Array) -> GDMPrediction:
    """Both memories on raw features x [B, D]."""
    return GDMPrediction(
        episodic=gwr.predict_unchecked(config.episodic, params.episodic, state.episodic, x),
        semantic=gwr.predict_unchecked(config.semantic, params.semantic, state.semantic, x))


def state_bytes(config: GDMConfig, subjects: int = 1) -> int:
    """Bytes of `subjects` GDM states (both memories; from shapes, nothing allocated)."""
    shapes = jax.eval_shape(lambda: init_unchecked(config, GDMParams().cast(config.dtype),
                                                   jnp.zeros((2, config.dim)), jnp.zeros((2,), jnp.int32),
                                                   jnp.ones((2,), bool)))
    return subjects * tree_bytes(shapes)


# Blocks: the kernels on the leading slots the call can reach (docs/gwr.md, "Capacity
# headroom"); the same results, at a cost that follows the nodes, not the capacity.

def block_configs(config: GDMConfig, sizes: tuple[int, int]) -> GDMConfig:
    """The config of the block view (`gwr.blocks.block_config`)."""
    if sizes == (config.episodic.capacity, config.semantic.capacity):
        return config
    return config.replace(capacity=sizes[0], semantic_capacity=sizes[1])


def _view(state: GDMState, sizes) -> GDMState:
    return state.replace(episodic=blocks.take_block(state.episodic, sizes[0]),
                         semantic=blocks.take_block(state.semantic, sizes[1]))


def _back(full: GDMState, part: GDMState) -> GDMState:
    return part.replace(episodic=blocks.put_block(full.episodic, part.episodic),
                        semantic=blocks.put_block(full.semantic, part.semantic))


def learn_class_block(config: GDMConfig, sizes: tuple[int, int], replay: bool, params: GDMParams,
                      state: GDMState, x, y, mask) -> GDMState:
    """`learn_class_unchecked` run on the leading `sizes` = (episodic, semantic) slots.
    Equal to it when the sizes hold the high-water marks and the node limits of the step
    (`needed_blocks`)."""
    limited = _set_limits(config, state, jnp.sum(mask, dtype=jnp.int32))
    out = _learn_class_body(block_configs(config, sizes), params, _view(limited, sizes), x, y, mask, replay)
    return _back(limited, out)


def learn_extra_block(config: GDMConfig, sizes: tuple[int, int], epochs: int | None, params: GDMParams,
                      state: GDMState, x, y, mask) -> GDMState:
    """`learn_extra_unchecked` run on the leading `sizes` slots."""
    out = learn_extra_unchecked(block_configs(config, sizes), params, _view(state, sizes), x, y, mask,
                                epochs)
    return _back(state, out)


def needed_blocks(config: GDMConfig, state: GDMState, n_new: int | None) -> tuple[int, int]:
    """Block sizes (episodic, semantic) for a call on a concrete state (one subject or a
    batch: the largest member decides). n_new: valid samples of a class step (its node
    limits are set first), None for `learn_extra` (limits unchanged)."""
    seen = np.asarray(state.samples_seen)
    out = []
    for name, share in (("episodic", 1), ("semantic", 2)):
        mem, cap = getattr(state, name), getattr(config, name).capacity
        limit = np.asarray(mem.max_nodes)
        if n_new is not None:
            if config.grow_max_nodes:
                limit = (seen + n_new) // share
            else:
                limit = np.where(np.asarray(state.steps) == 0, n_new // share, limit)
        limit = int(np.clip(np.max(limit), 2, cap))
        out.append(blocks.block_size(cap, max(blocks.high_water(mem), limit)))
    return tuple(out)


init_jit = jax.jit(init_unchecked, static_argnums=0)
learn_class_jit = jax.jit(learn_class_block, static_argnums=(0, 1, 2))
learn_class_jit_donated = jax.jit(learn_class_block, static_argnums=(0, 1, 2), donate_argnums=4)
learn_extra_jit = jax.jit(learn_extra_block, static_argnums=(0, 1, 2))
learn_extra_jit_donated = jax.jit(learn_extra_block, static_argnums=(0, 1, 2), donate_argnums=4)
predict_jit = jax.jit(predict_unchecked, static_argnums=0)
