"""Stride-2 5×5 convolutions and transposed convolutions, computed exactly as stride-1
3×3 convolutions on a space-to-depth (or followed by a depth-to-space) rearrangement.

Why: on XLA:CPU a strided conv's input gradient and every transposed conv run as
`lhs_dilation` convolutions that are 5–10× slower than the stride-1 convolutions they
equal. The parameters are the ordinary 5×5 kernels of `nn.Conv` / `nn.ConvTranspose`
(same names, shapes and initialisers), rearranged on the fly, so the functions are
identical to `nn.Conv(strides=2, padding='SAME')` and
`nn.ConvTranspose(strides=2, padding='SAME')` (tests/test_caae_models.py checks this).

Derivation for one axis, input length H even, kernel w[0..4]:
* conv, SAME (pads 1 | 2): o[i] = Σ_k x[2i + k − 1]·w[k]. With j = 2(i + q) + r,
  k = 2(q + 1) + r − 1, so after prepending one zero to w (w_p, length 6) the kernel of
  the phase-split input is w_p.reshape(3, 2)[q + 1, r], a 3-tap SAME conv.
* transposed conv, SAME (dilated input padded 3 | 2): output phase r at i is
  Σ_{t=0..2} x[i + t − 1]·w_p[2t + 1 − r] with one zero appended to w.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def space_to_depth(x: jax.Array) -> jax.Array:
    """[B, H, W, C] → [B, H/2, W/2, 4C], channel order (row phase, column phase, c)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, 4 * c)


def depth_to_space(x: jax.Array) -> jax.Array:
    """[B, H, W, 4F] (channel order (row phase, column phase, f)) → [B, 2H, 2W, F]."""
    b, h, w, c = x.shape
    f = c // 4
    return x.reshape(b, h, w, 2, 2, f).transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, f)


def _conv(x: jax.Array, k: jax.Array) -> jax.Array:
    return jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv_kernel_s2d(w: jax.Array) -> jax.Array:
    """5×5 stride-2 conv kernel [5, 5, C, F] → 3×3 kernel [3, 3, 4C, F] on space_to_depth input."""
    c, f = w.shape[2:]
    wp = jnp.pad(w, ((1, 0), (1, 0), (0, 0), (0, 0)))  # [6, 6, C, F]
    wp = wp.reshape(3, 2, 3, 2, c, f).transpose(0, 2, 1, 3, 4, 5)  # [qy, qx, ry, rx, C, F]
    return wp.reshape(3, 3, 4 * c, f)


def deconv_kernel_d2s(w: jax.Array) -> jax.Array:
    """5×5 stride-2 transposed-conv kernel [5, 5, C, F] → 3×3 kernel [3, 3, C, 4F] before depth_to_space."""
    c, f = w.shape[2:]
    wp = jnp.pad(w, ((0, 1), (0, 1), (0, 0), (0, 0)))  # [6, 6, C, F]
    wp = wp.reshape(3, 2, 3, 2, c, f)[:, ::-1, :, ::-1]  # [ty, 1−ry, tx, 1−rx] → [ty, ry, tx, rx]
    wp = wp.transpose(0, 2, 4, 1, 3, 5)  # [ty, tx, C, ry, rx, F]
    return wp.reshape(3, 3, c, 4 * f)


class StridedConv(nn.Module):
    """`nn.Conv(features, (5, 5), strides=2, padding='SAME')`, computed via space-to-depth."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.shape[1] % 2 or x.shape[2] % 2:
            raise ValueError(f"StridedConv needs even spatial sizes, got {x.shape}")
        w = self.param("kernel", nn.initializers.lecun_normal(), (5, 5, x.shape[-1], self.features))
        b = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        return _conv(space_to_depth(x), conv_kernel_s2d(w)) + b.reshape(1, 1, 1, -1)


class StridedConvTranspose(nn.Module):
    """`nn.ConvTranspose(features, (5, 5), strides=2, padding='SAME')`, via depth-to-space."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.param("kernel", nn.initializers.lecun_normal(), (5, 5, x.shape[-1], self.features))
        b = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        return depth_to_space(_conv(x, deconv_kernel_d2s(w))) + b.reshape(1, 1, 1, -1)
