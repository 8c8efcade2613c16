"""Subjects sharded over 4 (virtual CPU) devices give exactly the unsharded results,
also for a subject count that is not a multiple of 4. Runs in a subprocess because
the device count is fixed when JAX starts."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, "tests")
    import jax, numpy as np
    assert jax.device_count() == 4, jax.devices()
    from clifer_jax import experiment, gdm, mlp
    from test_experiment import make_data, ORDER, oracle_imagine, configs
    import jax.numpy as jnp
    data = make_data(1)                             # 4 subjects
    data6 = jax.tree.map(lambda a: np.concatenate([a, a[:2] + 0]), data)   # 6 subjects
    g, m = configs()
    # Adam's default eps=1e-7 amplifies float32 summation-order noise between batch
    # shapes in the MLP (tests/test_mlp.py has the same setting for its vmap test).
    m = m.__class__(**{**m.__dict__, "eps": 1e-3})
    params = {"e": jnp.zeros((6, 12)).at[jnp.arange(6), jnp.arange(6)].set(1.5)}
    for model in ("gdm", "clifer", "mlp_joint"):
        run = experiment.make_run(model, g, m, imagine_fn=oracle_imagine)
        for d in (data, data6):
            one = experiment.run_subjects(run, jax.random.key(1), d, ORDER, params)
            four = experiment.run_subjects(run, jax.random.key(1), d, ORDER, params, devices=jax.devices())
            assert one.keys() == four.keys()
            for k in one:
                assert one[k].shape == four[k].shape, (model, k, one[k].shape, four[k].shape)
                np.testing.assert_array_equal(one[k], four[k], err_msg=f"{model} {k} S={len(d.x)}")
    print("SHARDED_OK")
""")


def test_sharded_equals_unsharded_on_four_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=root, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SHARDED_OK" in proc.stdout
