"""Loss terms of the CAAE (docs/caae.md). All are pure functions of arrays; images are NHWC.

* `l1_loss`: mean |x − y| (Zhang et al. 2017: `reduce_mean(abs(x − G))`).
* `total_variation`: Zhang's form, (½Σ(∂_y x)²/H + ½Σ(∂_x x)²/W) / B.
* `d_loss` / `g_loss`: non-saturating sigmoid cross-entropy on logits.
* `class_loss`: softmax cross-entropy against integer labels (the latent head's terms).
* `identity_loss`: mean |φ_l(x) − φ_l(y)| averaged over the layers l of an identity network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import optax


def l1_loss(x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean absolute difference of two equally shaped arrays → scalar."""
    return jnp.mean(jnp.abs(x - y))


def total_variation(x: jax.Array) -> jax.Array:
    """Total variation of images x [B, H, W, C] → scalar.

    TV = (½·Σ(x[:, 1:] − x[:, :-1])² / H + ½·Σ(x[:, :, 1:] − x[:, :, :-1])² / W) / B,
    the `tf.nn.l2_loss` form of the reference CAAE.
    """
    b, h, w, _ = x.shape
    dy = x[:, 1:, :, :] - x[:, :-1, :, :]
    dx = x[:, :, 1:, :] - x[:, :, :-1, :]
    return (0.5 * jnp.sum(dy**2) / h + 0.5 * jnp.sum(dx**2) / w) / b


def d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """Discriminator loss: real → 1, fake → 0 (sigmoid cross-entropy, mean over each batch)."""
    real = optax.sigmoid_binary_cross_entropy(real_logits, jnp.ones_like(real_logits))
    fake = optax.sigmoid_binary_cross_entropy(fake_logits, jnp.zeros_like(fake_logits))
    return jnp.mean(real) + jnp.mean(fake)


def g_loss(fake_logits: jax.Array) -> jax.Array:
    """Generator/encoder adversarial loss (non-saturating): fake → 1."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(fake_logits, jnp.ones_like(fake_logits)))


def class_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of logits [B, K] against integer labels [B]."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def identity_loss(
    features: Callable[[jax.Array], Sequence[jax.Array]], x: jax.Array, y: jax.Array
) -> jax.Array:
    """Identity-preserving perceptual loss: mean over layers of mean |φ_l(x) − φ_l(y)|.

    `features` maps images [B, H, W, C] in [-1, 1] to a sequence of feature maps
    (VGG-Face conv1_2 … conv5_2, see `vgg_face.features`). The target x is not
    differentiated through.
    """
    fx = features(jax.lax.stop_gradient(x))
    fy = features(y)
    terms = [jnp.mean(jnp.abs(jax.lax.stop_gradient(a) - b)) for a, b in zip(fx, fy, strict=True)]
    return sum(terms) / len(terms)

