#!/usr/bin/env bash
# Train several demo-model variants at once on one GPU (each process is launch-bound, so they share it well),
# then pack each model folder and log into $OUT (the device tool returns at most 8 files).
# Usage: OUT=/some/dir MINUTES=6.5 bash tools/train_demo_variants.sh
set -u
OUT=${OUT:?set OUT}
MINUTES=${MINUTES:-6.5}
export OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1 PYTHONPATH=.
declare -A VARIANTS=(
  [a]="--seed 0"
  [b]="--seed 1 --lr 1e-3"
  [c]="--seed 2 --config deep"
  [d]="--seed 3 --batch 512 --lr 3e-3"
)
mkdir -p "$OUT/variants"
for name in "${!VARIANTS[@]}"; do
  python3 -m training.train --device cuda --minutes "$MINUTES" --out "$OUT/variants/$name" ${VARIANTS[$name]} \
    > "$OUT/$name.log" 2>&1 &
done
wait
for name in "${!VARIANTS[@]}"; do
  tar czf "$OUT/$name.tgz" -C "$OUT/variants" "$name" && rm -rf "$OUT/variants/$name"
done
rmdir "$OUT/variants" 2>/dev/null
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader >> "$OUT/a.log" 2>&1
