"""Bad input gets a clear error at the public boundary."""

import numpy as np
import pytest

from clifer_jax import gwr

CFG = gwr.GWRConfig(dim=4, capacity=16, num_heads=2, num_classes=3)


def _state():
    return gwr.init(CFG, np.zeros((2, 4), np.float32), np.zeros((2, 2), np.int32))


@pytest.mark.parametrize("kw, match", [
    (dict(max_nodes=17), "max_nodes"),
    (dict(activity_threshold=1.0), "activity_threshold"),
    (dict(activity_threshold=0.0), "activity_threshold"),
    (dict(habituation_threshold=1.5), "habituation_threshold"),
    (dict(eps_b=0.0), "eps_b"),
    (dict(kappa=0.5), "kappa"),
    (dict(capacity=1), "capacity"),
    (dict(distance="cosine"), "distance"),
    (dict(beta=1.2), "beta"),
    (dict(dtype="int32"), "dtype"),
])
def test_bad_hyperparameters(kw, match):
    with pytest.raises(ValueError, match=match):
        gwr.GWRConfig(**{**dict(dim=4, capacity=16), **kw})


def test_wrong_feature_size():
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 4\]"):
        gwr.train(CFG, _state(), np.zeros((5, 3), np.float32), np.zeros((5, 2), np.int32))
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 4\]"):
        gwr.predict(CFG, _state(), np.zeros((5, 7), np.float32))


def test_nan_and_inf_inputs():
    x = np.zeros((5, 4), np.float32)
    x[2, 1] = np.nan
    x[3, 0] = np.inf
    with pytest.raises(ValueError, match="2 NaN/inf"):
        gwr.train(CFG, _state(), x, np.zeros((5, 2), np.int32))
    with pytest.raises(ValueError, match="NaN/inf"):
        gwr.init(CFG, x[2:4], np.zeros((2, 2), np.int32))


@pytest.mark.parametrize("bad", [3, -2])
def test_labels_out_of_range(bad):
    y = np.zeros((5, 2), np.int32)
    y[1, 0] = bad
    with pytest.raises(ValueError, match=r"\[-1, 3\)"):
        gwr.train(CFG, _state(), np.zeros((5, 4), np.float32), y)


def test_label_heads_and_dtypes():
    with pytest.raises(ValueError, match="one column per label head"):
        gwr.train(CFG, _state(), np.zeros((5, 4), np.float32), np.zeros((5, 1), np.int32))
    with pytest.raises(TypeError, match="integers"):
        gwr.train(CFG, _state(), np.zeros((5, 4), np.float32), np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match="valid"):
        gwr.train(CFG, _state(), np.zeros((5, 4), np.float32), np.zeros((5, 2), np.int32),
                  valid=np.ones(4, bool))


def test_init_and_state_mismatch():
    with pytest.raises(ValueError, match="exactly two samples"):
        gwr.init(CFG, np.zeros((3, 4), np.float32))
    other = gwr.GWRConfig(dim=4, capacity=32)
    with pytest.raises(ValueError, match="does not match config"):
        gwr.train(other, _state(), np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="epochs"):
        gwr.train(CFG, _state(), np.zeros((5, 4), np.float32), epochs=0)
    with pytest.raises(ValueError, match="edge log"):
        gwr.train(CFG.replace(edge_log=64), _state(), np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="edge_log"):
        gwr.GWRConfig(dim=4, edge_log=-1)


def test_config_accepts_numpy_integers_and_refuses_non_finite_numbers():
    import numpy as np

    from clifer_jax.gwr import GWRConfig

    c = GWRConfig(dim=np.int64(5), capacity=np.int32(8), max_age=np.int64(10))
    assert (type(c.dim), c.capacity, c.max_age) == (int, 8, 10)
    for field, bad in (("kappa", float("inf")), ("eps_b", float("nan")), ("activity_threshold", float("nan"))):
        with pytest.raises(ValueError, match=f"{field} must be a finite number"):
            GWRConfig(dim=5, capacity=8, **{field: bad})
