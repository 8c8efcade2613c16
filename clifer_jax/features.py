"""Memory features: encoder latents mapped by one fitted transform (docs/design.md, "Features").

The memories never see raw CAAE latents. Every feature — of a training frame, a test
frame or an imagined face — goes through the same `FeatureTransform`, fitted once on
the CAAE's own training pool (no evaluation subject is looked at):

    transform = features.fit(caae.encode(params, pool_images), kind="pool")
    feats = features.encode(params, transform, images)          # [B, D] memory features
    imagined = features.imagine_unchecked((params, transform), v, c)   # stays in feature space


Imagination runs in the memories' space: G receives `transform.inverse(v)`, and E's
output is mapped forward again before it reaches a memory. Feeding standardised
vectors to G as if they were latents (or raw latents to standardised memories) mixes
two coordinate systems.
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from clifer_jax.caae import api as caae

KINDS: tuple[str, ...] = ("pool", "none")
_EPS = 1e-6


@struct.dataclass
class FeatureTransform:
    """feature = (latent − mean) / std, per dimension. mean, std: [D] float32.

    The identity transform has mean 0 and std 1 (`identity(D)`).
    """

    mean: jax.Array
    std: jax.Array

    def forward(self, z: jax.Array) -> jax.Array:
        """Latents [..., D] → memory features [..., D]. Traceable."""
        return (z - _lead(self.mean, z)) / _lead(self.std, z)

    def inverse(self, v: jax.Array) -> jax.Array:
        """Memory features [..., D] → latents [..., D]. Traceable."""
        return v * _lead(self.std, v) + _lead(self.mean, v)

    @property
    def dim(self) -> int:
        return int(np.shape(self.mean)[-1])

    def to_dict(self) -> dict:
        return {"mean": np.asarray(self.mean).tolist(), "std": np.asarray(self.std).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureTransform":
        return _checked(np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32))


def _lead(a: jax.Array, like: jax.Array) -> jax.Array:
    """[D] → [1, …, 1, D] with like's rank (explicit broadcasting, rank promotion stays strict)."""
    return jnp.reshape(a, (1,) * (jnp.ndim(like) - 1) + (-1,))


def _checked(mean: np.ndarray, std: np.ndarray) -> FeatureTransform:
    if mean.ndim != 1 or mean.shape != std.shape or mean.size == 0:
        raise ValueError(f"a feature transform needs mean and std of one shape [D], got "
                         f"{mean.shape} and {std.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise ValueError("feature transform: mean and std must be finite")
    if np.any(std <= 0):
        raise ValueError("feature transform: std must be positive in every dimension")
    return FeatureTransform(mean=jnp.asarray(mean, jnp.float32), std=jnp.asarray(std, jnp.float32))


def identity(dim: int) -> FeatureTransform:
    """The transform that leaves latents as they are."""
    if int(dim) < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return _checked(np.zeros(int(dim), np.float32), np.ones(int(dim), np.float32))


def fit(latents, kind: str = "pool") -> FeatureTransform:
    """The transform of `kind` fitted on latents [B, D] (the CAAE's training pool):
    "pool" standardises each dimension by the pool's mean and std, "none" is the identity."""
    if kind not in KINDS:
        raise ValueError(f"unknown feature transform {kind!r}; expected one of {KINDS}")
    z = np.asarray(latents, np.float64)
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"fit needs latents [B >= 2, D], got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("fit: latents contain NaN or inf")
    if kind == "none":
        return identity(z.shape[1])
    return _checked(z.mean(0).astype(np.float32), (z.std(0) + _EPS).astype(np.float32))


def in_feature_space(latent_imagine):
    """A latent-space imagination latent_imagine(p, z, c) -> z' turned into one on memory
    features: fn((p, transform), v, c) = transform.forward(latent_imagine(p, transform.inverse(v), c)).

    v [B, D] memory features, c int [B] → [B, D]. Traceable and unvalidated (CLIFER's step
    calls it inside `jit`/`vmap`)."""

    def imagine(params, v: jax.Array, c: jax.Array) -> jax.Array:
        latent_params, transform = params
        return transform.forward(latent_imagine(latent_params, transform.inverse(v), c))

    return imagine


# The CAAE's imagination, z' = E(G(z, c)), on memory features: params = (CAAEParams, transform).
imagine_unchecked = in_feature_space(caae.imagine_unchecked)


def encode(params: caae.CAAEParams, transform: FeatureTransform, images, *, batch_size: int = 256) -> np.ndarray:
    """Memory features of images [B, H, W, ch] (validated like `caae.encode`) → [B, D]."""
    _check_dims(params, transform)
    return np.asarray(transform.forward(caae.encode(params, images, batch_size=batch_size)), np.float32)


def encode_masked(params: caae.CAAEParams, transform: FeatureTransform, images, mask) -> np.ndarray:
    """Padded images [..., H, W, ch] with mask [...] → features [..., D]; padding rows are 0."""
    _check_dims(params, transform)
    x, m = np.asarray(images), np.asarray(mask, bool)
    if x.shape[: m.ndim] != m.shape:
        raise ValueError(f"mask {m.shape} does not match the leading axes of images {x.shape}")
    out = np.zeros(m.shape + (transform.dim,), np.float32)
    if m.any():
        out[m] = encode(params, transform, x[m])
    return out


def _check_dims(params: caae.CAAEParams, transform: FeatureTransform) -> None:
    if transform.dim != params.config.z_dim:
        raise ValueError(f"feature transform has dim {transform.dim} but the CAAE's z has "
                         f"{params.config.z_dim}")


def encode_subjects(params: caae.CAAEParams, pool_images, train_x, train_mask, test_x, test_mask,
                    norm: str = "pool") -> dict:
    """Memory features of training and test images [S, C, L, ...] -> [S, C, L, D] (padding
    rows 0) and the feature transform, fitted on the CAAE's training pool `pool_images` (no
    evaluation subject is looked at). Returns {"train", "test", "transform_mean",
    "transform_std"} (`stored_transform` rebuilds the transform)."""
    transform = fit(caae.encode(params, pool_images), norm)
    return {"train": encode_masked(params, transform, train_x, train_mask),
            "test": encode_masked(params, transform, test_x, test_mask),
            "transform_mean": np.asarray(transform.mean), "transform_std": np.asarray(transform.std)}


def stored_transform(feats: dict) -> FeatureTransform:
    """The feature transform stored with features by `encode_subjects`."""
    return FeatureTransform.from_dict({"mean": feats["transform_mean"], "std": feats["transform_std"]})


def save(path, transform: FeatureTransform, kind: str) -> None:
    """Write the transform as JSON (atomically) next to a run's CAAE checkpoint."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({"kind": kind, **transform.to_dict()}, f)
    os.replace(tmp, path)


def load(path) -> tuple[FeatureTransform, str]:
    """(transform, kind) from a file written by `save`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no feature transform at {path}")
    with open(path) as f:
        d = json.load(f)
    return FeatureTransform.from_dict(d), d.get("kind", "pool")
