#!/usr/bin/env bash
# Every GPU check and benchmark of the capture engine in one run, for a session lent a GPU (CI has none).
# About 5-6 minutes on an H100 or H200. From the repository root:
#
#     bash benchmarks/gpu_session.sh        # logs in $OUT if set (the device tool's folder), else gpu-logs/
#
# 1. cuda_checks.py: faithfulness on CUDA (logits bit-identical with capture, attention equal to eager, also
#    through the host-path variants of host_path_variants.py, and the fused kernel against the torch rows in
#    bf16/fp16/fp32 for every mask form).
# 2. capture.py on the full Qwen2-VL-7B shape: plain vs capture (fused, torch rows) vs eager, plus the
#    breakdown (hook only, rows without host copies, and the variants: the kernel writing straight to host
#    memory, the copies on the compute stream) and the CPU time the hook takes per layer on each whole path.
#    Small sizes get more rounds (--min-seconds): their ratios are the noisy ones.
# 3. tests/test_devices.py: a model split between the GPU and the CPU (accelerate's device_map) captures each
#    layer's rows on its own device, equal to the model in one piece.
# Each step has its own time limit, so a hang in one still leaves the other's log.
set -uo pipefail
cd "$(dirname "$0")/.."
logs="${OUT:-gpu-logs}"
mkdir -p "$logs"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON="${PYTHON:-python3}"

{
    date -u +%Y-%m-%dT%H:%MZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    "$PYTHON" -c "import torch, triton, transformers; print('torch', torch.__version__, 'triton', triton.__version__, 'transformers', transformers.__version__)"
} 2>&1 | tee "$logs/machine.txt"

if ! "$PYTHON" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "no CUDA GPU visible to $PYTHON: run this on the GPU machine" >&2
    exit 2
fi
status=0
timeout 180 "$PYTHON" benchmarks/cuda_checks.py 2>&1 | tee "$logs/cuda_checks.txt" || status=1
timeout 400 "$PYTHON" benchmarks/capture.py --shape 7b --sizes 256 1024 4096 16384 --repeats 3 --min-seconds 10 \
    --breakdown 2>&1 | tee "$logs/capture.txt" || status=1
timeout 120 "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_devices.py 2>&1 | tee "$logs/devices.txt" || status=1
exit "$status"
