"""A small workload for the sharding tests: GWR and GDM batches and one experiment model,
run either with plain `jax.vmap` on one device (the reference) or through the sharded
entry points. Imported by the subprocesses of tests/test_sharding.py."""

from __future__ import annotations

import numpy as np

import jax

from clifer_jax import gdm, gwr, sharding, study
import gwr_jit

GWR_CFG = gwr.episodic_config(8, 32)
GDM_CFG = gdm.GDMConfig(dim=8, capacity=24)
# The numbers, as the sharded entry points pass them (defaults, shared by every network).
GWR_PARAMS = gwr.GWRParams().cast(GWR_CFG.dtype)
GDM_PARAMS = gdm.GDMParams().cast(GDM_CFG.dtype)


def gwr_data(s: int):
    rng = np.random.default_rng(s)
    xs = rng.uniform(-1, 1, (s, 40, 8)).astype(np.float32)
    ys = rng.integers(0, 6, (s, 40, 2)).astype(np.int32)
    valid = rng.random((s, 40)) > 0.1
    return xs, ys, valid


def gdm_data(s: int):
    rng = np.random.default_rng(100 + s)
    centres = rng.uniform(-0.6, 0.6, (s, 2, 8))
    x = (centres[:, :, None] + 0.08 * rng.standard_normal((s, 2, 12, 8))).astype(np.float32)
    y = np.broadcast_to(np.array([0, 1])[None, :, None], (s, 2, 12)).astype(np.int32).copy()
    m = np.ones((s, 2, 12), bool)
    m[:, 1, -3:] = False
    return x, y, m


def _vmapped(xs, ys, valid, x, y, m) -> tuple:
    # The params are traced arguments shared by all networks (in_axes None), as in the
    # sharded entry points.
    init = jax.vmap(lambda x, y, p: gwr.init_unchecked(GWR_CFG, p, x, y), in_axes=(0, 0, None))
    train = jax.vmap(lambda st, x, y, v, p: gwr_jit.train_unchecked(GWR_CFG, p, st, x, y, v, epochs=2),
                     in_axes=(0, 0, 0, 0, None))
    st = train(init(xs[:, :2], ys[:, :2], GWR_PARAMS), xs, ys, valid, GWR_PARAMS)
    p = jax.vmap(lambda st, x, p: gwr_jit.predict_unchecked(GWR_CFG, p, st, x), in_axes=(0, 0, None))(
        st, xs, GWR_PARAMS)
    g = jax.vmap(lambda a, b, c, p: gdm.init_unchecked(GDM_CFG, p, a, b, c), in_axes=(0, 0, 0, None))(
        x[:, 0], y[:, 0], m[:, 0], GDM_PARAMS)
    # The GWR kernels inside are plain functions: jit the GDM calls as the sharded path does.
    learn = jax.jit(jax.vmap(lambda st, a, b, c_, p: gdm.learn_class_unchecked(GDM_CFG, p, st, a, b, c_),
                             in_axes=(0, 0, 0, 0, None)))
    for c in range(2):
        g = learn(g, x[:, c], y[:, c], m[:, c], GDM_PARAMS)
    gp = jax.jit(jax.vmap(lambda st, a, p: gdm.predict_unchecked(GDM_CFG, p, st, a), in_axes=(0, 0, None)))(
        g, x[:, 1], GDM_PARAMS)
    return st, p, g, gp


def reference(s: int) -> dict:
    """Everything with one jax.vmap over all s subjects on the default device."""
    return _flatten(*_vmapped(*(gwr_data(s) + gdm_data(s))))


def sharded(s: int, devices=None) -> dict:
    """The same through gwr.*_sharded / gdm.*_sharded over `devices` (default: all)."""
    xs, ys, valid = gwr_data(s)
    st = gwr.init_sharded(GWR_CFG, xs[:, :2], ys[:, :2], devices=devices)
    st = gwr.train_sharded(GWR_CFG, st, xs, ys, valid, epochs=2, devices=devices)
    p = gwr.predict_sharded(GWR_CFG, st, xs, devices=devices)
    x, y, m = gdm_data(s)
    g = gdm.init_sharded(GDM_CFG, x[:, 0], y[:, 0], m[:, 0], devices=devices)
    for c in range(2):
        g = gdm.learn_class_sharded(GDM_CFG, g, x[:, c], y[:, c], m[:, c], devices=devices)
    gp = gdm.predict_sharded(GDM_CFG, g, x[:, 1], devices=devices)
    return _flatten(st, p, g, gp)


def _flatten(st, p, g, gp) -> dict:
    out = {"gwr_state": st, "gwr_pred": p, "gdm_state": g, "gdm_pred": gp}
    host = sharding.gather(out)
    flat, _ = jax.tree_util.tree_flatten_with_path(host)
    return {jax.tree_util.keystr(k): np.asarray(v) for k, v in flat}


def experiment_run(s: int, devices=None) -> dict:
    """One GDM model's whole loop for s subjects (tests/test_experiment.py's data)."""
    import sys
    sys.path.insert(0, "tests")
    from test_experiment import ORDER, configs, make_data
    data = make_data(1)
    data = jax.tree.map(lambda a: np.concatenate([a, a])[:s], data)
    g, _ = configs()
    run = study.make_run("gdm_replay", g)
    return study.run_subjects(run, jax.random.key(3), data, ORDER, None, devices=devices)


def assert_same(a: dict, b: dict, what: str, exact: bool = False) -> None:
    """Integers and booleans (topology, counters, BMUs, labels) bit for bit; floats
    (weights, distances) to 1e-5 unless exact (distances come from |x|² + |w|² − 2x·w,
    which turns a last-bit difference into ~1e-6 near zero). XLA compiles each vmap batch size
    separately and float results may differ in the last bit between batch sizes —
    on one device as much as across devices."""
    assert a.keys() == b.keys(), (what, sorted(set(a) ^ set(b)))
    for k in a:
        assert a[k].shape == b[k].shape, (what, k, a[k].shape, b[k].shape)
        if not exact and np.issubdtype(a[k].dtype, np.floating):
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-5, err_msg=f"{what}: {k}")
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{what}: {k}")
