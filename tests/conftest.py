"""Test-wide settings: strict rank promotion so silent broadcasting bugs fail loudly, and
compiled executables released after each test module.

Every XLA:CPU executable keeps its code in memory mappings; one pytest process compiles
thousands of them, and past the kernel's per-process mapping limit (vm.max_map_count,
65,530 by default) the next compilation aborts the process. Clearing JAX's caches
between modules keeps the count bounded.

A compilation cache on disk, private to this pytest session, lets a program compiled once
be loaded instead of compiled again. Most of the suite's time is XLA compilation of the
same programs: `caae.train.train` builds new optimiser closures on every call (static
fields of the state), so `jax.jit` traces and compiles the same training step again for
each run, the runner tests run the same tiny experiment several times, and every module
initialises the same networks op by op (eager), compiling each operation again after the
caches are cleared. Every compilation is kept, however short. The cache
reuses an executable only for the identical program and compile options, so results are
unchanged; it starts empty and is removed at exit, so nothing carries between sessions.
It is set in this process only: the subprocesses that tests start (sharding, benchmarks)
gained nothing measurable from it and stay as they were.
"""

import atexit
import gc
import os
import shutil
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# The CAAE store of module-scoped fixtures (per test: `_caae_store` below), never the
# user's cache; removed at exit.
_CAAE_STORE = tempfile.mkdtemp(prefix="clifer-jax-test-caae-store-")
os.environ["CLIFER_CAAE_STORE"] = _CAAE_STORE
atexit.register(shutil.rmtree, _CAAE_STORE, ignore_errors=True)
_XLA_CACHE = tempfile.mkdtemp(prefix="clifer-jax-test-xla-cache-")
atexit.register(shutil.rmtree, _XLA_CACHE, ignore_errors=True)

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_compilation_cache_dir", _XLA_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture(autouse=True)
def _caae_store(tmp_path_factory, monkeypatch):
    """Each test its own empty CAAE store (`clifer_jax.caae.store`), never the user's cache:
    a test trains what it needs as before, and subprocesses it starts inherit the folder."""
    monkeypatch.setenv("CLIFER_CAAE_STORE", str(tmp_path_factory.mktemp("caae-store")))
