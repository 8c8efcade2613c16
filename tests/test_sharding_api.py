"""`clifer_jax.sharding` and the sharded GWR/GDM entry points on one device: they equal
plain vmap, and bad input gets a clear error before anything runs."""

import jax
import numpy as np
import pytest

from clifer_jax import gdm, gwr, sharding
from sharded_workload import GDM_CFG, GWR_CFG, assert_same, gdm_data, gwr_data, reference, sharded


def test_one_device_equals_vmap_exactly():
    assert_same(reference(3), sharded(3), "1 device", exact=True)


def test_map_subjects_pads_and_trims():
    fn = lambda a, b: a * 2 + b                      # noqa: E731
    out = sharding.map_subjects(fn, np.arange(5.0), np.float32(1.0), in_axes=(0, None))
    np.testing.assert_array_equal(np.asarray(out), np.arange(5.0) * 2 + 1)


def test_map_subjects_compiles_once_per_function():
    fn = lambda a: a + 1                               # noqa: E731
    sharding.map_subjects(fn, np.zeros(3, np.float32))
    before = sharding._compiled.cache_info()
    out = sharding.map_subjects(fn, np.ones(3, np.float32))
    after = sharding._compiled.cache_info()
    assert (after.misses, after.hits) == (before.misses, before.hits + 1)
    np.testing.assert_array_equal(np.asarray(out), 2.0)


@pytest.mark.parametrize("args, in_axes, match", [
    ((np.zeros(3), np.zeros(4)), 0, "one leading subject axis"),
    ((np.zeros(3),), (0, 0), "for each of the 1"),
    ((np.zeros(3),), 1, "0 or None"),
    ((np.zeros(3),), False, "0 or None"),
    ((np.zeros(3),), None, "no argument is mapped"),
    ((np.zeros((0, 2)),), 0, "zero subjects"),
    ((np.float32(1.0),), 0, "one leading subject axis"),
])
def test_map_subjects_rejects_bad_axes(args, in_axes, match):
    with pytest.raises(ValueError, match=match):
        sharding.map_subjects(lambda *a: a[0], *args, in_axes=in_axes)


def test_subject_mesh_devices():
    assert sharding.subject_mesh().devices.size == jax.device_count()
    assert sharding.subject_mesh(1).axis_names == (sharding.AXIS,)
    with pytest.raises(ValueError, match="device"):
        sharding.subject_mesh(jax.device_count() + 1)
    with pytest.raises(ValueError, match="empty"):
        sharding.subject_mesh([])
    assert sharding.padded_size(5, sharding.subject_mesh(1)) == 5


def test_gwr_sharded_validates():
    xs, ys, valid = gwr_data(2)
    states = gwr.init_sharded(GWR_CFG, xs[:, :2], ys[:, :2])
    with pytest.raises(ValueError, match=r"\[S, T, 8\]"):
        gwr.train_sharded(GWR_CFG, states, xs[0], ys[0])
    with pytest.raises(ValueError, match="must hold 1 networks"):
        gwr.train_sharded(GWR_CFG, states, xs[:1], ys[:1])
    bad = xs.copy()
    bad[1, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gwr.train_sharded(GWR_CFG, states, bad, ys)
    with pytest.raises(ValueError, match="lie in"):
        gwr.train_sharded(GWR_CFG, states, xs, ys + 10)
    with pytest.raises(ValueError, match="exactly two"):
        gwr.init_sharded(GWR_CFG, xs[:, :3])
    with pytest.raises(ValueError, match="epochs"):
        gwr.train_sharded(GWR_CFG, states, xs, ys, epochs=0)
    with pytest.raises(ValueError, match="valid"):
        gwr.train_sharded(GWR_CFG, states, xs, ys, valid[:, :3])


def test_gwr_sharded_params_per_network_or_shared():
    """A GWRParams of scalars is shared; one with [S] leaves gives each network its own
    numbers (the same as training each alone); any other shape is refused."""
    xs, ys, valid = gwr_data(2)
    values = [0.3, 0.8]
    per = jax.tree.map(lambda *a: np.stack(a), *[gwr.GWRParams(activity_threshold=a) for a in values])
    states = gwr.train_sharded(GWR_CFG, gwr.init_sharded(GWR_CFG, xs[:, :2], ys[:, :2], params=per), xs, ys,
                               valid, params=per)
    for i, a in enumerate(values):
        p = gwr.GWRParams(activity_threshold=a)
        one = gwr.train(GWR_CFG, gwr.init(GWR_CFG, xs[i, :2], ys[i, :2], p), xs[i], ys[i], valid[i], params=p)
        assert_same({"s": np.asarray(one.weights)}, {"s": np.asarray(states.weights[i])}, "per network")
        np.testing.assert_array_equal(np.asarray(one.neighbours), np.asarray(states.neighbours[i]))
    assert int(states.num_nodes[0]) < int(states.num_nodes[1])
    with pytest.raises(ValueError, match="leading axis of 2"):
        gwr.train_sharded(GWR_CFG, states, xs, ys, params=gwr.GWRParams(activity_threshold=np.array([0.3, 0.5, 0.7])))
    with pytest.raises(ValueError, match="activity_threshold"):
        gwr.predict_sharded(GWR_CFG, states, xs, params=gwr.GWRParams(activity_threshold=1.5))


def test_gwr_sharded_warns_when_full():
    xs, ys, _ = gwr_data(2)
    cfg = GWR_CFG.replace(capacity=4, max_nodes=4)
    states = gwr.init_sharded(cfg, xs[:, :2], ys[:, :2])
    with pytest.warns(RuntimeWarning, match="full"):
        gwr.train_sharded(cfg, states, xs, ys)


def test_gdm_sharded_validates():
    x, y, m = gdm_data(2)
    states = gdm.init_sharded(GDM_CFG, x[:, 0], y[:, 0], m[:, 0])
    with pytest.raises(ValueError, match="subject 1"):
        gdm.learn_class_sharded(GDM_CFG, states, x[:, 1], np.where(np.arange(2)[:, None] == 1, 9, y[:, 1]))
    with pytest.raises(ValueError, match=r"\[S, L, 8\]"):
        gdm.learn_class_sharded(GDM_CFG, states, x[0, 1], y[0, 1])
    with pytest.raises(ValueError, match="must hold 3 subjects"):
        gdm.learn_class_sharded(GDM_CFG, states, np.concatenate([x[:, 1], x[:1, 1]]),
                                np.concatenate([y[:, 1], y[:1, 1]]))
    with pytest.raises(ValueError, match="at least 2"):
        gdm.init_sharded(GDM_CFG, x[:, 0], y[:, 0], np.zeros_like(m[:, 0]))
    with pytest.raises(ValueError, match=r"\[S, B, 8\]"):
        gdm.predict_sharded(GDM_CFG, states, x[0, 0])
