"""The per-subject continual-learning loop: vmapped over subjects vs one subject at a time.

Generated features of the synthetic default's size (24 subjects, 6 classes,
24 training and 8 test samples per class, 50-d latents); every model's whole
six-step loop, jit-compiled. CLIFER imagines through a CAAE of the chosen
preset (untrained weights: the cost does not depend on training). With
--run DIR it also prints the stage wall times of a finished `clifer run`
(CAAE, encoding, each model). Writes benchmarks/results/experiment.json.

    python -m benchmarks.experiment [--models gdm clifer] [--run runs/default]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

from benchmarks.common import table, write_json
from clifer_jax import gdm, mlp
from clifer_jax.caae import api as caae_api
from clifer_jax.caae.config import preset as caae_preset
from clifer_jax.caae.train import CAAEState
from clifer_jax.classes import DEFAULT_ORDER
from clifer_jax.study import models


def generated(subjects: int, length: int = 24, test: int = 8, dim: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    centre = rng.uniform(-1, 1, (subjects, 6, dim))
    x = centre[:, :, None] + 0.3 * rng.standard_normal((subjects, 6, length, dim))
    xt = centre[:, :, None] + 0.3 * rng.standard_normal((subjects, 6, test, dim))
    y = np.broadcast_to(np.arange(6)[None, :, None], (subjects, 6, length)).astype(np.int32)
    yt = np.broadcast_to(np.arange(6)[None, :, None], (subjects, 6, test)).astype(np.int32)
    return models.SubjectData(x=x.astype(np.float32), y=y, mask=np.ones(y.shape, bool),
                                  x_test=xt.astype(np.float32), y_test=yt, mask_test=np.ones(yt.shape, bool))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(models.MODELS))
    p.add_argument("--subjects", type=int, default=24)
    p.add_argument("--caae-preset", default="cpu")
    p.add_argument("--run", default=None, help="a finished `clifer run` folder: report its stage times")
    args = p.parse_args(argv)

    data = generated(args.subjects)
    g = gdm.GDMConfig(dim=50, capacity=6 * 24, semantic_capacity=72)   # the GDM's params: GDMParams()
    m = mlp.MLPConfig(feature_dim=50)
    ccfg = caae_preset(args.caae_preset)
    caae_params = CAAEState.create(ccfg, jax.random.key(0), 1).inference_params(ccfg)
    rows = []
    for model in args.models:
        run = models.make_run(model, g, m, imagine_fn=caae_api.imagine_unchecked)
        key = jax.random.key(0)
        t0 = time.perf_counter()
        models.run_subjects(run, key, data, DEFAULT_ORDER, caae_params)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        models.run_subjects(run, key, data, DEFAULT_ORDER, caae_params)
        vmapped = time.perf_counter() - t0
        one = lambda s: jax.tree.map(lambda a: a[s:s + 1], data)
        models.run_subjects(run, key, one(0), DEFAULT_ORDER, caae_params)       # compile for 1 subject
        t0 = time.perf_counter()
        for s in range(args.subjects):
            models.run_subjects(run, key, one(s), DEFAULT_ORDER, caae_params)
        sequential = time.perf_counter() - t0
        rows.append(dict(model=model, subjects=args.subjects, vmapped_s=vmapped, sequential_s=sequential,
                         speedup=sequential / vmapped, compile_s=first - vmapped))
        print(f"{model}: vmapped {vmapped:.2f} s, sequential {sequential:.2f} s, x{sequential / vmapped:.1f}",
              flush=True)
    print()
    print(table(rows, ["model", "subjects", "vmapped_s", "sequential_s", "speedup", "compile_s"]))
    payload = {"rows": rows, "caae_preset": args.caae_preset}
    if args.run:
        timings = json.loads((Path(args.run) / "timings.json").read_text())
        payload["run_timings_s"] = timings
        print("\nstage times of", args.run)
        print(table([{"stage": k, "seconds": v} for k, v in timings.items()], ["stage", "seconds"]))
    print(f"wrote {write_json('experiment', payload)}")


if __name__ == "__main__":
    main()
