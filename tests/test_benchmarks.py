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


def test_n2_call_end_leaves_what_end_call_leaves():
    """The call end as it was before the edge log, which the benchmarks swap in for
    `gwr.train.end_call` (`benchmarks.common.n2_call_end`): end_call's signature, and the
    same edges and nodes."""
    import jax
    import numpy as np

    from benchmarks.common import n2_call_end, reference_kwargs
    from clifer_jax import gwr
    from clifer_jax.gwr import call_end
    from clifer_jax.gwr.train import start_call

    cfg = gwr.episodic_config(4, 32)
    params = gwr.GWRParams(activity_threshold=0.9, max_age=3)
    p = params.cast(cfg.dtype)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 4)).astype(np.float32)
    y = rng.integers(0, 6, (40, 2)).astype(np.int32)
    state = gwr.init_unchecked(cfg, p, x[:2], y[:2])

    def steps(st):
        st, _ = jax.lax.scan(lambda s, i: (gwr.step_unchecked(cfg, p, s, *i), None), start_call(st),
                             (x, y, np.ones(40, bool)))
        return call_end.mark_pruned(st)

    before = jax.jit(steps)(state)
    new, old = call_end.end_call(cfg, p, before), n2_call_end(cfg, p, before)
    assert int(new.num_nodes) < int(before.num_nodes)          # expired edges left nodes isolated
    for f in ("edges", "active", "num_nodes", "weights", "habituation", "label_hist"):
        assert np.array_equal(np.asarray(getattr(new, f)), np.asarray(getattr(old, f))), f
    kw = reference_kwargs(cfg, params)                          # the NumPy reference's keywords
    assert (kw["activity_threshold"], kw["max_age"], kw["capacity"], kw["num_heads"]) == (0.9, 3, 32, 2)


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
    # State grows with N² (three N×N arrays dominate): 4× the capacity, > 4× the bytes.
    mem = {r["capacity"]: r["gwr_state_mib"] for r in res["memory"]}
    assert mem[16384] / mem[4096] > 4 * 0.99 and mem[16384] / mem[4096] < 16
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
