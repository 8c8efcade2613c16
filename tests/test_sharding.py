"""Subjects sharded over 4 (virtual CPU) devices, and over 2 processes × 2 devices
(`jax.distributed` on localhost), give exactly the unsharded results, also for a
subject count that is not a multiple of the device count. Runs in subprocesses
because the device count is fixed when JAX starts."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, "tests")
    import jax, numpy as np
    assert jax.device_count() == 4, jax.devices()
    from clifer_jax import study
    from test_experiment import make_data, ORDER, oracle_imagine, configs
    import jax.numpy as jnp
    data = make_data(1)                             # 4 subjects
    data6 = jax.tree.map(lambda a: np.concatenate([a, a[:2] + 0]), data)   # 6 subjects
    g, m = configs()
    # Adam's default eps=1e-7 amplifies float32 summation-order noise between batch
    # shapes in the MLP (tests/test_mlp.py has the same setting for its vmap test).
    m = m.__class__(**{**m.__dict__, "eps": 1e-3})
    params = {"e": jnp.zeros((6, 12)).at[jnp.arange(6), jnp.arange(6)].set(1.5)}
    # 6 subjects over 4 devices: sharded and padded (the 4-subject, unpadded case is
    # in the GWR/GDM script below); the 4-subject set runs for one model only.
    for model, sets in (("gdm", (data6,)), ("clifer", (data, data6)), ("mlp_joint", (data6,))):
        run = study.make_run(model, g, m, imagine_fn=oracle_imagine)
        for d in sets:
            one = study.run_subjects(run, jax.random.key(1), d, ORDER, params)
            four = study.run_subjects(run, jax.random.key(1), d, ORDER, params, devices=jax.devices())
            assert one.keys() == four.keys()
            for k in one:
                assert one[k].shape == four[k].shape, (model, k, one[k].shape, four[k].shape)
                np.testing.assert_array_equal(one[k], four[k], err_msg=f"{model} {k} S={len(d.x)}")
    print("SHARDED_OK")
""")


ROOT = Path(__file__).resolve().parents[1]


def _env(devices: int) -> dict:
    return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
                JAX_PLATFORMS="cpu")


def test_sharded_equals_unsharded_on_four_devices():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=_env(4), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SHARDED_OK" in proc.stdout


GWR_GDM_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, "tests")
    import jax
    assert jax.device_count() == 4, jax.devices()
    from sharded_workload import assert_same, reference, sharded
    for s, devices in ((6, 4), (1, 4), (4, 2)):      # padded 6 → 8, 1 → 4; 4 over 2 unpadded
        assert_same(reference(s), sharded(s, devices=devices), f"{devices} devices, S={s}")

    import numpy as np
    from jax.sharding import PartitionSpec as P
    from clifer_jax import gwr, sharding
    from sharded_workload import GWR_CFG, gwr_data
    fn = lambda a, b: a * 2 + b
    out = sharding.map_subjects(fn, np.arange(5.0), np.float32(1.0), in_axes=(0, None))   # 5 → 8 → 5
    np.testing.assert_array_equal(np.asarray(out), np.arange(5.0) * 2 + 1)
    # Arrays committed to single devices (e.g. restored parameters) are placed on the mesh.
    a = jax.device_put(np.arange(8.0), jax.devices()[1])
    b = jax.device_put(np.float32(1.0), jax.devices()[0])
    out = sharding.map_subjects(fn, a, b, in_axes=(0, None))
    np.testing.assert_array_equal(np.asarray(out), np.arange(8.0) * 2 + 1)
    assert out.sharding.spec == P("subjects"), out.sharding
    # With S a multiple of the device count, states stay split by network between calls.
    xs, ys, _ = gwr_data(8)
    st = gwr.train_sharded(GWR_CFG, gwr.init_sharded(GWR_CFG, xs[:, :2], ys[:, :2]), xs, ys)
    assert st.weights.sharding.spec == P("subjects") and len(st.weights.sharding.device_set) == 4
    print("SHARDED_OK")
""")


@pytest.mark.slow
def test_sharded_gwr_and_gdm_entry_points_equal_vmap():
    proc = subprocess.run([sys.executable, "-c", GWR_GDM_SCRIPT], cwd=ROOT, env=_env(4),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SHARDED_OK" in proc.stdout


PROCESS_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, "tests")
    port, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    from clifer_jax import sharding
    sharding.initialize(f"localhost:{port}", num_processes=2, process_id=pid)
    import jax, numpy as np
    assert (jax.process_count(), jax.device_count(), jax.local_device_count()) == (2, 4, 2)
    from sharded_workload import experiment_run, sharded
    res = {"gwr_gdm/" + k: v for k, v in sharded(5).items()}
    res.update({"experiment/" + k: v for k, v in experiment_run(6, devices=4).items()})
    np.savez(out, **res)
    print("PROCESS_OK", pid)
""")


@pytest.mark.slow
def test_two_processes_equal_one():
    """Multi-host readiness: 2 processes (2 CPU devices each) joined by jax.distributed."""
    import socket

    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    from sharded_workload import assert_same, experiment_run, reference

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        outs = [f"{tmp}/p{i}.npz" for i in range(2)]
        procs = [subprocess.Popen([sys.executable, "-c", PROCESS_SCRIPT, str(port), str(i), outs[i]],
                                  cwd=ROOT, env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for i in range(2)]
        logs = [p.communicate(timeout=600) for p in procs]
        for p, (o, e) in zip(procs, logs):
            assert p.returncode == 0, o[-3000:] + e[-3000:]
        got = [dict(np.load(f)) for f in outs]
    ref = {"gwr_gdm/" + k: v for k, v in reference(5).items()}
    ref.update({"experiment/" + k: v for k, v in experiment_run(6).items()})
    for g in got:                                   # every process holds the full results
        assert_same(ref, g, "2 processes x 2 devices")
        for k in ref:                               # the experiment's predicted labels exactly
            if k.startswith("experiment/"):
                np.testing.assert_array_equal(ref[k], g[k], err_msg=k)
