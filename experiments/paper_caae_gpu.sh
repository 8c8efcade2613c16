#!/usr/bin/env bash
# The `paper` CAAE preset (96×96×3, SPEC §6's 50 epochs) on the synthetic pool rendered at
# 96×96 (gray repeated to RGB), with the synthetic identity loss, scored like the cpu
# preset (docs/caae.md). Meant for an accelerator; prepared but not yet run (no GPU was
# lent to the session that wrote it). Usage: bash experiments/paper_caae_gpu.sh [SEED]
set -euo pipefail
seed="${1:-0}"
out="runs/caae_paper_s${seed}"
mkdir -p "$out"
time python -m experiments.train_caae --preset paper --seed "$seed" \
    --identity-net synthetic --evaluate --no-progress \
    --ckpt-dir "$out/ckpt" --out "$out" 2>&1 | tee "$out/train.log"
