"""Context descriptors and node distances (docs/gwr.md, steps 1–2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from clifer_jax.gwr.config import GWRConfig


def context(config: GWRConfig, x: jax.Array, prev_weights: jax.Array, beta) -> jax.Array:
    """g_0 = x; g_k = β·prev_k + (1-β)·prev_{k-1}, k >= 1. x [D], prev [K+1, D] -> [K+1, D]."""
    x = x.astype(config.jnp_dtype)[None]
    if config.context == 0:
        return x
    g_ctx = beta * prev_weights[1:] + (1.0 - beta) * prev_weights[:-1]
    return jnp.concatenate([x, g_ctx], axis=0)


def distances(config: GWRConfig, weights: jax.Array, sq_norms: jax.Array, active: jax.Array,
              g: jax.Array) -> jax.Array:
    """Distance from g [K+1, D] to every node; +inf on inactive slots. -> [N].

    The "clifer" distance Σ_k α_k ‖g_k − w_{j,k}‖ uses a matmul with the cached
    squared norms (one large op instead of an N×D subtract-square-reduce; docs/gwr.md, "Where the time goes").
    The "gdm" distance ‖Σ_k α_k (g_k − w_{j,k})‖ is the same with K = 0.
    """
    alpha = jnp.asarray(config.context_weights())
    if config.distance == "gdm" and config.context > 0:
        wg = jnp.einsum("k,nkd->nd", alpha, weights)
        gg = alpha @ g
        d = jnp.sqrt(jnp.sum((wg - gg[None]) ** 2, axis=-1))
    else:
        # [N·(K+1), D] @ [D, K+1] keeps the weights in their row-major layout
        # (an einsum with k as a batch dim transposes all weights every step);
        # the wasted off-diagonal products are cheap for small K.
        n, k1, dim = weights.shape
        dots = (weights.reshape(n * k1, dim) @ g.T).reshape(n, k1, k1)
        dots = dots[:, 0, :1] if k1 == 1 else jnp.diagonal(dots, axis1=1, axis2=2)
        d2 = sq_norms - 2.0 * dots + jnp.sum(g * g, axis=-1)[None, :]
        d = jnp.sqrt(jnp.maximum(d2, 0.0))
        d = d[:, 0] if config.context == 0 else d @ alpha
    return jnp.where(active, d, jnp.inf)


def best_two(d: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Nearest and second-nearest index (ties: lower index). Two argmins beat top_k on CPU."""
    b = jnp.argmin(d)
    s = jnp.argmin(jnp.where(jnp.arange(d.shape[0]) == b, jnp.inf, d))
    return b.astype(jnp.int32), s.astype(jnp.int32)
