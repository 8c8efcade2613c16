"""VGG-Face (Parkhi et al. 2015) in Flax, for the identity-preserving loss (docs/caae.md).

Weights load from the official MatConvNet file `vgg_face.mat` (robots.ox.ac.uk) with
`scipy.io.loadmat`; nothing downloads. The file's structure: a struct `net` with a
cell array `layers` (each a struct with `type`, `name`, `weights` = {W [3, 3, in, out], b})
and `normalization.averageImage` (the RGB mean). The newer `vgg-face.mat` (vlfeat) has
`layers` and `meta.normalization` at the top level; both are read.

Only the convolutional part is built (conv1_1 … conv5_3; five blocks of 2, 2, 3, 3, 3
3×3 convs with ReLU, max-pool between blocks). `features` returns the ReLU outputs of
conv1_2, conv2_2, conv3_2, conv4_2 and conv5_2. MatConvNet convolutions are
correlations in HWIO layout, the same as `lax.conv`, so the kernels are used as stored.
"""

from __future__ import annotations

import os
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import scipy.io
from flax import struct

BLOCKS: tuple[int, ...] = (2, 2, 3, 3, 3)
FEATURE_LAYERS: tuple[str, ...] = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
# The published VGG-Face mean image, RGB order (used when the file has none).
DEFAULT_MEAN_RGB = np.array([129.1863, 104.7624, 93.5940], np.float32)


@struct.dataclass
class VGGFaceWeights:
    """Loaded weights: Flax params {'conv1_1': {'kernel', 'bias'}, …}, the widths of each
    block (e.g. ((64, 64), (128, 128), …); static: they set the network's shapes, so the
    weights can be an argument of a jitted step) and the RGB mean [3] in 0–255 units."""

    params: dict
    widths: tuple[tuple[int, ...], ...] = struct.field(pytree_node=False)
    mean_rgb: np.ndarray


class VGGFace(nn.Module):
    """Convolutional VGG-Face up to conv5_2. Input [B, H, W, 3], mean-subtracted RGB 0–255.

    Returns the post-ReLU maps of `FEATURE_LAYERS` (a tuple of five arrays).
    """

    widths: tuple[tuple[int, ...], ...]

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, ...]:
        outs = []
        for b, block in enumerate(self.widths, start=1):
            if b > 1:
                x = nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")
            for i, f in enumerate(block, start=1):
                name = f"conv{b}_{i}"
                x = nn.relu(nn.Conv(f, (3, 3), padding="SAME", name=name)(x))
                if name in FEATURE_LAYERS:
                    outs.append(x)
                if name == FEATURE_LAYERS[-1]:
                    return tuple(outs)
        return tuple(outs)


def _field(obj, name: str):
    return getattr(obj, name) if hasattr(obj, name) else None


def load_vgg_face_mat(path: str | os.PathLike) -> VGGFaceWeights:
    """Read the conv layers of an official `vgg_face.mat` (or `vgg-face.mat`).

    Raises FileNotFoundError for a missing file and ValueError for a file without the
    expected layers (all of conv1_1 … conv5_2 with 3×3 kernels).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VGG-Face weights not found: {path!r} (get vgg_face.mat from the VGG site)")
    mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    net = mat.get("net")
    layers = _field(net, "layers") if net is not None else mat.get("layers")
    if layers is None:
        raise ValueError(f"{path!r} has no 'net.layers' or 'layers' entry: not a MatConvNet VGG-Face file")
    norm = None
    if net is not None:
        norm = _field(net, "normalization")
    elif "meta" in mat:
        norm = _field(mat["meta"], "normalization")
    params: dict = {}
    for layer in np.atleast_1d(layers):
        name = str(_field(layer, "name"))
        if str(_field(layer, "type")) != "conv" or not re.fullmatch(r"conv\d_\d", name):
            continue
        w, b = np.atleast_1d(_field(layer, "weights"))[:2]
        w = np.asarray(w, np.float32)
        if w.ndim == 3:  # a single output channel was squeezed away
            w = w[..., None]
        if w.ndim != 4 or w.shape[:2] != (3, 3):
            raise ValueError(f"layer {name}: expected a [3, 3, in, out] kernel, got {w.shape}")
        params[name] = {"kernel": w, "bias": np.asarray(b, np.float32).reshape(w.shape[-1])}
    widths = []
    for bi, n in enumerate(BLOCKS, start=1):
        block = []
        for i in range(1, n + 1):
            name = f"conv{bi}_{i}"
            if name not in params:
                if name in FEATURE_LAYERS or bi < 5:
                    raise ValueError(f"{path!r}: layer {name} missing")
                continue
            block.append(params[name]["kernel"].shape[-1])
        widths.append(tuple(block))
    if params["conv1_1"]["kernel"].shape[2] != 3:
        raise ValueError("conv1_1 must take 3 input channels (RGB)")
    mean = DEFAULT_MEAN_RGB
    avg = _field(norm, "averageImage") if norm is not None else None
    if avg is not None and np.size(avg) >= 3:
        mean = np.asarray(avg, np.float32).reshape(-1, 3).mean(axis=0)
    return VGGFaceWeights(params=params, widths=tuple(widths), mean_rgb=mean)


def features(weights: VGGFaceWeights, images: jax.Array) -> tuple[jax.Array, ...]:
    """VGG-Face feature maps of images [B, H, W, C] in [-1, 1] (C = 1 is repeated to RGB).

    Images are taken as RGB (docs/caae.md: the reference fed BGR; here the order is right),
    scaled to 0–255 and mean-subtracted. Returns the five maps of `FEATURE_LAYERS`.
    """
    if images.shape[-1] == 1:
        images = jnp.repeat(images, 3, axis=-1)
    x = (images + 1.0) * 127.5 - jnp.asarray(weights.mean_rgb).reshape(1, 1, 1, 3)
    used = {k: v for k, v in weights.params.items() if int(k[4]) < 5 or int(k[6]) <= 2}
    return VGGFace(weights.widths).apply({"params": used}, x)
