"""Inference API of a trained CAAE: `encode`, `translate`, `imagine` (docs/design.md, docs/caae.md).

`CAAEParams` bundles the config (static) with the encoder and generator parameters, so
one argument carries everything and the jitted cores recompile only per config.

Public functions validate their inputs (image shape and size, NaNs, value range,
condition in [0, num_classes)) and run in fixed-size jitted chunks, so any N works
without recompiling. Images are accepted as uint8 in [0, 255] or float in [0, 1];
`translate` returns float32 in [0, 1]. The `*_unchecked` functions are the unvalidated,
traceable kernels for use inside `jit`/`vmap` (e.g. CLIFER's imagination step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from clifer_jax.caae.config import CAAEConfig
from clifer_jax.caae.models import Encoder, Generator


class CAAEParams(struct.PyTreeNode):
    """Trained encoder + generator. `config` is static (part of the treedef)."""

    config: CAAEConfig = struct.field(pytree_node=False)
    encoder: dict
    generator: dict


# ---------------------------------------------------------------- traceable cores


def encode_unchecked(params: CAAEParams, x: jax.Array) -> jax.Array:
    """E(x): images [B, H, W, C] in [-1, 1] → z [B, z_dim]. Traceable, unvalidated."""
    return Encoder(params.config).apply({"params": params.encoder}, x)


def generate_unchecked(params: CAAEParams, z: jax.Array, c: jax.Array) -> jax.Array:
    """G(z, c): z [B, z_dim], c int [B] → images [B, H, W, C] in [-1, 1]. Traceable."""
    return Generator(params.config).apply({"params": params.generator}, z, c)


def imagine_unchecked(params: CAAEParams, z: jax.Array, c: jax.Array) -> jax.Array:
    """z' = E(G(z, c)) (docs/design.md): z [B, z_dim], c int [B] → z' [B, z_dim]. Traceable."""
    return encode_unchecked(params, generate_unchecked(params, z, c))


def translate_unchecked(params: CAAEParams, x: jax.Array, c: jax.Array) -> jax.Array:
    """G(E(x), c) in [-1, 1]. Traceable."""
    return generate_unchecked(params, encode_unchecked(params, x), c)


# ---------------------------------------------------------------- validation


def images_to_model(images, config: CAAEConfig) -> np.ndarray:
    """Validate images and map them to float32 [-1, 1], shape [N, H, W, config.channels].

    Accepts [N, H, W, C] uint8 (0–255) or float (0–1). Grayscale (C = 1) is repeated to
    RGB for a 3-channel config. Raises ValueError on a wrong rank, size or channel
    count, NaN/inf, or a float outside [0, 1].
    """
    arr = np.asarray(images)
    if arr.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {arr.shape}")
    n, h, w, ch = arr.shape
    if (h, w) != (config.image_size, config.image_size):
        raise ValueError(
            f"images are {h}×{w}, the '{config.name}' CAAE expects {config.image_size}×{config.image_size}"
        )
    if ch not in (1, config.channels):
        raise ValueError(f"images have {ch} channels, the CAAE expects {config.channels}")
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32) / 127.5 - 1.0
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("images contain NaN or inf")
        if arr.size and (arr.min() < -1e-3 or arr.max() > 1 + 1e-3):
            raise ValueError(f"float images must lie in [0, 1], got [{arr.min():.3g}, {arr.max():.3g}]")
        x = np.clip(arr.astype(np.float32), 0.0, 1.0) * 2.0 - 1.0
    else:
        raise ValueError(f"images must be uint8 or float, got {arr.dtype}")
    if ch != config.channels:
        x = np.repeat(x, config.channels, axis=-1)
    return x


def conditions(c, n: int, num_classes: int) -> np.ndarray:
    """Validate a condition (an int, or one per row) → int32 [n]. Must lie in [0, num_classes)."""
    arr = np.asarray(c)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"condition must be integer class indices, got dtype {arr.dtype}")
    if arr.ndim == 0:
        arr = np.full((n,), int(arr))
    if arr.shape != (n,):
        raise ValueError(f"condition must be a scalar or shape ({n},), got {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(f"condition must lie in [0, {num_classes}), got [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int32)


def _latents(z, config: CAAEConfig) -> np.ndarray:
    arr = np.asarray(z, np.float32)
    if arr.ndim != 2 or arr.shape[1] != config.z_dim:
        raise ValueError(f"z must be [N, {config.z_dim}], got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("z contains NaN or inf")
    return arr


# ---------------------------------------------------------------- batched, jitted


def _apply(kind: str, params: CAAEParams, a: jax.Array, c: jax.Array) -> jax.Array:
    if kind == "encode":
        return encode_unchecked(params, a)
    if kind == "translate":
        return (translate_unchecked(params, a, c) + 1.0) * 0.5
    return imagine_unchecked(params, a, c)


_apply_jit = jax.jit(_apply, static_argnums=0)


def _chunked(kind: str, params: CAAEParams, a: np.ndarray, c: np.ndarray, batch_size: int) -> jax.Array:
    """Run `_apply` over fixed-size chunks (the last one padded) so any N compiles once."""
    n = a.shape[0]
    if n == 0:
        raise ValueError("empty input: N must be ≥ 1")
    bs = max(1, min(batch_size, n))
    outs = []
    for i in range(0, n, bs):
        ai, ci = a[i : i + bs], c[i : i + bs]
        m = ai.shape[0]
        if m < bs:
            ai = np.concatenate([ai, np.repeat(ai[-1:], bs - m, axis=0)])
            ci = np.concatenate([ci, np.repeat(ci[-1:], bs - m, axis=0)])
        outs.append(_apply_jit(kind, params, jnp.asarray(ai), jnp.asarray(ci))[:m])
    return jnp.concatenate(outs, axis=0)


def encode(params: CAAEParams, images, *, batch_size: int = 256) -> jax.Array:
    """Latents z = E(x) of images [N, H, W, C] (uint8 or float in [0, 1]) → float32 [N, z_dim]."""
    x = images_to_model(images, params.config)
    return _chunked("encode", params, x, np.zeros((x.shape[0],), np.int32), batch_size)


def translate(params: CAAEParams, images, c, *, batch_size: int = 256) -> jax.Array:
    """G(E(x), c): the faces re-rendered with expression c (int or int [N]) → float32 [N, H, W, C] in [0, 1]."""
    x = images_to_model(images, params.config)
    return _chunked("translate", params, x, conditions(c, x.shape[0], params.config.num_classes), batch_size)


def imagine(params: CAAEParams, z, c, *, batch_size: int = 256) -> jax.Array:
    """Imagined latents z' = E(G(z, c)) (docs/design.md) of z [N, z_dim] and c (int or int [N]) → [N, z_dim]."""
    zz = _latents(z, params.config)
    return _chunked("imagine", params, zz, conditions(c, zz.shape[0], params.config.num_classes), batch_size)
