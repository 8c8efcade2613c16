"""encode / translate / imagine: shapes, input forms, batching, validation."""

import jax
import numpy as np
import pytest

from clifer_jax.caae import api
from clifer_jax.caae.models import init_variables
from test_caae_train import TINY


@pytest.fixture(scope="module")
def params():
    v = init_variables(TINY, jax.random.key(0))
    return api.CAAEParams(config=TINY, encoder=v["encoder"], generator=v["generator"])


def test_shapes_and_ranges(params):
    x = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 1), dtype=np.uint8)
    z = api.encode(params, x)
    assert z.shape == (5, 50) and float(np.abs(z).max()) <= 1
    t = api.translate(params, x, 3)
    assert t.shape == (5, 32, 32, 1) and 0 <= float(t.min()) and float(t.max()) <= 1
    zi = api.imagine(params, z, np.array([0, 1, 2, 3, 4]))
    assert zi.shape == (5, 50)
    np.testing.assert_allclose(zi, api.encode_unchecked(params, api.generate_unchecked(params, z, np.array([0, 1, 2, 3, 4]))), atol=1e-5)


def test_uint8_and_float_agree_and_chunking_is_invisible(params):
    x = np.random.default_rng(1).integers(0, 256, (7, 32, 32, 1), dtype=np.uint8)
    a = api.encode(params, x)
    b = api.encode(params, x.astype(np.float32) / 255.0)
    c = api.encode(params, x, batch_size=3)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, c, atol=1e-5)
    np.testing.assert_allclose(api.translate(params, x, 2, batch_size=2), api.translate(params, x, 2), atol=1e-5)


def test_traceable_core_under_jit_and_vmap(params):
    z = np.random.default_rng(2).uniform(-1, 1, (3, 4, 50)).astype(np.float32)
    c = np.array([[0, 1, 2, 3]] * 3, np.int32)
    out = jax.jit(jax.vmap(lambda zz, cc: api.imagine_unchecked(params, zz, cc)))(z, c)
    assert out.shape == (3, 4, 50)
    np.testing.assert_allclose(out[1], api.imagine(params, z[1], c[1]), atol=1e-5)


def test_validation_errors(params):
    good = np.zeros((2, 32, 32, 1), np.uint8)
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        api.encode(params, good[0])
    with pytest.raises(ValueError, match="expects 32"):
        api.encode(params, np.zeros((2, 64, 64, 1), np.uint8))
    with pytest.raises(ValueError, match="channels"):
        api.encode(params, np.zeros((2, 32, 32, 2), np.uint8))
    nan = np.zeros((2, 32, 32, 1), np.float32)
    nan[1, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        api.encode(params, nan)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        api.encode(params, np.full((2, 32, 32, 1), 3.0, np.float32))
    with pytest.raises(ValueError, match="uint8 or float"):
        api.encode(params, np.zeros((2, 32, 32, 1), np.int16))
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        api.translate(params, good, 6)
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        api.imagine(params, np.zeros((2, 50)), np.array([0, -1]))
    with pytest.raises(ValueError, match="integer"):
        api.translate(params, good, 1.5)
    with pytest.raises(ValueError, match="shape"):
        api.translate(params, good, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="z must be"):
        api.imagine(params, np.zeros((2, 49)), 0)
    with pytest.raises(ValueError, match="N must be"):
        api.encode(params, np.zeros((0, 32, 32, 1), np.uint8))
