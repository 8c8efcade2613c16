"""Test-wide settings: strict rank promotion so silent broadcasting bugs fail loudly, and
compiled executables released after each test module.

Every XLA:CPU executable keeps its code in memory mappings; one pytest process compiles
thousands of them, and past the kernel's per-process mapping limit (vm.max_map_count,
65,530 by default) the next compilation aborts the process. Clearing JAX's caches
between modules keeps the count bounded.
"""

import gc
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    yield
    jax.clear_caches()
    gc.collect()
