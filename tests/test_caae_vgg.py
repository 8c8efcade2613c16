"""VGG-Face: loading an official-structure .mat (written here, tiny) and the features."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.io

from clifer_jax.caae import config as C
from clifer_jax.caae import train as T
from clifer_jax.caae import vgg_face

WIDTHS = ((2, 3), (3, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2))


def _cell(*items):
    a = np.empty((1, len(items)), dtype=object)
    for i, it in enumerate(items):
        a[0, i] = it
    return a


def write_tiny_vgg_face(path, seed=0, mean=(120.0, 100.0, 90.0)):
    """A .mat laid out like the official vgg_face.mat: net.layers{i}.{type,name,weights},
    net.normalization.averageImage; conv kernels [3, 3, in, out], biases [out, 1]."""
    rng = np.random.default_rng(seed)
    layers, c_in, weights = [], 3, {}
    for b, block in enumerate(WIDTHS, start=1):
        for i, f in enumerate(block, start=1):
            name = f"conv{b}_{i}"
            w = rng.normal(0, 0.3, (3, 3, c_in, f)).astype(np.float32)
            bias = rng.normal(0, 0.1, (f, 1)).astype(np.float32)
            weights[name] = (w, bias[:, 0])
            layers.append({"type": "conv", "name": name, "weights": _cell(w, bias), "stride": 1, "pad": 1})
            layers.append({"type": "relu", "name": f"relu{b}_{i}"})
            c_in = f
        layers.append({"type": "pool", "name": f"pool{b}", "method": "max", "stride": 2})
    fc = rng.normal(size=(1, 1, c_in, 4)).astype(np.float32)
    layers.append({"type": "conv", "name": "fc6", "weights": _cell(fc, np.zeros((4, 1), np.float32))})
    layers.append({"type": "softmax", "name": "prob"})
    net = {"layers": _cell(*layers), "normalization": {"averageImage": np.array(mean, np.float32).reshape(1, 1, 3)}}
    scipy.io.savemat(path, {"net": net})
    return weights


def _np_conv_relu(x, w, b):
    """SAME 3×3 correlation + bias + ReLU, [H, W, C] NumPy reference."""
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    h, wd, _ = x.shape
    out = np.zeros((h, wd, w.shape[-1]))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("hwc,cf->hwf", xp[dy : dy + h, dx : dx + wd], w[dy, dx])
    return np.maximum(out + b, 0)


def test_loads_official_structure(tmp_path):
    path = tmp_path / "vgg_face.mat"
    ref = write_tiny_vgg_face(path)
    wts = vgg_face.load_vgg_face_mat(path)
    assert wts.widths == WIDTHS
    assert "fc6" not in wts.params
    np.testing.assert_array_equal(wts.params["conv2_1"]["kernel"], ref["conv2_1"][0])
    np.testing.assert_array_equal(wts.params["conv5_3"]["bias"], ref["conv5_3"][1])
    np.testing.assert_allclose(wts.mean_rgb, [120.0, 100.0, 90.0])


def test_features_match_numpy_reference(tmp_path):
    path = tmp_path / "vgg_face.mat"
    ref = write_tiny_vgg_face(path, seed=1)
    wts = vgg_face.load_vgg_face_mat(path)
    img = np.random.default_rng(2).uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32)
    feats = vgg_face.features(wts, jnp.asarray(img))
    assert [f.shape for f in feats] == [(1, 32, 32, 3), (1, 16, 16, 2), (1, 8, 8, 2), (1, 4, 4, 2), (1, 2, 2, 2)]
    x = np.repeat(img[0], 3, axis=-1).astype(np.float64) * 127.5 + 127.5 - np.array([120.0, 100.0, 90.0])
    h = _np_conv_relu(x, *ref["conv1_1"])
    h = _np_conv_relu(h, *ref["conv1_2"])
    np.testing.assert_allclose(np.asarray(feats[0][0]), h, rtol=1e-4, atol=1e-3)
    pooled = h.reshape(16, 2, 16, 2, -1).max(axis=(1, 3))
    h2 = _np_conv_relu(_np_conv_relu(pooled, *ref["conv2_1"]), *ref["conv2_2"])
    np.testing.assert_allclose(np.asarray(feats[1][0]), h2, rtol=1e-4, atol=1e-2)


def test_missing_or_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        vgg_face.load_vgg_face_mat(tmp_path / "nope.mat")
    bad = tmp_path / "bad.mat"
    scipy.io.savemat(bad, {"something": np.zeros(3)})
    with pytest.raises(ValueError, match="layers"):
        vgg_face.load_vgg_face_mat(bad)


def test_a_caae_trains_with_the_vgg_face_identity_loss(tmp_path):
    """The VGG-Face identity loss inside the jitted training step: its block widths are
    static (traced, they could not set the network's shapes, and training crashed)."""
    write_tiny_vgg_face(tmp_path / "vgg_face.mat")
    vgg = vgg_face.load_vgg_face_mat(tmp_path / "vgg_face.mat")
    images = np.random.default_rng(0).integers(0, 256, (16, 64, 64, 1), dtype=np.uint8)
    cfg = C.tiny().replace(epochs=1, batch_size=16, identity_net="vgg-face", identity_weight=0.5)
    state, hist = T.train(cfg, images, np.arange(16) % 6, seed=0, vgg=vgg, progress=False)
    assert np.isfinite(hist[-1]["identity"]) and hist[-1]["identity"] > 0
    assert all(np.isfinite(np.asarray(a)).all() for a in jax.tree.leaves(state.ae_params))
