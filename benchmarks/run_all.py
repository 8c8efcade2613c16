"""Every benchmark at one scale, each in its own process; one JSON and one Markdown summary.

    python -m benchmarks.run_all                        # --scale small, into benchmarks/results/run_all_small/
    python -m benchmarks.run_all --scale full --out /tmp/bench
    python -m benchmarks.run_all --only gwr_kernel scaling

The summary (`summary.json`, `summary.md` in --out) records the machine (CPU model, cores,
memory), Python, JAX and jaxlib versions, the backend and every device's name, then each
benchmark's status, wall time, JSON result and printed tables. A benchmark that fails or
runs past its time limit is recorded as such and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (arguments per scale, time limit in seconds per scale)
BENCHMARKS: dict[str, dict[str, list[str]]] = {
    "gwr_kernel": {"smoke": ["--quick", "--steps", "200", "--numpy-seconds", "0.2"], "small": ["--quick"],
                   "full": []},
    "gwr_vmap_profile": {"smoke": ["--networks", "1", "2", "--steps", "50"],
                         "small": ["--networks", "1", "16", "--steps", "200"], "full": []},
    "gdm": {"smoke": ["--subjects", "1", "2"], "small": ["--subjects", "1", "8", "24"], "full": []},
    "experiment": {"smoke": ["--subjects", "2", "--models", "gdm", "mlp_joint"],
                   "small": ["--subjects", "8", "--models", "gdm", "clifer", "mlp_joint"], "full": []},
    "caae": {"smoke": ["--presets", "cpu", "--steps", "2"], "small": ["--presets", "cpu"], "full": []},
    "render": {"smoke": ["--quick", "--repeat", "1"], "small": ["--quick"], "full": []},
    "headroom": {"smoke": ["--active", "100", "--capacities", "128", "256", "--short", "20", "--long", "60",
                           "--repeat", "1"],
                 "small": ["--capacities", "1024", "16384", "--repeat", "2"], "full": ["--repeat", "3"]},
    "topology": {"smoke": ["--quick", "--capacities", "64", "--networks", "1", "--call-capacities", "1024",
                           "--repeat", "1"],
                 "small": ["--quick"], "full": []},
    "scaling": {"smoke": ["--scale", "smoke", "--gwr-capacity", "64", "--gdm-capacity", "32"],
                "small": ["--scale", "small"], "full": ["--scale", "full"]},
    "cores": {"smoke": ["--networks", "4", "--steps", "50", "--repeat", "1"], "small": ["--repeat", "3"],
              "full": []},
}
LIMITS = {"smoke": 300, "small": 1200, "full": 3600}


MACHINE_PROBE = """
import json, jax, jaxlib
print(json.dumps({"jax": jax.__version__, "jaxlib": jaxlib.__version__, "backend": jax.default_backend(),
                  "process_count": jax.process_count(),
                  "devices": [getattr(d, "device_kind", str(d)) for d in jax.devices()]}))
"""


def machine() -> dict:
    """Where the numbers come from: hardware, software, devices. JAX is asked in a child
    process, so this process never holds an accelerator (a GPU client would reserve
    most of the memory the benchmarks need)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem = None
    probe = subprocess.run([sys.executable, "-c", MACHINE_PROBE], capture_output=True, text=True, timeout=300)
    if probe.returncode != 0:
        raise RuntimeError(f"could not start JAX: {probe.stderr.strip()[-1000:]}")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": platform.node(), "os": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
        "memory_gib": None if mem is None else round(mem, 1), "python": platform.python_version(),
        **json.loads(probe.stdout.strip().splitlines()[-1]),
    }


def tables(stdout: str) -> str:
    """The Markdown tables and `checks:` lines a benchmark printed."""
    keep, block = [], []
    for line in stdout.splitlines():
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            keep.append("\n".join(block))
            block = []
        if line.startswith("checks:"):
            keep.append(line)
    if block:
        keep.append("\n".join(block))
    return "\n\n".join(keep)


def run_one(name: str, args: list[str], out: Path, limit: int) -> dict:
    env = dict(os.environ, BENCH_OUT=str(out), PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if name == "caae":
        args = args + ["--out", str(out / "caae.json")]
    if name == "scaling":
        args = args + ["--figure", str(out / "scaling.png")]
    before = {p: p.stat().st_mtime for p in out.glob("*.json")}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=limit)
        status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        status = f"timed out after {limit} s"
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
    seconds = time.perf_counter() - t0
    (out / f"{name}.log").write_text(stdout + "\n--- stderr ---\n" + stderr)
    written = sorted(p for p in out.glob("*.json") if p.name != "summary.json"
                     and before.get(p) != p.stat().st_mtime)
    results = {p.name: json.loads(p.read_text()) for p in written}
    return {"status": status, "seconds": round(seconds, 1), "args": args, "json": sorted(results),
            "results": results, "tables": tables(stdout),
            "error": None if status == "ok" else stderr.strip().splitlines()[-5:]}


def markdown(summary: dict) -> str:
    m = summary["machine"]
    lines = [f"# clifer-jax benchmarks — scale `{summary['scale']}`", "",
             f"* date: {m['date']}",
             f"* machine: {m['cpu']}, {m['cpu_count']} cores, {m['memory_gib']} GiB ({m['os']})",
             f"* backend: **{m['backend']}**; devices: {', '.join(sorted(set(m['devices'])))} "
             f"× {len(m['devices'])}; processes: {m['process_count']}",
             f"* Python {m['python']}, JAX {m['jax']}, jaxlib {m['jaxlib']}", "",
             "| benchmark | status | wall s | JSON |", "|---|---|---|---|"]
    for name, b in summary["benchmarks"].items():
        lines.append(f"| {name} | {b['status']} | {b['seconds']:.0f} | {', '.join(b['json'])} |")
    for name, b in summary["benchmarks"].items():
        lines += ["", f"## {name}", "", f"`python -m benchmarks.{name} {' '.join(b['args'])}`".replace(" `", "`"), ""]
        lines.append(b["tables"] or "(no tables printed)")
        if b["error"]:
            lines += ["", "```", *b["error"], "```"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", choices=sorted(LIMITS), default="small")
    p.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=None)
    p.add_argument("--out", default=None, help="output folder (default benchmarks/results/run_all_<scale>)")
    p.add_argument("--limit", type=int, default=None, help="seconds per benchmark (default by scale)")
    args = p.parse_args(argv)
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"run_all_{args.scale}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(BENCHMARKS)
    summary = {"scale": args.scale, "machine": machine(), "benchmarks": {}}
    try:
        from tqdm import tqdm
        bar = tqdm(names, desc="benchmarks", unit="bench")
    except ImportError:                               # pragma: no cover
        bar = names
    for name in bar:
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(name)
        summary["benchmarks"][name] = run_one(name, BENCHMARKS[name][args.scale], out,
                                              args.limit or LIMITS[args.scale])
        # Written after every benchmark: an interrupted run keeps what finished.
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        (out / "summary.md").write_text(markdown(summary))
    failed = [n for n, b in summary["benchmarks"].items() if b["status"] != "ok"]
    print(f"wrote {out / 'summary.json'} and {out / 'summary.md'}"
          + (f"; not ok: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
