"""The four networks of the CAAE (docs/caae.md), as Flax linen modules sized by `CAAEConfig`.

Images are float32 in [-1, 1], NHWC. Conditions are integer expression indices
(`clifer_jax.classes`), turned into a ±1 one-hot tiled `cond_tile` times.

* `Encoder`: [B, H, W, C] → z [B, z_dim] in [-1, 1] (tanh).
* `Generator`: (z [B, z_dim], c [B]) → image [B, H, W, C] in [-1, 1] (tanh).
* `DiscriminatorZ`: z [B, z_dim] → logit [B] (real = drawn from U(-1, 1)).
* `DiscriminatorImage`: (image, c) → logit [B].
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from clifer_jax.caae.config import CAAEConfig
from clifer_jax.caae.layers import StridedConv, StridedConvTranspose


def _down(cfg: CAAEConfig, features: int, name: str) -> nn.Module:
    """A 5×5 (kernel) stride-2 SAME conv; the exact space-to-depth form when enabled."""
    if cfg.s2d_convs and cfg.kernel == 5:
        return StridedConv(features, name=name)
    return nn.Conv(features, (cfg.kernel, cfg.kernel), strides=(2, 2), padding="SAME", name=name)


def _up(cfg: CAAEConfig, features: int, name: str) -> nn.Module:
    """A 5×5 stride-2 SAME transposed conv; the exact depth-to-space form when enabled."""
    if cfg.s2d_convs and cfg.kernel == 5:
        return StridedConvTranspose(features, name=name)
    return nn.ConvTranspose(features, (cfg.kernel, cfg.kernel), strides=(2, 2), padding="SAME", name=name)


def condition_vector(c: jax.Array, num_classes: int, tile: int) -> jax.Array:
    """[B] integer classes → [B, num_classes·tile] ±1 one-hot, tiled (Zhang et al. 2017)."""
    onehot = jax.nn.one_hot(c, num_classes, dtype=jnp.float32) * 2.0 - 1.0
    return jnp.tile(onehot, (1, tile))


def _tile_spatial(x: jax.Array, v: jax.Array) -> jax.Array:
    """Concatenate vector v [B, K] to every pixel of x [B, h, w, C] → [B, h, w, C + K]."""
    b, h, w, _ = x.shape
    vmap = jnp.broadcast_to(v[:, None, None, :], (b, h, w, v.shape[-1]))
    return jnp.concatenate([x, vmap], axis=-1)


class Encoder(nn.Module):
    """E: strided 5×5 convs (ReLU) → dense (ReLU) → dense z_dim (tanh)."""

    config: CAAEConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg = self.config
        for i, f in enumerate(cfg.enc_features):
            x = nn.relu(_down(cfg, f, f"conv{i}")(x))
        x = x.reshape((x.shape[0], -1))
        x = nn.relu(nn.Dense(cfg.enc_dense, name="fc")(x))
        return jnp.tanh(nn.Dense(cfg.z_dim, name="z")(x))


class Generator(nn.Module):
    """G: [z, tiled ±1 condition] → dense s·s·F (ReLU) → strided 5×5 transposed convs (ReLU)
    → stride-1 5×5 transposed conv to the image (tanh)."""

    config: CAAEConfig

    @nn.compact
    def __call__(self, z: jax.Array, c: jax.Array) -> jax.Array:
        cfg = self.config
        k = (cfg.kernel, cfg.kernel)
        s = cfg.gen_start
        h = jnp.concatenate([z, condition_vector(c, cfg.num_classes, cfg.cond_tile)], axis=-1)
        h = nn.Dense(s * s * cfg.gen_dense_features, name="fc")(h)
        h = nn.relu(h.reshape((h.shape[0], s, s, cfg.gen_dense_features)))
        for i, f in enumerate(cfg.gen_features):
            h = nn.relu(_up(cfg, f, f"deconv{i}")(h))
        h = nn.ConvTranspose(cfg.channels, k, strides=(1, 1), padding="SAME", name="out")(h)
        return jnp.tanh(h)


class DiscriminatorZ(nn.Module):
    """D_z: z → 64 → 32 → 16 (dense, batch-norm, ReLU) → 1 logit."""

    config: CAAEConfig

    @nn.compact
    def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
        cfg = self.config
        h = z
        for i, f in enumerate(cfg.dz_features):
            h = nn.Dense(f, name=f"fc{i}")(h)
            h = nn.BatchNorm(use_running_average=not train, momentum=cfg.batch_norm_momentum, name=f"bn{i}")(h)
            h = nn.relu(h)
        return nn.Dense(1, name="logit")(h)[:, 0]


class DiscriminatorImage(nn.Module):
    """D_img: strided 5×5 convs (batch-norm, LeakyReLU 0.2), the tiled condition concatenated
    after blocks 1–3 → dense (LeakyReLU) → 1 logit."""

    config: CAAEConfig

    @nn.compact
    def __call__(self, x: jax.Array, c: jax.Array, *, train: bool) -> jax.Array:
        cfg = self.config
        cond = condition_vector(c, cfg.num_classes, cfg.dimg_cond_tile)
        h = x
        n = len(cfg.dimg_features)
        for i, f in enumerate(cfg.dimg_features):
            h = _down(cfg, f, f"conv{i}")(h)
            h = nn.BatchNorm(use_running_average=not train, momentum=cfg.batch_norm_momentum, name=f"bn{i}")(h)
            h = nn.leaky_relu(h, 0.2)
            if i < n - 1:
                h = _tile_spatial(h, cond)
        h = h.reshape((h.shape[0], -1))
        h = nn.leaky_relu(nn.Dense(cfg.dimg_dense, name="fc")(h), 0.2)
        return nn.Dense(1, name="logit")(h)[:, 0]


class LatentHead(nn.Module):
    """Linear expression classifier on z: [B, z_dim] → logits [B, num_classes]."""

    config: CAAEConfig

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        return nn.Dense(self.config.num_classes, name="logits")(z)


def init_variables(config: CAAEConfig, key: jax.Array) -> dict:
    """Initial variables of all four networks.

    Returns {'encoder': params, 'generator': params, 'zhead': params, 'dz': {'params', 'batch_stats'},
    'dimg': {'params', 'batch_stats'}}. Each network gets its own subkey.
    """
    k_e, k_g, k_dz, k_di, k_h = jax.random.split(key, 5)
    b = 2
    x = jnp.zeros((b, *config.image_shape), jnp.float32)
    z = jnp.zeros((b, config.z_dim), jnp.float32)
    c = jnp.zeros((b,), jnp.int32)
    return {
        "encoder": Encoder(config).init(k_e, x)["params"],
        "generator": Generator(config).init(k_g, z, c)["params"],
        "zhead": LatentHead(config).init(k_h, z)["params"],
        "dz": dict(DiscriminatorZ(config).init(k_dz, z, train=False)),
        "dimg": dict(DiscriminatorImage(config).init(k_di, x, c, train=False)),
    }
