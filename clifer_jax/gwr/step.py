"""One Gamma-GWR update for one sample (docs/gwr.md, steps 1–9), O(N·D) per step.

Written for `lax.scan` on an accelerator or a 2-core CPU (docs/gwr.md, "Where the time goes"):
* every change is a scatter into the rows that change (the BMU or the new
  node, and the BMU's neighbours), with index N meaning "no write" (dropped),
  so an invalid or regulated-correct step writes nothing;
* weights, habituation and histograms change by scatter-add (inactive slots
  hold zeros, so an insertion is an add into a clean slot) — or, with
  `row_updates="dense"`, by masked passes over all N rows (`gwr.rows`), which
  vectorise when many networks are vmapped on a CPU;
* edges are written before the BMU's edge row is read, and edge aging is a
  timestamp, so XLA never copies an N×N array inside the loop;
* end-of-epoch pruning is a clock value (`pruned_at`): the BMU's row is masked
  by it when read, and the expired edges are cleared once per training call, found
  through the edge log the step writes (one row per update).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from clifer_jax.gwr import rows
from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.params import GWRParams
from clifer_jax.gwr.distance import best_two, context, distances
from clifer_jax.gwr.state import LOG_NONE, NO_EDGE, GWRState, label_rows


def step_unchecked(config: GWRConfig, params: GWRParams, state: GWRState, x: jax.Array,
                   y: jax.Array, valid: jax.Array = True, lazy: bool = False) -> GWRState:
    """Learn one sample. x [D], y [H] int (-1: no label), valid [] bool; params: the
    traced numbers.

    lazy: the step of a call that ends lazily (`train.lazy_call`, the replay pass): it also
      clears a new node's temporal row and column (static; the results are the same, the
      plain step skips the O(N) extra).
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
    b_w = jnp.where(learn, b, drop)                                      # edge endpoints, or no write
    s_w = jnp.where(learn, s, drop)
    r_w = jnp.where(insert, r, drop)

    # Edges (steps 6-7): insert removes b-s and links r to b and s; adapt sets b-s.
    e_rows = jnp.stack([b_w, s_w, b_w, r_w, s_w, r_w])
    e_cols = jnp.stack([s_w, b_w, r_w, b_w, r_w, s_w])
    link = jnp.stack([adapt, adapt, insert, insert, insert, insert])
    edges = state.edges.at[e_rows, e_cols].set(link, mode="drop")
    edge_birth = state.edge_birth.at[e_rows, e_cols].set(t_new, mode="drop")
    edge_log = state.edge_log
    if config.edge_log:
        none = jnp.asarray(LOG_NONE, i32)
        entry = jnp.where(insert, jnp.stack([b, r, s, r]), jnp.stack([b, s, none, none]))
        log_row = jnp.where(learn, t_new % config.edge_log, config.edge_log)
        edge_log = edge_log.at[log_row].set(entry.astype(i32), mode="drop")
    edge_newest = state.edge_newest.at[e_rows].max(jnp.where(link, t_new, NO_EDGE), mode="drop")

    # Neighbours of b after the b-s edge exists; read after the write (no N×N copy).
    # Edges pruned lazily at an earlier epoch's end are still written but not live.
    nbr_row = edges[b] & ((state.pruned_at - edge_birth[b]) <= p.max_age)
    too_many = adapt & (jnp.sum(nbr_row, dtype=i32) > config.max_degree)

    # Weights, norms and habituation of b or r and b's first max_degree neighbours.
    slot = jnp.arange(n, dtype=i32)
    update = rows.dense_rows if dense else rows.scatter_rows
    weights, sq_norms, habituation, w_b = update(config, state, g, a, b, r, adapt, insert, nbr_row,
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
    t_row = jnp.where(linked, state.prev_bmu, drop)
    # After a lazy call end a new node's slot may hold links of a node removed then
    # (`remove_isolated_lazily` leaves them for the end of the pass): clear them, O(N).
    temporal = state.temporal
    if lazy:
        temporal = temporal.at[r_w, :].set(0, mode="drop").at[:, r_w].set(0, mode="drop")
    temporal = temporal.at[t_row, current].add(1, mode="drop")

    return state.replace(
        weights=weights,
        sq_norms=sq_norms,
        active=jnp.where(slot == r_w, True, state.active) if dense else state.active.at[r_w].set(True, mode="drop"),
        habituation=habituation,
        edges=edges,
        edge_birth=edge_birth,
        edge_log=edge_log,
        edge_newest=edge_newest,
        temporal=temporal,
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
        degree_overflow=state.degree_overflow + too_many.astype(i32),
    )
