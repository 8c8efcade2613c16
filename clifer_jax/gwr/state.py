"""The Gamma-GWR state: fixed-capacity masked arrays in one pytree (docs/gwr.md)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from clifer_jax.gwr import checks
from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.params import GWRParams, check_params
from clifer_jax.validate import check_fits, tree_bytes


@struct.dataclass
class GWRState:
    """All evolving quantities of one network. N = capacity, K+1 = depth.

    Invariants kept by every update: inactive slots hold zero weights, norms,
    habituation, histograms and temporal counts and have no edges, so growth
    is a write into a clean slot (never a resize).

    Attributes:
      weights: [N, K+1, D] node prototypes; row 0 input part, rows 1..K context.
      sq_norms: [N, K+1] cached squared norms of the weight rows (distances by matmul).
      active: [N] bool, slot holds a node.
      habituation: [N] firing counter h.
      edges: [N, N] bool, symmetric topology as written by the steps; an edge is live
        while pruned_at − edge_birth ≤ max_age (see `live_edges`).
      edge_birth: [N, N] int32, update-clock value at which the edge was (re)set;
        age = t - edge_birth, so aging never touches the N×N array.
      temporal: [N, N] int32, count of BMU transitions i -> j.
      label_hist: [H, N, C] associative label histograms.
      prev_weights: [K+1, D] BMU weights of the previous sample (zero: none).
      prev_bmu: [] int32, BMU of the previous sample (-1: none).
      t: [] int32, update steps taken (the edge-age clock).
      pruned_at: [] int32, clock of the last end-of-epoch pruning. Pruning inside a
        training call only sets this (O(1)); the N×N `edges` array is cleared once, at
        the end of the call, so after `train` it holds exactly the live edges.
      num_nodes: [] int32, number of active slots.
      max_nodes: [] int32, node limit of this network (<= N).
      refused_insertions: [] int32, insertions refused because the network was full.
      degree_overflow: [] int32, steps whose BMU had more than max_degree neighbours.
      created: [N] int32, creation stamp of the node in each slot (the value of `next_id`
        when it was inserted; the initial nodes are 0 and 1). A freed slot keeps its old
        stamp, masked by `active`. The reference compacts its arrays, so its node order is
        creation order; `creation_order` recovers that order (docs/gwr.md).
      next_id: [] int32, the stamp the next inserted node gets.
      edge_newest: [N] int32, the largest `edge_birth` of each node's edges (`NO_EDGE`:
        none), kept by every step. The edge written last at a node is never removed before
        it expires (an insertion that removes b–s links both to the new node at once), so
        a node has a live edge iff pruned_at − edge_newest ≤ max_age: isolation in O(N),
        without the N×N arrays (`call_end.end_call`). After a call's end it is `NO_EDGE`
        at the nodes without edges.
      edge_log: [L, 4] int32 (L = config.edge_log), the edges set by the update step at
        each clock value τ (row τ mod L): (b, s, ·, ·) when adapting, (b, r, s, r) when
        inserting, `LOG_NONE` where there is none. Every expired edge still in `edges`
        was set at a clock value in [pruned_below, t − max_age), so while t − pruned_below
        < L the log finds them all: the end of a call prunes in O(L), not O(N²).
      pruned_below: [] int32, every edge in `edges` was set at or after this clock value
        (the largest threshold t − max_age of a physical pruning so far); `UNINDEXED`
        until the first call's end has made one N×N pass, and again after `reindex_edges`.
      unlogged_until: [] int32, the latest birth of an edge in `edges` that no row of the
        log names (an edge written by hand), as the last N×N pass found it (`NO_EDGE`:
        none). The log covers the state only once the pruning threshold has passed it, so
        such an edge is pruned by an N×N pass when it expires.
      full_passes: [] int32, call ends that fell back to a pass over the N×N arrays (the
        log did not reach back far enough, an edge was written by hand, or more than
        max_degree nodes were removed).
    """

    weights: jax.Array
    sq_norms: jax.Array
    active: jax.Array
    habituation: jax.Array
    edges: jax.Array
    edge_birth: jax.Array
    temporal: jax.Array
    label_hist: jax.Array
    prev_weights: jax.Array
    prev_bmu: jax.Array
    t: jax.Array
    pruned_at: jax.Array
    num_nodes: jax.Array
    max_nodes: jax.Array
    refused_insertions: jax.Array
    degree_overflow: jax.Array
    created: jax.Array
    next_id: jax.Array
    edge_newest: jax.Array
    edge_log: jax.Array
    pruned_below: jax.Array
    unlogged_until: jax.Array
    full_passes: jax.Array


# Index written into `edge_log` where a step set no edge: out of range of every block and
# capacity, so gathers fill and scatters drop.
LOG_NONE = 1 << 30
# `pruned_below` of a state whose edges the log may not name (new, or edited by hand).
UNINDEXED = -(1 << 30)
# `edge_newest` of a node without edges, `unlogged_until` of a state without unlogged
# edges: below every clock value, also the births a user may write by hand (0, negative).
NO_EDGE = -(1 << 30)


def label_rows(config: GWRConfig, labels: jax.Array, a_inc) -> jax.Array:
    """a_inc · onehot(y_l) per head; a row of zeros for y_l = -1. labels [..., H] -> [..., H, C]."""
    return a_inc * jax.nn.one_hot(labels, config.num_classes, dtype=config.jnp_dtype)


def empty(config: GWRConfig) -> GWRState:
    """A network with no nodes (use `init` for a trainable one)."""
    n, k1, d, h, c = config.capacity, config.depth, config.dim, config.num_heads, config.num_classes
    dt = config.jnp_dtype
    i32 = jnp.int32
    return GWRState(
        weights=jnp.zeros((n, k1, d), dt),
        sq_norms=jnp.zeros((n, k1), dt),
        active=jnp.zeros((n,), bool),
        habituation=jnp.zeros((n,), dt),
        edges=jnp.zeros((n, n), bool),
        edge_birth=jnp.zeros((n, n), i32),
        temporal=jnp.zeros((n, n), i32),
        label_hist=jnp.zeros((h, n, c), dt),
        prev_weights=jnp.zeros((k1, d), dt),
        prev_bmu=jnp.array(-1, i32),
        t=jnp.array(0, i32),
        pruned_at=jnp.array(0, i32),
        num_nodes=jnp.array(0, i32),
        max_nodes=jnp.array(config.max_nodes, i32),
        refused_insertions=jnp.array(0, i32),
        degree_overflow=jnp.array(0, i32),
        created=jnp.zeros((n,), i32),
        next_id=jnp.array(0, i32),
        edge_newest=jnp.full((n,), NO_EDGE, i32),
        edge_log=jnp.full((config.edge_log, 4), LOG_NONE, i32),
        pruned_below=jnp.array(UNINDEXED, i32),
        unlogged_until=jnp.array(NO_EDGE, i32),
        full_passes=jnp.array(0, i32),
    )


def init_unchecked(config: GWRConfig, params: GWRParams, samples: jax.Array,
                   labels: jax.Array) -> GWRState:
    """Two nodes from two samples, each with its own vector and labels.

    samples [2, D], labels [2, H] (-1: unlabelled). Context rows start at zero,
    habituation at 1, no edges (the reference's self-loops are not copied).
    Of the params only a_inc is read (the initial histograms).
    """
    state = empty(config)
    a_inc = params.cast(config.dtype).a_inc
    w0 = jnp.zeros((2, config.depth, config.dim), config.jnp_dtype)
    w0 = w0.at[:, 0].set(samples.astype(config.jnp_dtype))
    return state.replace(
        weights=state.weights.at[:2].set(w0),
        sq_norms=state.sq_norms.at[:2].set(jnp.sum(w0 * w0, axis=-1)),
        active=state.active.at[:2].set(True),
        habituation=state.habituation.at[:2].set(1.0),
        label_hist=state.label_hist.at[:, :2].set(jnp.swapaxes(label_rows(config, labels, a_inc), 0, 1)),
        num_nodes=jnp.array(2, jnp.int32),
        created=state.created.at[:2].set(jnp.arange(2, dtype=jnp.int32)),
        next_id=jnp.array(2, jnp.int32),
    )


def reindex_edges(state: GWRState) -> GWRState:
    """After editing `edges`/`edge_birth` by hand: the next training call's end makes one
    pass over the N×N arrays, which prunes the expired edges, rebuilds `edge_newest` and
    finds the edges no log row names; calls take that pass again until those have expired
    (docs/gwr.md, "The end of a call"). Batched states are fine."""
    if not isinstance(state, GWRState):
        raise TypeError(f"reindex_edges takes a GWRState, got {type(state).__name__}")
    return state.replace(pruned_below=jnp.full_like(state.pruned_below, UNINDEXED))


def creation_order(state: GWRState) -> jax.Array:
    """Slot indices [N]: the active nodes from oldest to newest, then the free slots in
    slot order. `state.weights[creation_order(state)]` lists the nodes as the reference
    (which compacts its arrays on removal) holds them. One stable argsort of N; works on a
    vmapped batch of states (indices per network along the last axis)."""
    key = jnp.where(state.active, state.created, jnp.iinfo(jnp.int32).max)
    return jnp.argsort(key, axis=-1, stable=True).astype(jnp.int32)


def with_max_nodes(state: GWRState, max_nodes) -> GWRState:
    """Change the node limit (a traced int is fine; it is clipped to [2, N])."""
    n = state.active.shape[-1]
    return state.replace(max_nodes=jnp.clip(jnp.asarray(max_nodes, jnp.int32), 2, n))


def init(config: GWRConfig, samples, labels=None, params: GWRParams | None = None) -> GWRState:
    """Validated `init_unchecked`: samples [2, D] finite, labels [2, H] (or [2] with one
    head) in [-1, C); params: a `GWRParams` (None: `GWRParams()`, the reference episodic
    memory's numbers)."""
    params = GWRParams() if params is None else params
    check_params(params)
    lead = checks.check_samples(config, samples, "init samples")
    if lead != (2,):
        raise ValueError(f"init takes exactly two samples [2, {config.dim}], got shape {jnp.shape(samples)}")
    if labels is None:
        labels = jnp.full((2, config.num_heads), -1, jnp.int32)
    labels = checks.check_labels(config, labels, lead, "init labels")
    check_fits(tree_bytes(jax.eval_shape(lambda: empty(config))), f"a network of capacity {config.capacity}",
               "lower the capacity (a state is about 9·N² bytes; docs/scaling.md)")
    return init_unchecked(config, params.cast(config.dtype), jnp.asarray(samples),
                          jnp.asarray(labels, jnp.int32))
