"""One Gamma-GWR update for one sample (docs/gwr.md, steps 1–9): O(N·D) for the distances,
O(k·D) for the rows it changes and O(k) for the topology.

Written for `lax.scan` on an accelerator or a 2-core CPU (docs/gwr.md, "Where the time goes"):
* every change is a scatter into the rows that change (the BMU or the new
  node, and the BMU's neighbours), with index N meaning "no write" (dropped),
  so an invalid or regulated-correct step writes nothing;
* weights, habituation and histograms change by scatter-add (inactive slots
  hold zeros, so an insertion is an add into a clean slot) — or, with
  `row_updates="dense"`, by masked passes over all N rows (`gwr.rows`), which
  vectorise when many networks are vmapped on a CPU;
* the topology is k-entry lists per node (`gwr.topology`), edited in the rows of b, s
  and r; edge ageing is a timestamp and end-of-epoch pruning a clock value
  (`pruned_at`) that masks expired entries until the call's end clears them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from clifer_jax.gwr import rows, topology
from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.params import GWRParams
from clifer_jax.gwr.distance import best_two, context, distances
from clifer_jax.gwr.state import GWRState, label_rows


def step_unchecked(config: GWRConfig, params: GWRParams, state: GWRState, x: jax.Array,
                   y: jax.Array, valid: jax.Array = True) -> GWRState:
    """Learn one sample. x [D], y [H] int (-1: no label), valid [] bool; params: the
    traced numbers.

    Pure and unchecked (call it inside jit/scan); `train` validates inputs.
    """
    p = params.cast(config.dtype)   # Python numbers round as the entry points' arrays do
    n = config.capacity
    dt = config.jnp_dtype
    i32 = jnp.int32
    valid = jnp.asarray(valid, bool)

    dense = rows.dense(config)
    g = context(config, x, state.prev_weights, p.beta)                          # [K+1, D]
    d = distances(config, state.weights, state.sq_norms, state.active, g)
    b, s = best_two(d)
    a = jnp.exp(-d[b])
    h_b = state.habituation[b]

    # Steps 4-5: a regulated network learns only from a mislabelled sample.
    hist_b = state.label_hist[:, b]                                      # [H, C]
    if config.regulated:
        predicted = jnp.argmax(hist_b[0]).astype(i32)
        learn = valid & (y[0] >= 0) & (predicted != y[0])
        eps_b, eps_n = p.eps_b * p.mod_rate, p.eps_n * p.mod_rate
    else:
        learn = valid
        eps_b, eps_n = p.eps_b, p.eps_n

    # Step 6: insert when activity and habituation are low and there is room.
    wants_insert = (a < p.activity_threshold) & (h_b < p.habituation_threshold)
    has_room = state.num_nodes < state.max_nodes
    insert = learn & wants_insert & has_room
    adapt = learn & ~insert
    r = jnp.argmin(state.active).astype(i32)                            # lowest free slot

    t_new = state.t + learn.astype(i32)
    drop = jnp.asarray(n, i32)
    r_w = jnp.where(insert, r, drop)

    # Edges (steps 6-7): insert removes b-s and links r to b and s; adapt sets b-s. Then
    # b's neighbours are its live list entries after the write (s included when adapting).
    neighbours, edge_birth, ids_b, born_b, edges_lost = topology.step_edges(
        state.neighbours, state.edge_birth, state.pruned_at, p.max_age, b, s, r, learn, insert, t_new)
    nbrs = jnp.where(adapt & topology.live(ids_b, born_b, state.pruned_at, p.max_age), ids_b, drop)

    # Weights, norms and habituation of b or r and b's neighbours.
    slot = jnp.arange(n, dtype=i32)
    update = rows.dense_rows if dense else rows.scatter_rows
    weights, sq_norms, habituation, w_b = update(config, state, g, a, b, r, adapt, insert, nbrs,
                                                 eps_b, eps_n, p)

    # Label histograms: a new node gets a_inc·onehot(y); an adapting BMU gets
    # +a_inc on y, −a_dec elsewhere, floored at 0 (not in regulated networks).
    onehot = label_rows(config, y, p.a_inc)                                       # [H, C]
    labelled = (y >= 0)[:, None]
    adapted = jnp.where(onehot > 0, hist_b + p.a_inc, jnp.maximum(hist_b - p.a_dec, 0.0))
    adapted = jnp.where(labelled, adapted, hist_b)
    dhist = jnp.where(insert, onehot, adapted - hist_b)
    main = jnp.where(insert, r, jnp.where(adapt, b, drop))
    hist_row = jnp.where(insert | (adapt & (not config.regulated)), main, drop)
    if dense:
        label_hist = jnp.where((slot == hist_row)[None, :, None], state.label_hist + dhist[:, None].astype(dt),
                               state.label_hist)
    else:
        label_hist = state.label_hist.at[:, hist_row].add(dhist.astype(dt), mode="drop")

    # Step 8: temporal link prev -> (b or r) on the same steps as aging.
    current = jnp.where(insert, r, b)
    linked = learn & (state.prev_bmu >= 0) & (state.prev_bmu != current)
    successors, transitions, links_lost = topology.step_temporal(
        state.successors, state.transitions, state.prev_bmu, current, linked)

    return state.replace(
        weights=weights,
        sq_norms=sq_norms,
        active=jnp.where(slot == r_w, True, state.active) if dense else state.active.at[r_w].set(True, mode="drop"),
        habituation=habituation,
        neighbours=neighbours,
        edge_birth=edge_birth,
        successors=successors,
        transitions=transitions,
        label_hist=label_hist,
        # Step 9: context of the next sample, on every valid step.
        prev_weights=jnp.where(valid, w_b, state.prev_weights),
        prev_bmu=jnp.where(valid, b, state.prev_bmu),
        t=t_new,
        num_nodes=state.num_nodes + insert.astype(i32),
        # Creation stamp of the new node (the reference's order: docs/gwr.md).
        created=(jnp.where(slot == r_w, state.next_id, state.created) if dense
                 else state.created.at[r_w].set(state.next_id, mode="drop")),
        next_id=state.next_id + insert.astype(i32),
        refused_insertions=state.refused_insertions + (learn & wants_insert & ~has_room).astype(i32),
        edge_overflow=state.edge_overflow + edges_lost,
        temporal_overflow=state.temporal_overflow + links_lost,
    )
