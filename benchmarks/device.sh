#!/usr/bin/env bash
# One prepared script for a lent GPU machine (see benchmarks/README.md). Every part runs
# under its own time limit and writes to $OUT; a part that fails or times out does not
# stop the rest. Order: what the kernel issue asks first (scaling to 1,024 networks,
# headroom, GDM + replay), then the small suite, then a CLIFER sweep if `clifer sweep`
# exists in this checkout.
set -u
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 BENCH_TAG=gpu
OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
quiet() { grep -v -E "^(WARNING|W[0-9]{4}|I[0-9]{4})"; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv | tee "$OUT/gpu.txt"
python3 -c "import jax, flax, optax; print('jax', jax.__version__, jax.devices())" | tee -a "$OUT/gpu.txt"

# 1. Scaling study: GWR and GDM vmapped over 1 ... 1,024 networks (N = 256, D = 50), capacity
#    sweep, memory; the aggregate samples/s at 1,024 networks is the headline figure (compare
#    with the HBM ceiling: bytes of the weights streamed per step / bandwidth).
BENCH_OUT="$OUT" timeout 200 python3 -m benchmarks.scaling --scale full --figure "$OUT/scaling_gpu.png" 2>&1 | quiet
# 2. Headroom: one network of 1,000 nodes at capacities 1,024, 16,384 and 65,536, plain and donated.
BENCH_OUT="$OUT" timeout 90 python3 -m benchmarks.headroom --repeat 3 2>&1 | quiet
# 2b. Neighbour lists against the dense N×N layout (needs git history for the baseline; without
#     it the lists are timed alone), up to 1,024 networks.
BENCH_OUT="$OUT" timeout 240 python3 -m benchmarks.topology --quick --capacities 256 1024 \
    --networks 1 64 1024 --call-capacities 1024 16384 65536 --repeat 1 2>&1 | quiet | tail -14
# 3. GDM + replay, class-incremental, capacities 160 / 640 / 1,024, NumPy beside.
BENCH_OUT="$OUT" timeout 120 python3 -m benchmarks.gdm --incremental --impls kernel public 2>&1 | quiet | tail -20
# 4. A 64-point x 24-subject CLIFER sweep, timed, when this checkout has `clifer sweep`
#    (the `clifer` command, `clifer_jax.cli.main`, run through python3 so that no install is needed).
clifer() { python3 -c 'import sys; from clifer_jax.cli import main; sys.exit(main())' "$@"; }
if clifer sweep --help > /dev/null 2>&1; then
  start=$(date +%s.%N)
  timeout 120 python3 -c 'import sys; from clifer_jax.cli import main; sys.exit(main())' sweep \
      --grid gdm_params.episodic.activity_threshold=0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.55 \
      --grid gdm_params.semantic.activity_threshold=0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45 \
      --models clifer --out "$OUT/sweep_gpu" --no-progress 2>&1 | quiet | tail -15
  echo "sweep rc=$? wall_s=$(echo "$(date +%s.%N) - $start" | bc)" | tee "$OUT/sweep_wall.txt"
else
  echo "no 'clifer sweep' in this checkout: sweep skipped" | tee "$OUT/sweep_wall.txt"
fi
# 5. The CAAE's data-parallel step (paper and cpu presets) on 1 .. all of this machine's GPUs, and the
#    tiny sweep on 1 process against 2 processes (docs/scaling.md, "Several hosts").
NGPU=$(nvidia-smi -L | wc -l)
DEVS=$(python3 -c "print(' '.join(str(n) for n in (1, 2, 4, 8) if n <= $NGPU))")
BENCH_OUT="$OUT" timeout 150 python3 -m benchmarks.hosts --part caae --gpu --preset paper --devices $DEVS 2>&1 | quiet | tail -8
BENCH_OUT="$OUT" BENCH_TAG=gpu_sweep timeout 150 python3 -m benchmarks.hosts --part sweep --rounds 1 2>&1 | quiet | tail -8
ls -la "$OUT"
