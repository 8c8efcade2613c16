"""Training calls: epochs of `lax.scan` over samples, then the call's end (`call_end`)."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from clifer_jax.gwr import blocks, checks
from clifer_jax.validate import host_value, is_concrete
from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.params import GWRParams, check_params
from clifer_jax.gwr.call_end import end_call, mark_pruned
from clifer_jax.gwr.state import GWRState
from clifer_jax.gwr.step import step_unchecked


def start_call(state: GWRState) -> GWRState:
    """No previous BMU at the start of a training call: zero context (docs/gwr.md)."""
    return state.replace(prev_bmu=jnp.full_like(state.prev_bmu, -1),
                         prev_weights=jnp.zeros_like(state.prev_weights))


def train_unchecked(config: GWRConfig, params: GWRParams, state: GWRState, xs: jax.Array,
                    ys: jax.Array, valid: jax.Array, epochs: int = 1,
                    remove_isolated: bool = True) -> GWRState:
    """`epochs` in-order passes over xs [T, D], ys [T, H], valid [T]. Pure; no validation."""
    ys = ys.astype(jnp.int32)
    valid = valid.astype(bool)

    def sample(st, inp):
        x, y, v = inp
        return step_unchecked(config, params, st, x, y, v), None

    def epoch(st, _):
        st, _ = jax.lax.scan(sample, st, (xs, ys, valid))
        return mark_pruned(st), None

    state = start_call(state)
    state, _ = jax.lax.scan(epoch, state, None, length=epochs)
    # Once per call, not per epoch: the last epoch's pruning, made physical.
    return end_call(config, params, state, remove_isolated)


def train(config: GWRConfig, state: GWRState, xs, ys=None, valid=None, *, epochs: int = 1,
          remove_isolated: bool = True, params: GWRParams | None = None,
          donate: bool = False) -> GWRState:
    """Train one network on a sequence of samples.

    Args:
      config: static hyperparameters.
      state: network state (from `init`).
      xs: [T, D] samples, in order.
      ys: [T, H] int labels per head, -1 for none ([T] for one head; default: all unlabelled).
      valid: [T] bool; an invalid (padding) step leaves the state unchanged.
      epochs: passes over the samples; old edges are pruned after each.
      remove_isolated: deactivate nodes left without edges at the end.
      params: the traced numbers (`GWRParams`; None: `GWRParams()`, the reference
        episodic memory's).
      donate: hand `state`'s buffers over to the result (the caller must not use
        `state` again). Without it the call copies the state (O(N·(D + k)) bytes).

    The cost follows the nodes, not the capacity: the call runs on the leading block of
    slots it can reach and pads xs to a length bucket (docs/gwr.md, "Capacity headroom"),
    with the same result as on the whole state. Composes under jit/vmap (then the whole
    capacity is used): values are checked only when concrete. When called eagerly, warns
    if insertions were refused because the network was full.
    """
    checks.check_state(config, state)
    params = GWRParams() if params is None else params
    check_params(params)
    lead = checks.check_samples(config, xs)
    if len(lead) != 1:
        raise ValueError(f"train takes one sequence xs [T, D]; got shape {np.shape(xs)} "
                         f"(use jax.vmap over networks for a batch)")
    ys, valid = check_train_inputs(config, lead, ys, valid, epochs)
    xs = jnp.asarray(xs)
    refused_before = host_value(state.refused_insertions)
    overflow_before = overflow_counts(state)
    block = config.capacity
    if all(is_concrete(a) for a in (state.active, state.num_nodes, state.max_nodes, xs)):
        xs, ys, valid, block = blocks.plan_call(config, state, xs, ys, valid, lead[0], epochs)
    fn = _train_block_jit_donated if donate else _train_block_jit
    new = fn(config, params.cast(config.dtype), state, xs, ys, valid, epochs=epochs,
             remove_isolated=remove_isolated, block=block)
    warn_refused(refused_before, new)
    warn_overflow(overflow_before, new)
    checks.warn_nonfinite(new.weights, "train")
    return new


def _train_block_impl(config, params, state, xs, ys, valid, epochs, remove_isolated, block):
    """`train_unchecked` on the leading `block` slots, written back into the state."""
    part = train_unchecked(blocks.block_config(config, block), params, blocks.take_block(state, block),
                           xs, ys, valid, epochs=epochs, remove_isolated=remove_isolated)
    return blocks.put_block(state, part)


_STATIC = ("config", "epochs", "remove_isolated", "block")
_train_block_jit = jax.jit(_train_block_impl, static_argnames=_STATIC)
_train_block_jit_donated = jax.jit(_train_block_impl, static_argnames=_STATIC, donate_argnames=("state",))


def check_train_inputs(config: GWRConfig, lead: tuple[int, ...], ys, valid, epochs):
    """Labels [*lead, H] ([*lead] for one head; default: none) and validity [*lead]
    (default: all) → jax arrays; epochs a positive int."""
    if ys is None:
        ys = jnp.full(lead + (config.num_heads,), -1, jnp.int32)
    ys = checks.check_labels(config, ys, lead)
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
    a, b = host_value(after.refused_insertions), host_value(before)
    if a is not None and b is not None:
        refused = int(np.sum(a) - np.sum(b))
        if refused > 0:
            warnings.warn(f"GWR network full: {refused} insertions refused "
                          f"(max_nodes={host_value(after.max_nodes).tolist()}); those samples "
                          f"adapted their BMU instead", RuntimeWarning, stacklevel=3)


def overflow_counts(state: GWRState):
    """(edges, temporal links) that gave way so far, summed over a batch; None when traced."""
    e, t = host_value(state.edge_overflow), host_value(state.temporal_overflow)
    return None if e is None or t is None else (int(np.sum(e)), int(np.sum(t)))


def warn_overflow(before, after: GWRState) -> None:
    """Warn when a call made edges or temporal links give way (a node needed more than
    max_degree of them; docs/gwr.md, "Topology")."""
    now = overflow_counts(after)
    if before is None or now is None:
        return
    edges, links = now[0] - before[0], now[1] - before[1]
    if edges or links:
        warnings.warn(f"GWR neighbour lists full: {edges} edges and {links} temporal links gave way "
                      f"(a node needed more than max_degree of them); raise max_degree to keep them",
                      RuntimeWarning, stacklevel=3)
