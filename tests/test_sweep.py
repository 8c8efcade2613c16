"""`clifer_jax.study.grid`: a grid of traced settings in one compiled call. A grid point equals
the single run with that setting, and a sweep of 8 values compiles once (docs/design.md)."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from clifer_jax import gdm, study
from clifer_jax.study import grid

pytestmark = pytest.mark.filterwarnings("ignore:.*memory full")

S, C, L, LT, D = 2, 3, 6, 3, 5
ORDER = (2, 0, 1)


def make_data(seed=0) -> study.SubjectData:
    rng = np.random.default_rng(seed)
    e = np.zeros((C, D)); e[np.arange(C), np.arange(C)] = 1.5
    x = (e[None, :, None] + 0.3 * rng.standard_normal((S, C, L, D))).astype(np.float32)
    xt = (e[None, :, None] + 0.3 * rng.standard_normal((S, C, LT, D))).astype(np.float32)
    y = np.broadcast_to(np.arange(C)[None, :, None], (S, C, L)).astype(np.int32)
    yt = np.broadcast_to(np.arange(C)[None, :, None], (S, C, LT)).astype(np.int32)
    mask = np.ones((S, C, L), bool)
    mask[:, :, -1] = False
    x[~mask] = 0.0
    return study.SubjectData(x=x, y=y, mask=mask, x_test=xt, y_test=yt,
                                  mask_test=np.ones((S, C, LT), bool))


CFG = gdm.GDMConfig(dim=D, capacity=C * L, num_classes=C, epochs=2, batch_size=3)


def with_a_t(a):
    p = gdm.GDMParams().cast()
    return p.replace(episodic=p.episodic.replace(activity_threshold=jnp.float32(a)))


def test_grid_point_equals_single_run():
    data = make_data()
    run = study.make_run("gdm_replay", CFG)
    key = study.model_key(0, "gdm_replay")
    values = [0.3, 0.9]
    params = study.stack([with_a_t(a) for a in values])
    orders = np.stack([ORDER, (0, 1, 2)])
    out = study.run_grid(run, study.point_keys(key, 2, S), data, orders, None, params)
    for i, (a, order) in enumerate(zip(values, orders)):
        single = study.run_subjects(run, key, data, order, params=with_a_t(a))
        for memory in ("episodic", "semantic"):
            np.testing.assert_array_equal(out[memory][i], single[memory])
    # the two settings differ (a grid that ignored its params would pass the loop above)
    assert not np.array_equal(out["episodic"][0], out["episodic"][1])


def test_sweep_of_eight_values_compiles_once():
    data = make_data(1)
    base = study.make_run("gdm", CFG)
    traces = []

    def run(*args):
        traces.append(1)                  # Python runs once per trace
        return base(*args)

    values = np.linspace(0.2, 0.9, 8)
    params = study.stack([with_a_t(a) for a in values])
    key = study.model_key(0, "gdm")
    orders = np.tile(np.asarray(ORDER), (8, 1))
    out = study.run_grid(run, study.point_keys(key, 8, S), data, orders, None, params)
    assert len(traces) == 1
    assert out["episodic"].shape == (8, S, C, C, LT)
    study.run_grid(run, study.point_keys(key, 8, S), data, orders, None,
                   study.stack([with_a_t(a) for a in values[::-1]]))
    assert len(traces) == 1               # new values, same compilation
    chunked = study.run_grid(run, study.point_keys(key, 8, S), data, orders, None, params, point_batch=3)
    # one more compiled function, compiled once: 3 points at a time (8 = 3 + 3 + 2; the chunk
    # and the remainder are traced separately inside it)
    assert grid._compiled(run, 3)._cache_size() == 1
    assert grid._compiled(run, None)._cache_size() == 1
    for memory in ("episodic", "semantic"):
        np.testing.assert_array_equal(chunked[memory], out[memory])


def test_grid_and_errors():
    assert grid.grid({"a": [1, 2], "b": [3]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}]
    with pytest.raises(ValueError, match="no values"):
        grid.grid({"a": []})
    data = make_data()
    run = study.make_run("gdm", CFG)
    with pytest.raises(ValueError, match="point_batch"):
        study.run_grid(run, study.point_keys(jax.random.key(0), 1, S), data, np.stack([ORDER]), None,
                       study.stack([with_a_t(0.3)]), point_batch=0)
    with pytest.raises(ValueError, match="leading grid axis"):
        study.run_grid(run, study.point_keys(jax.random.key(0), 2, S), data, np.stack([ORDER] * 2), None,
                       study.stack([with_a_t(0.3)] * 3))


def test_model_keys_are_stable():
    """A model's key depends on its registry id only (adding a model changes no other key)."""
    assert [study.REGISTRY[m].key_id for m in study.MODELS] == [0, 1, 2, 3, 4, 5, 6]
    k = study.model_key(7, "gdm_replay")
    assert jnp.array_equal(jax.random.key_data(k),
                           jax.random.key_data(jax.random.fold_in(jax.random.key(7), 3)))
    with pytest.raises(ValueError, match="unknown model"):
        study.model_key(0, "gdm++")


SHARDED = """
import sys
sys.path.insert(0, "tests")
import jax, numpy as np
assert jax.device_count() == 4, jax.devices()
from clifer_jax import study
from test_sweep import CFG, ORDER, S, make_data, with_a_t
data = make_data(2)
run = study.make_run("gdm", CFG)
params = study.stack([with_a_t(a) for a in (0.3, 0.6, 0.9)])      # 3 points over 4 devices: padded
keys = study.point_keys(study.model_key(0, "gdm"), 3, S)
orders = np.tile(np.asarray(ORDER), (3, 1))
one = study.run_grid(run, keys, data, orders, None, params)
four = study.run_grid(run, keys, data, orders, None, params, devices=4)
for k in one:
    np.testing.assert_array_equal(one[k], four[k], err_msg=k)
print("SWEEP_SHARDED_OK")
"""


def test_grid_points_sharded_over_four_devices():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SHARDED], cwd=Path(__file__).resolve().parents[1], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SWEEP_SHARDED_OK" in proc.stdout
