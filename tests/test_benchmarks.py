"""The benchmark suite runs end to end at its smallest scale and writes its summary
(structure only: no speed is asserted in tests)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run_all import tables

ROOT = Path(__file__).resolve().parents[1]


def test_tables_keeps_markdown_tables_and_checks():
    out = "noise\n| a | b |\n|---|---|\n| 1 | 2 |\nmore noise\nchecks: {'x': 1}\n| c |\n"
    assert tables(out) == "| a | b |\n|---|---|\n| 1 | 2 |\n\nchecks: {'x': 1}\n\n| c |"


def test_reference_kwargs_carries_config_and_params():
    """The NumPy reference the benchmarks time gets the kernel's statics (max_degree too:
    its lists are bounded as the kernel's) and its numbers as Python numbers."""
    from benchmarks.common import reference_kwargs
    from clifer_jax import gwr
    from gwr_reference import ReferenceGWR

    cfg = gwr.episodic_config(4, 32, max_degree=3)
    kw = reference_kwargs(cfg, gwr.GWRParams(activity_threshold=0.9, max_age=3).cast(cfg.dtype))
    assert (kw["max_degree"], kw["max_age"], kw["capacity"], kw["num_heads"]) == (3, 3, 32, 2)
    assert type(kw["activity_threshold"]) is float and abs(kw["activity_threshold"] - 0.9) < 1e-6
    assert ReferenceGWR(**kw).max_degree == 3


def test_gdm_benchmark_replay_forms_agree(monkeypatch):
    """`benchmarks.gdm --incremental` times the replay pass as one training call per
    trajectory beside today's chunked pass and asserts they leave the same memories; the
    same here, on one small class step of GDM + replay (two mini-batches: the second
    replays the first's trajectories)."""
    import jax
    import numpy as np

    from benchmarks import gdm as bench
    from clifer_jax import gdm
    from clifer_jax.gdm import memory

    cfg = gdm.GDMConfig(dim=4, capacity=24, num_classes=2, epochs=2, replay_epochs=1)
    x, y, m = bench.incremental_stream(1, 10, 4)[0]
    base = gdm.GDMParams()                       # a_T high: both memories grow on these samples
    params = base.replace(episodic=base.episodic.replace(activity_threshold=0.99),
                          semantic=base.semantic.replace(activity_threshold=0.99)).cast(cfg.dtype)
    state = gdm.init(cfg, x, y, m)
    chunked = jax.jit(bench._whole_capacity, static_argnums=0)(cfg, params, state, x, y, m)
    with monkeypatch.context() as patch:
        patch.setattr(memory, "replay_unchecked", bench._per_trajectory_replay)
        per_call = jax.jit(bench._per_trajectory, static_argnums=0)(cfg, params, state, x, y, m)
    assert int(chunked.episodic.num_nodes) > 2 and int(np.sum(chunked.episodic.successors >= 0)) > 0
    for a, b in zip(jax.tree.leaves(chunked), jax.tree.leaves(per_call)):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_run_all_smoke_writes_summary(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run_all", "--scale", "smoke", "--only", "scaling", "cores",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    m = summary["machine"]
    assert m["backend"] == "cpu" and m["devices"] and m["jax"] and m["cpu_count"] >= 1
    bench = summary["benchmarks"]["scaling"]
    assert bench["status"] == "ok", bench
    res = bench["results"]["scaling_smoke.json"]
    assert [r["networks"] for r in res["gwr_networks"]] == [1, 2]
    assert [r["capacity"] for r in res["gwr_capacity"]] == [64, 128]
    for r in res["gwr_capacity"] + res["gwr_networks"] + res["gdm_subjects"] + res["gdm_capacity"]:
        assert r["state_bytes"] > 0 and r["speedup_vs_numpy"] > 0
    # The state is O(N·(D + k)) (neighbour lists, nothing N×N): 4× the capacity, 4× the bytes.
    mem = {r["capacity"]: r["gwr_state_mib"] for r in res["memory"]}
    assert 4 * 0.99 < mem[16384] / mem[4096] <= 4
    assert (tmp_path / "scaling.png").stat().st_size > 10_000
    md = (tmp_path / "summary.md").read_text()
    assert "backend: **cpu**" in md and "## scaling" in md and "| networks |" in md
    # cores: 4 networks vmapped on one host device and sharded over two compute the same
    cores = summary["benchmarks"]["cores"]
    assert cores["status"] == "ok", cores
    res = cores["results"]["cores.json"]
    assert res["devices"] == 2 and res["sharded_equals_vmap"] == {"scatter": True, "dense": True}
    assert {(r["layout"], r["row_updates"], r["networks"]) for r in res["rows"]} == {
        (layout, rows, n) for rows in ("scatter", "dense")
        for layout, n in (("one network", 1), ("vmap, one device", 4), ("vmap, sharded over 2 devices", 4))}


def test_caae_benchmark_times_variants_beside_the_preset(tmp_path):
    from benchmarks import caae

    out = tmp_path / "caae.json"
    rows = caae.main(["--presets", "tiny", "--steps", "1", "--rounds", "3",
                      "--variants", "tv_weight=0.01+latent_class_weight=0.1", "--out", str(out)])
    assert [r["preset"] for r in rows] == ["tiny", "tiny+tv_weight=0.01+latent_class_weight=0.1"]
    assert "step_ratio_to_preset" not in rows[0]
    assert all(len(r["step_seconds_rounds"]) == 3 and r["step_seconds"] > 0 for r in rows)
    ratios = [v / p for v, p in zip(rows[1]["step_seconds_rounds"], rows[0]["step_seconds_rounds"])]
    assert abs(rows[1]["step_ratio_to_preset"] - sorted(ratios)[1]) < 2e-3   # the median round's ratio
    assert json.loads(out.read_text()) == rows
    # a typo in a variant stops the run before anything is timed or written
    bad = tmp_path / "bad.json"
    with pytest.raises(SystemExit):
        caae.main(["--presets", "tiny", "--variants", "tv_weigth=0.01", "--out", str(bad)])
    assert not bad.exists()
