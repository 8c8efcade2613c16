"""Training calls: epochs of `lax.scan` over samples, edge pruning, node removal (docs/gwr.md, step 10)."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from clifer_jax.gwr import blocks, checks
from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.params import GWRParams, check_params
from clifer_jax.gwr.state import GWRState, creation_order
from clifer_jax.gwr.step import step


def live_edges(config: GWRConfig, state: GWRState, params: GWRParams | None = None) -> jax.Array:
    """[N, N] bool: the edges that exist, with lazily pruned ones removed (one N×N pass)."""
    max_age = config.max_age if params is None else params.max_age
    return state.edges & ((state.pruned_at - state.edge_birth) <= max_age)


def prune_old_edges(config: GWRConfig, state: GWRState, params: GWRParams | None = None) -> GWRState:
    """Remove edges older than max_age (age = t − birth) from the N×N array. One N×N pass."""
    state = state.replace(pruned_at=state.t)
    return state.replace(edges=live_edges(config, state, params))


def mark_pruned(state: GWRState) -> GWRState:
    """`prune_old_edges` without touching the N×N array: O(1). Edges it would remove
    stop being live (`live_edges`, and the step's neighbour read) at once; the array is
    cleared by the next `prune_old_edges`."""
    return state.replace(pruned_at=state.t)


def remove_isolated_nodes(config: GWRConfig, state: GWRState) -> GWRState:
    """Deactivate nodes without edges, oldest first, never going below 2 nodes.

    "Oldest first" is the reference's order (it walks its compacted arrays, i.e.
    creation order); it decides which isolated nodes stay when the floor of 2 binds.
    Freed slots are zeroed (weights, norms, habituation, histograms, temporal
    links) so that the next insertion writes into a clean slot.
    """
    isolated = state.active & ~jnp.any(state.edges, axis=1)
    return _remove_oldest_first(state, isolated, clear_temporal=True)


def _remove_oldest_first(state: GWRState, isolated: jax.Array, clear_temporal: bool) -> GWRState:
    """Deactivate the `isolated` nodes in creation order while at least 2 nodes stay, and
    zero their slots (the temporal links too when `clear_temporal`: an O(N²) pass)."""
    order = creation_order(state)
    ranked = jnp.cumsum(isolated[order].astype(jnp.int32))           # 1-based among isolated
    rank = jnp.zeros_like(ranked).at[order].set(ranked)              # back to slot order
    remove = isolated & (rank <= jnp.maximum(state.num_nodes - 2, 0))
    keep = ~remove
    kf = keep.astype(state.weights.dtype)
    ki = keep.astype(jnp.int32)
    temporal = state.temporal * ki[:, None] * ki[None, :] if clear_temporal else state.temporal
    return state.replace(
        weights=state.weights * kf[:, None, None],
        sq_norms=state.sq_norms * kf[:, None],
        active=state.active & keep,
        habituation=state.habituation * kf,
        label_hist=state.label_hist * kf[None, :, None],
        temporal=temporal,
        edge_newest=state.edge_newest * ki,
        num_nodes=state.num_nodes - jnp.sum(remove, dtype=jnp.int32),
    )


def with_edge_newest(state: GWRState) -> GWRState:
    """`edge_newest` from the N×N arrays (one pass), for a state whose edges are pruned
    physically (after `train_unchecked`): the start of a sequence of `lazy_call`s."""
    newest = jnp.max(jnp.where(state.edges, state.edge_birth, 0), axis=-1)
    return state.replace(edge_newest=newest.astype(jnp.int32))


def remove_isolated_lazily(config: GWRConfig, state: GWRState,
                           params: GWRParams | None = None) -> GWRState:
    """`remove_isolated_nodes` in O(N) inside a sequence of `lazy_call`s (started by
    `with_edge_newest`): a node is isolated when its newest edge has expired
    (`GWRState.edge_newest`), and the removed nodes' temporal
    links stay in the N×N array (a later insertion into the slot clears them; so does
    `finish_lazily`). Edges need not be pruned physically first."""
    max_age = config.max_age if params is None else params.max_age
    linked = (state.edge_newest > 0) & ((state.pruned_at - state.edge_newest) <= max_age)
    isolated = state.active & ~linked
    return _remove_oldest_first(state, isolated, clear_temporal=False)


def finish_lazily(config: GWRConfig, state: GWRState, params: GWRParams | None = None) -> GWRState:
    """After calls that ended with `remove_isolated_lazily`: the edge pruning made physical,
    the removed nodes' temporal links cleared (two N×N passes, once) and `edge_newest`
    back to zero (its value outside a pass)."""
    state = prune_old_edges(config, state, params)
    act = state.active.astype(state.temporal.dtype)
    return state.replace(temporal=state.temporal * act[:, None] * act[None, :],
                         edge_newest=jnp.zeros_like(state.edge_newest))


def lazy_call(config: GWRConfig, state: GWRState, xs, ys, valid, epochs: int,
              params: GWRParams | None = None, run: jax.Array = True) -> GWRState:
    """A training call (`train_unchecked` with node removal) whose end costs O(N), not
    O(N²): pruning stays lazy and removal is `remove_isolated_lazily`. `with_edge_newest`,
    then a sequence of such calls, then `finish_lazily` equals the same `train_unchecked`
    calls. With `run`
    False it changes nothing (every step invalid, the context kept)."""
    run = jnp.asarray(run, bool)
    valid = valid.astype(bool) & run

    def sample(st, inp):
        x, y, v = inp
        return step(config, st, x, y, v, params, lazy=True), None

    def epoch(st, _):
        st, _ = jax.lax.scan(sample, st, (xs, ys.astype(jnp.int32), valid))
        return mark_pruned(st), None

    fresh = start_call(state)
    state = state.replace(prev_bmu=jnp.where(run, fresh.prev_bmu, state.prev_bmu),
                          prev_weights=jnp.where(run, fresh.prev_weights, state.prev_weights))
    state, _ = jax.lax.scan(epoch, state, None, length=epochs)
    return remove_isolated_lazily(config, state, params)


def start_call(state: GWRState) -> GWRState:
    """No previous BMU at the start of a training call: zero context (docs/gwr.md)."""
    return state.replace(prev_bmu=jnp.full_like(state.prev_bmu, -1),
                         prev_weights=jnp.zeros_like(state.prev_weights))


def train_unchecked(config: GWRConfig, state: GWRState, xs: jax.Array, ys: jax.Array,
                    valid: jax.Array, epochs: int = 1, remove_isolated: bool = True,
                    params: GWRParams | None = None) -> GWRState:
    """`epochs` in-order passes over xs [T, D], ys [T, H], valid [T]. Pure; no validation.
    params: traced numbers (None: the config's values)."""
    ys = ys.astype(jnp.int32)
    valid = valid.astype(bool)

    def sample(st, inp):
        x, y, v = inp
        return step(config, st, x, y, v, params), None

    def epoch(st, _):
        st, _ = jax.lax.scan(sample, st, (xs, ys, valid))
        return mark_pruned(st), None

    state = start_call(state)
    state, _ = jax.lax.scan(epoch, state, None, length=epochs)
    # One N×N pass per call, not per epoch: the last epoch's pruning, made physical.
    state = prune_old_edges(config, state, params)
    return remove_isolated_nodes(config, state) if remove_isolated else state


def train(config: GWRConfig, state: GWRState, xs, ys=None, valid=None, *, epochs: int = 1,
          remove_isolated: bool = True, params: GWRParams | None = None,
          donate: bool = False) -> GWRState:
    """Train one network on a sequence of samples.

    Args:
      config: static hyperparameters.
      state: network state (from `init`).
      xs: [T, D] samples, in order.
      ys: [T, H] int labels per head, -1 for none (default: all unlabelled).
      valid: [T] bool; an invalid (padding) step leaves the state unchanged.
      epochs: passes over the samples; old edges are pruned after each.
      remove_isolated: deactivate nodes left without edges at the end.
      params: the traced numbers (`GWRParams`; None: `config.params()`).
      donate: hand `state`'s buffers over to the result (the caller must not use
        `state` again). Without it the call copies the whole state (O(N²) bytes).

    The cost follows the nodes, not the capacity: the call runs on the leading block of
    slots it can reach and pads xs to a length bucket (docs/gwr.md, "Capacity headroom"),
    with the same result as on the whole state. Composes under jit/vmap (then the whole
    capacity is used): values are checked only when concrete. When called eagerly, warns
    if insertions were refused because the network was full.
    """
    checks.check_state(config, state)
    if params is not None:
        check_params(params)
    lead = checks.check_samples(config, xs)
    if len(lead) != 1:
        raise ValueError(f"train takes one sequence xs [T, D]; got shape {np.shape(xs)} "
                         f"(use jax.vmap over networks for a batch)")
    ys, valid = check_train_inputs(config, lead, ys, valid, epochs)
    xs = jnp.asarray(xs)
    refused_before = checks.host_value(state.refused_insertions)
    block = config.capacity
    if all(checks.is_concrete(a) for a in (state.active, state.num_nodes, state.max_nodes, xs)):
        xs, ys, valid, block = blocks.plan_call(config, state, xs, ys, valid, lead[0], epochs)
    fn = _train_block_jit_donated if donate else _train_block_jit
    new = fn(config, state, xs, ys, valid, params, epochs=epochs,
             remove_isolated=remove_isolated, block=block)
    warn_refused(refused_before, new)
    return new


def _train_block_impl(config, state, xs, ys, valid, params, epochs, remove_isolated, block):
    """`train_unchecked` on the leading `block` slots, written back into the state."""
    part = train_unchecked(blocks.block_config(config, block), blocks.take_block(state, block),
                           xs, ys, valid, epochs=epochs, remove_isolated=remove_isolated,
                           params=params)
    return blocks.put_block(state, part)


_STATIC = ("config", "epochs", "remove_isolated", "block")
_train_block_jit = jax.jit(_train_block_impl, static_argnames=_STATIC)
_train_block_jit_donated = jax.jit(_train_block_impl, static_argnames=_STATIC, donate_argnames=("state",))


def check_train_inputs(config: GWRConfig, lead: tuple[int, ...], ys, valid, epochs):
    """Labels [*lead, H] (default: none) and validity [*lead] (default: all) → jax arrays;
    epochs a positive int."""
    if ys is None:
        ys = jnp.full(lead + (config.num_heads,), -1, jnp.int32)
    checks.check_labels(config, ys, lead)
    if valid is None:
        valid = jnp.ones(lead, bool)
    checks.check_valid(valid, lead)
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    return jnp.asarray(ys, jnp.int32), jnp.asarray(valid, bool)


def warn_refused(before, after: GWRState) -> None:
    """Warn (when the counters can be read) if insertions were refused between two states
    (`before`: a state, or its refused-insertion count read earlier)."""
    before = getattr(before, "refused_insertions", before)
    if before is None:
        return
    a, b = checks.host_value(after.refused_insertions), checks.host_value(before)
    if a is not None and b is not None:
        refused = int(np.sum(a) - np.sum(b))
        if refused > 0:
            warnings.warn(f"GWR network full: {refused} insertions refused "
                          f"(max_nodes={checks.host_value(after.max_nodes).tolist()}); those samples "
                          f"adapted their BMU instead", RuntimeWarning, stacklevel=3)
