#!/usr/bin/env bash
# meshpose_blaze's next stage in one call of a lent GPU machine (docs/training.md, "The next GPU stage").
# Phase 1: configs/blaze_gpu_next.toml at the rate of stages 2-4; phase 2: the same config from phase
# 1's weights at stage 5's rate (5e-5), which brought the float16 steadiness back after every
# high-rate stage so far. Each phase's float16 weights and metrics land in $OUT/<phase>/ (parts under
# the transfer limit), so a cut-off tail still returns phase 1.
#   OUT=/tmp/back bash benchmarks/gpu_next.sh                       # the device call (about 9 min)
#   OUT=/tmp/back bash benchmarks/gpu_next.sh --device cpu --steps 2 --set data.val_size=4   # smoke, any machine
# Extra arguments go to both calls of benchmarks/train_gpu.py. Budgets: MAIN_S and TAIL_S seconds.
set -euo pipefail
: "${OUT:?set OUT to the folder whose files come back}"
RUN=${RUN:-runs/gpu_next}
MAIN_S=${MAIN_S:-330}
TAIL_S=${TAIL_S:-110}
cd "$(dirname "$0")/.."
# The device call's limit is 600 s: each phase is stopped (resumably) at 1.3x its budget.
python benchmarks/train_gpu.py --arm main=configs/blaze_gpu_next.toml --out "$RUN" --pack "$OUT/main" \
    --batch-size 32 --device cuda --budget "$MAIN_S" --hard-stop "$((MAIN_S * 13 / 10))" "$@"
python benchmarks/train_gpu.py --arm tail=configs/blaze_gpu_next.toml --out "$RUN" --pack "$OUT/tail" \
    --batch-size 32 --device cuda --budget "$TAIL_S" --hard-stop "$((TAIL_S * 13 / 10))" --lr 5e-5 \
    --set "init=$RUN/main/model.pt" --set optim.warmup_steps=20 "$@"
