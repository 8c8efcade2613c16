"""The node-row updates of one step (docs/gwr.md, steps 6–7 and 9, and "Row updates:
scatter or dense"), in two forms, chosen by the static `GWRConfig.row_updates`:

* `scatter_rows` (default): one gather and one scatter-add over the rows that change (the
  BMU or the new node, and up to k = `max_degree` neighbours): O(k·D) per step (k = max_degree), but
  under `vmap` on a CPU a scatter or gather with batched indices runs as a serial loop
  over its updates.
* `dense_rows`: every row recomputed and selected by a mask (`where(touched, w + dw, w)`):
  O(N·D) per step, in a few elementwise passes that vectorise under `vmap`.

A changed row gets the same float operations in both forms: w + dw with dw = rate·(g − w)
rounded on its own (`rounded`), so the weights agree bit for bit given the same distances;
an unchanged row is selected, not added to. The squared norms of the changed rows are
the same sums, but XLA picks the reduction kernel per shape (its own loop or a library
kernel, which add in another order), so they can differ in the last bit, and through the
distances so can later weights (docs/gwr.md).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from clifer_jax.gwr.config import GWRConfig


def dense(config: GWRConfig) -> bool:
    """Whether the step updates rows densely (static, from the config)."""
    return config.row_updates == "dense"


def habituate(h: jax.Array, tau, kappa) -> jax.Array:
    """h <- h + τ·κ·(1 − h) − τ (docs/gwr.md, step 7)."""
    return h + tau * kappa * (1.0 - h) - tau


def rounded(x: jax.Array, clock: jax.Array) -> jax.Array:
    """x, rounded as stored: its bits xor'ed with a zero the compiler cannot prove zero
    (min(clock, 0), the clock >= 0). The scatter form adds a stored dw; in one fused
    w + rate·(g − w) XLA lets LLVM contract the multiply and the add into a fused
    multiply-add, which rounds once, not twice (1 ulp apart on about a third of the
    entries). An optimization barrier does not stop it (XLA's CPU pipeline removes it)."""
    itype = {2: jnp.int16, 4: jnp.int32, 8: jnp.int64}[x.dtype.itemsize]
    zero = jnp.minimum(clock, 0).astype(itype)
    bits = jax.lax.bitcast_convert_type(x, itype) ^ zero
    return jax.lax.bitcast_convert_type(bits, x.dtype)


class Rows(NamedTuple):
    """What the row updates give the step."""
    weights: jax.Array
    sq_norms: jax.Array
    habituation: jax.Array
    w_b: jax.Array          # the BMU's weights before the update (the next context)


def scatter_rows(config: GWRConfig, state, g, a, b, r, adapt, insert, nbrs,
                 eps_b, eps_n, p) -> Rows:
    """Weights, norms and habituation of [b, r, neighbours] by one gather and one
    scatter-add. nbrs [k]: the BMU's neighbours to update, N where none (the same for
    `dense_rows`). XLA updates an array in place only when the scatter is its sole reader
    besides the distance matmul, so w_b comes from this gather, not a second read; h is
    read twice (h_b decides the rows), so it changes by a dense O(N) add rather than an
    in-place scatter that would force a copy."""
    n = config.capacity
    dt = config.jnp_dtype
    drop = jnp.asarray(n, jnp.int32)
    r_w = jnp.where(insert, r, drop)

    rows = jnp.concatenate([jnp.stack([b, r]), nbrs])                    # [2 + max_degree]
    w_rows = state.weights.at[rows].get(mode="fill", fill_value=0)
    w_b = w_rows[0]                                                      # before update (step 9)
    h_b = state.habituation[b]
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

    dh = jnp.concatenate([
        jnp.stack([h_b_new - h_b, jnp.ones((), dt)]),
        habituate(h_nbrs, p.tau_n, p.kappa) - h_nbrs,
    ]).astype(dt)
    habituation = state.habituation + jnp.zeros_like(state.habituation).at[write].add(dh, mode="drop")
    return Rows(weights, sq_norms, habituation, w_b)


def dense_rows(config: GWRConfig, state, g, a, b, r, adapt, insert, nbrs,
               eps_b, eps_n, p) -> Rows:
    """`scatter_rows` by masks over all N rows: each changed row gets w + rate·(g − w)
    (the new node r: its zeros + ½(w_b + g)) and its norm Σ w² of the stored row; the
    others are selected unchanged."""
    n = config.capacity
    dt = config.jnp_dtype
    slot = jnp.arange(n, dtype=jnp.int32)
    is_b = adapt & (slot == b)
    is_r = insert & (slot == r)
    nbr = jnp.zeros((n + 1,), bool).at[nbrs].set(True)[:n]
    touched = is_b | is_r | nbr

    # w_b (before the update, step 9) by an indexed read. Unbatched, XLA fuses it into the
    # in-place update and copies the N×D weights each step to do so (an O(N·D) pass, the
    # order of this form's cost); vmapped it is a gather and nothing is copied. A masked
    # sum instead avoids the copy but costs 23% more at 64 networks (docs/gwr.md).
    w_b = state.weights[b]
    h = state.habituation
    h_b = h[b]
    h_b_new = habituate(h_b, p.tau_b, p.kappa)
    gain_b = eps_b * h_b_new * ((1.0 - a) if config.inactivity_scaling else 1.0)
    rate = jnp.where(is_b, gain_b, eps_n * h)
    dw = jnp.where(is_r[:, None, None], (0.5 * (w_b + g))[None],
                   rate[:, None, None] * (g[None] - state.weights))
    new_rows = state.weights + rounded(dw.astype(dt), state.t)
    weights = jnp.where(touched[:, None, None], new_rows, state.weights)
    sq_norms = jnp.where(touched[:, None], jnp.sum(weights * weights, axis=-1), state.sq_norms)

    dh = jnp.where(is_b, h_b_new - h_b, jnp.where(is_r, jnp.ones((), dt), habituate(h, p.tau_n, p.kappa) - h))
    habituation = jnp.where(touched, h + dh.astype(dt), h)
    return Rows(weights, sq_norms, habituation, w_b)
