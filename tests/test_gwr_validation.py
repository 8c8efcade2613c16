"""Bad input gets a clear error at the public boundary."""

import jax
import numpy as np
import pytest

from clifer_jax import gwr

CFG = gwr.GWRConfig(dim=4, capacity=16, num_heads=2, num_classes=3)


def _state():
    return gwr.init(CFG, np.zeros((2, 4), np.float32), np.zeros((2, 2), np.int32))


@pytest.mark.parametrize("kw, match", [
    (dict(max_nodes=17), "max_nodes"),
    (dict(capacity=1), "capacity"),
    (dict(distance="cosine"), "distance"),
    (dict(dtype="int32"), "dtype"),
])
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        gwr.GWRConfig(**{**dict(dim=4, capacity=16), **kw})


@pytest.mark.parametrize("kw, match", [
    (dict(activity_threshold=1.0), "activity_threshold"),
    (dict(activity_threshold=0.0), "activity_threshold"),
    (dict(habituation_threshold=1.5), "habituation_threshold"),
    (dict(eps_b=0.0), "eps_b"),
    (dict(kappa=0.5), "kappa"),
    (dict(beta=1.2), "beta"),
])
def test_bad_hyperparameters(kw, match):
    """The numbers are params: refused by `check_params` and by every validated entry point."""
    params = gwr.GWRParams(**kw)
    with pytest.raises(ValueError, match=match):
        gwr.check_params(params)
    with pytest.raises(ValueError, match=match):
        gwr.init(CFG, np.zeros((2, 4), np.float32), np.zeros((2, 2), np.int32), params)
    with pytest.raises(ValueError, match=match):
        gwr.train(CFG, _state(), np.zeros((5, 4), np.float32), params=params)


def test_config_refuses_a_number():
    """The numbers live in `GWRParams`, not in the static config."""
    with pytest.raises(TypeError, match="activity_threshold"):
        gwr.GWRConfig(dim=3, activity_threshold=0.3)
    with pytest.raises(TypeError, match="max_age"):
        gwr.episodic_config(3, 8, max_age=10)
    with pytest.raises(TypeError, match="eps_b"):
        gwr.semantic_config(3, 8, eps_b=0.05)


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
    with pytest.raises(ValueError, match="neighbour lists have shape"):
        gwr.train(CFG.replace(max_degree=CFG.max_degree + 1), _state(), np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="max_degree must be an int >= 2"):
        gwr.GWRConfig(dim=4, max_degree=1)


def test_config_accepts_numpy_integers_and_params_refuse_non_finite_numbers():
    from clifer_jax.gwr import GWRConfig, GWRParams

    c = GWRConfig(dim=np.int64(5), capacity=np.int32(8))
    assert (type(c.dim), c.capacity) == (int, 8)
    p = GWRParams(max_age=np.int64(10))
    p.check()
    assert int(p.cast().max_age) == 10 and p.cast().max_age.dtype == np.int32
    for field, bad in (("kappa", float("inf")), ("eps_b", float("nan")), ("activity_threshold", float("nan"))):
        with pytest.raises(ValueError, match=f"{field} must be a finite number"):
            GWRParams(**{field: bad}).check()


def test_one_head_network_takes_labels_without_the_head_axis():
    """With one label head, labels [T] (and [2] in `init`) are the same as [T, 1]."""
    cfg = gwr.GWRConfig(dim=4, capacity=16, num_classes=3)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (20, 4)).astype(np.float32)
    y = rng.integers(-1, 3, 20).astype(np.int32)
    flat = gwr.train(cfg, gwr.init(cfg, x[:2], y[:2]), x, y, epochs=2)
    heads = gwr.train(cfg, gwr.init(cfg, x[:2], y[:2, None]), x, y[:, None], epochs=2)
    assert int(heads.num_nodes) > 2
    for a, b in zip(jax.tree.leaves(flat), jax.tree.leaves(heads)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(gwr.init(cfg, x[:2], y[:2]).label_hist),
                                  np.asarray(gwr.init(cfg, x[:2], y[:2, None]).label_hist))
    # Two heads still need the head axis.
    with pytest.raises(ValueError, match="one column per label head"):
        gwr.train(CFG, _state(), x, np.zeros(20, np.int32))
