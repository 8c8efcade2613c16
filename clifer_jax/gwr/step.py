"""One Gamma-GWR update for one sample (docs/gwr.md, steps 1–9), O(N·D) per step.

Written for `lax.scan` on an accelerator or a 2-core CPU (docs/gwr.md, "Where the time goes"):
* every change is a scatter into the rows that change (the BMU or the new
  node, and the BMU's neighbours), with index N meaning "no write" (dropped),
  so an invalid or regulated-correct step writes nothing;
* weights, habituation and histograms change by scatter-add (inactive slots
  hold zeros, so an insertion is an add into a clean slot);
* edges are written before the BMU's edge row is read, and edge aging is a
  timestamp, so XLA never copies an N×N array inside the loop;
* end-of-epoch pruning is a clock value (`pruned_at`): the BMU's row is masked
  by it when read, and the N×N array is cleared once per training call.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from clifer_jax.gwr.config import GWRConfig
from clifer_jax.gwr.params import GWRParams
from clifer_jax.gwr.distance import best_two, context, distances
from clifer_jax.gwr.state import GWRState, label_rows


def habituate(h: jax.Array, tau: float, kappa: float) -> jax.Array:
    """h <- h + τ·κ·(1 − h) − τ (docs/gwr.md, step 7)."""
    return h + tau * kappa * (1.0 - h) - tau


def step(config: GWRConfig, state: GWRState, x: jax.Array, y: jax.Array,
         valid: jax.Array = True, params: GWRParams | None = None, lazy: bool = False) -> GWRState:
    """Learn one sample. x [D], y [H] int (-1: no label), valid [] bool.

    params: the traced numbers (None: the config's own values, as Python constants).
    lazy: the step of a call that ends lazily (`train.lazy_call`, the replay pass): it also
      keeps `edge_newest` and clears a new node's temporal row and column (static; the
      results are the same, the plain step skips the O(N) extra).
    Pure and unchecked (call it inside jit/scan); `train` validates inputs.
    """
    p = config if params is None else params     # GWRConfig has every GWRParams field
    n = config.capacity
    dt = config.jnp_dtype
    i32 = jnp.int32
    valid = jnp.asarray(valid, bool)

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
    rows = jnp.stack([b_w, s_w, b_w, r_w, s_w, r_w])
    cols = jnp.stack([s_w, b_w, r_w, b_w, r_w, s_w])
    link = jnp.stack([adapt, adapt, insert, insert, insert, insert])
    edges = state.edges.at[rows, cols].set(link, mode="drop")
    edge_birth = state.edge_birth.at[rows, cols].set(t_new, mode="drop")
    edge_newest = (state.edge_newest.at[rows].max(jnp.where(link, t_new, 0), mode="drop")
                   if lazy else state.edge_newest)

    # Neighbours of b after the b-s edge exists; read after the write (no N×N copy).
    # Edges pruned lazily at an earlier epoch's end are still written but not live.
    nbr_row = edges[b] & ((state.pruned_at - edge_birth[b]) <= p.max_age)
    # The first max_degree neighbours in slot order (what `jnp.nonzero(size=...)` gives), by
    # a cumsum and one scatter: 1.6× faster than `nonzero` when vmapped on the CPU.
    m = config.max_degree
    pos = jnp.cumsum(nbr_row, dtype=i32) - 1
    pos = jnp.where(nbr_row & (pos < m), pos, m)
    nbrs = jnp.full((m + 1,), n, i32).at[pos].set(jnp.arange(n, dtype=i32))[:m]
    nbrs = jnp.where(adapt, nbrs, drop)
    too_many = adapt & (jnp.sum(nbr_row, dtype=i32) > config.max_degree)

    # Weights of [b, r, neighbours...] in one gather and one scatter-add. XLA
    # updates an array in place only when the scatter is its sole reader besides
    # the distance matmul, so w_b comes from this gather, not a second read.
    rows = jnp.concatenate([jnp.stack([b, r]), nbrs])                    # [2 + max_degree]
    w_rows = state.weights.at[rows].get(mode="fill", fill_value=0)
    w_b = w_rows[0]                                                      # before update (step 9)
    h_b_new = habituate(h_b, p.tau_b, p.kappa)
    h_nbrs = state.habituation.at[nbrs].get(mode="fill", fill_value=0)  # before habituating
    gain_b = eps_b * h_b_new * ((1.0 - a) if config.inactivity_scaling else 1.0)
    rate = jnp.concatenate([gain_b[None], jnp.zeros((1,), dt), eps_n * h_nbrs])
    dw = rate[:, None, None] * (g[None] - w_rows)
    dw = dw.at[1].set(0.5 * (w_b + g))                                   # new node r: ½(w_b + g)
    write = jnp.concatenate([jnp.stack([jnp.where(adapt, b, drop), r_w]), nbrs])
    weights = state.weights.at[write].add(dw.astype(dt), mode="drop")   # r's slot holds zeros
    new_rows = w_rows + dw
    sq_norms = state.sq_norms.at[write].set(jnp.sum(new_rows * new_rows, axis=-1), mode="drop")

    # Habituation: h is read twice (h_b decides the rows), so it changes by a
    # dense O(N) add rather than an in-place scatter that would force a copy.
    dh = jnp.concatenate([
        jnp.stack([h_b_new - h_b, jnp.ones((), dt)]),
        habituate(h_nbrs, p.tau_n, p.kappa) - h_nbrs,
    ]).astype(dt)
    habituation = state.habituation + jnp.zeros_like(state.habituation).at[write].add(dh, mode="drop")

    # Label histograms: a new node gets a_inc·onehot(y); an adapting BMU gets
    # +a_inc on y, −a_dec elsewhere, floored at 0 (not in regulated networks).
    onehot = label_rows(config, y, p.a_inc)                                       # [H, C]
    labelled = (y >= 0)[:, None]
    adapted = jnp.where(onehot > 0, hist_b + p.a_inc, jnp.maximum(hist_b - p.a_dec, 0.0))
    adapted = jnp.where(labelled, adapted, hist_b)
    dhist = jnp.where(insert, onehot, adapted - hist_b)
    main = jnp.where(insert, r, jnp.where(adapt, b, drop))
    hist_row = jnp.where(insert | (adapt & (not config.regulated)), main, drop)
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
        active=state.active.at[r_w].set(True, mode="drop"),
        habituation=habituation,
        edges=edges,
        edge_birth=edge_birth,
        edge_newest=edge_newest,
        temporal=temporal,
        label_hist=label_hist,
        # Step 9: context of the next sample, on every valid step.
        prev_weights=jnp.where(valid, w_b, state.prev_weights),
        prev_bmu=jnp.where(valid, b, state.prev_bmu),
        t=t_new,
        num_nodes=state.num_nodes + insert.astype(i32),
        # Creation stamp of the new node (the reference's order: docs/gwr.md).
        created=state.created.at[r_w].set(state.next_id, mode="drop"),
        next_id=state.next_id + insert.astype(i32),
        refused_insertions=state.refused_insertions + (learn & wants_insert & ~has_room).astype(i32),
        degree_overflow=state.degree_overflow + too_many.astype(i32),
    )
