"""The Gamma-GWR state: fixed-capacity masked arrays in one pytree (docs/gwr.md)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from clifer_jax.gwr import checks
from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.params import GWRParams, check_params
from clifer_jax.gwr.topology import EMPTY
from clifer_jax.validate import check_fits, tree_bytes


@struct.dataclass
class GWRState:
    """All evolving quantities of one network. N = capacity, K+1 = depth.

    Invariants kept by every update: inactive slots hold zero weights, norms,
    habituation and histograms and empty edge and successor lists, so growth is a write
    into a clean slot (never a resize). The topology is k = max_degree entries per node
    (`gwr.topology`, docs/gwr.md "Topology"): O(N·k), never N×N.

    Attributes:
      weights: [N, K+1, D] node prototypes; row 0 input part, rows 1..K context.
      sq_norms: [N, K+1] cached squared norms of the weight rows (distances by matmul).
      active: [N] bool, slot holds a node.
      habituation: [N] firing counter h.
      neighbours: [N, k] int32, the other end of each of a node's edges (`EMPTY`: none);
        every edge is listed at both ends.
      edge_birth: [N, k] int32, update-clock value at which the edge was (re)set; age =
        t − birth, so ageing writes nothing. An edge is live while pruned_at − birth ≤ max_age.
      successors: [N, k] int32, the nodes that followed this one as BMU (`EMPTY`: none).
      transitions: [N, k] int32, the count of each of those transitions.
      label_hist: [H, N, C] associative label histograms.
      prev_weights: [K+1, D] BMU weights of the previous sample (zero: none).
      prev_bmu: [] int32, BMU of the previous sample (-1: none).
      t: [] int32, update steps taken (the edge-age clock).
      pruned_at: [] int32, clock of the last end-of-epoch pruning. Inside a training call it
        only masks the edges it expires; the call's end clears them from the lists.
      num_nodes: [] int32, number of active slots.
      max_nodes: [] int32, node limit of this network (<= N).
      refused_insertions: [] int32, insertions refused because the network was full.
      edge_overflow: [] int32, edges that gave way because a node already had k live edges
        (its oldest one; docs/gwr.md "Topology").
      temporal_overflow: [] int32, temporal links that gave way because a node already had
        k successors (the one with the fewest transitions).
      created: [N] int32, creation stamp of the node in each slot (the value of `next_id`
        when it was inserted; the initial nodes are 0 and 1). A freed slot keeps its old
        stamp, masked by `active`. The reference compacts its arrays, so its node order is
        creation order; `creation_order` recovers that order (docs/gwr.md).
      next_id: [] int32, the stamp the next inserted node gets.
    """

    weights: jax.Array
    sq_norms: jax.Array
    active: jax.Array
    habituation: jax.Array
    neighbours: jax.Array
    edge_birth: jax.Array
    successors: jax.Array
    transitions: jax.Array
    label_hist: jax.Array
    prev_weights: jax.Array
    prev_bmu: jax.Array
    t: jax.Array
    pruned_at: jax.Array
    num_nodes: jax.Array
    max_nodes: jax.Array
    refused_insertions: jax.Array
    edge_overflow: jax.Array
    temporal_overflow: jax.Array
    created: jax.Array
    next_id: jax.Array


def label_rows(config: GWRConfig, labels: jax.Array, a_inc) -> jax.Array:
    """a_inc · onehot(y_l) per head; a row of zeros for y_l = -1. labels [..., H] -> [..., H, C]."""
    return a_inc * jax.nn.one_hot(labels, config.num_classes, dtype=config.jnp_dtype)


def empty(config: GWRConfig) -> GWRState:
    """A network with no nodes (use `init` for a trainable one)."""
    n, k1, d, h, c = config.capacity, config.depth, config.dim, config.num_heads, config.num_classes
    k = config.max_degree
    dt = config.jnp_dtype
    i32 = jnp.int32
    return GWRState(
        weights=jnp.zeros((n, k1, d), dt),
        sq_norms=jnp.zeros((n, k1), dt),
        active=jnp.zeros((n,), bool),
        habituation=jnp.zeros((n,), dt),
        neighbours=jnp.full((n, k), EMPTY, i32),
        edge_birth=jnp.zeros((n, k), i32),
        successors=jnp.full((n, k), EMPTY, i32),
        transitions=jnp.zeros((n, k), i32),
        label_hist=jnp.zeros((h, n, c), dt),
        prev_weights=jnp.zeros((k1, d), dt),
        prev_bmu=jnp.array(-1, i32),
        t=jnp.array(0, i32),
        pruned_at=jnp.array(0, i32),
        num_nodes=jnp.array(0, i32),
        max_nodes=jnp.array(config.max_nodes, i32),
        refused_insertions=jnp.array(0, i32),
        edge_overflow=jnp.array(0, i32),
        temporal_overflow=jnp.array(0, i32),
        created=jnp.zeros((n,), i32),
        next_id=jnp.array(0, i32),
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
               "lower the capacity or max_degree (a state is about N·(4·(K+1)·D + 16·k) bytes; "
               "docs/scaling.md)")
    return init_unchecked(config, params.cast(config.dtype), jnp.asarray(samples),
                          jnp.asarray(labels, jnp.int32))
