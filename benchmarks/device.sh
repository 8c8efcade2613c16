#!/usr/bin/env bash
# One prepared script for a lent GPU machine (see benchmarks/README.md): the whole suite
# at the small scale, then the full scaling study, each under a time limit; results to $OUT.
set -u
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 BENCH_TAG=gpu
OUT="${OUT:-benchmarks/results}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import jax, flax, optax; print('jax', jax.__version__, jax.devices())" | tee -a "$OUT/gpu.txt"
timeout 330 python3 -m benchmarks.run_all --scale small --limit 120 --out "$OUT/run_all_small_gpu" 2>&1 | tail -3
BENCH_OUT="$OUT" timeout 200 python3 -m benchmarks.scaling --scale full --figure "$OUT/scaling_gpu.png" 2>&1 \
  | grep -v -E "^(WARNING|W[0-9]{4}|I[0-9]{4})"
ls -la "$OUT"
