#!/usr/bin/env bash
# One prepared script for a lent GPU machine (see benchmarks/README.md): every
# benchmark in priority order, each under its own time limit, results to $OUT.
set -u
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 BENCH_TAG=gpu
OUT="${OUT:-benchmarks/results}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import jax, flax, optax; print('jax', jax.__version__, jax.devices())" | tee -a "$OUT/gpu.txt"
run() { local t=$1; shift; echo "== $*"; timeout "$t" "$@" 2>&1 | grep -v -E "^(WARNING|W[0-9]{4}|I[0-9]{4})" ; }
run 170 python3 -m benchmarks.gwr_kernel --numpy-seconds 1.0
run 110 python3 -m benchmarks.caae --presets cpu paper --out "$OUT/caae_gpu.json"
run 120 python3 -m benchmarks.gdm --subjects 1 24 96
run 100 python3 -m benchmarks.experiment --models gdm clifer mlp_joint
cp benchmarks/results/*_gpu.json "$OUT"/ 2>/dev/null
ls -la "$OUT"
