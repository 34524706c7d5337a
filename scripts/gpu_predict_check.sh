#!/usr/bin/env bash
# One lease of a GPU machine for the predict path (issue #21), in one call: the CUDA paths
# checked against the CPU, then the GPU benchmarks whose JSON is committed (predict against the eager float32 forward, the copies,
# torch.compile's CUDA graphs; a click's effective receptive field).
#
#   OUT=out scripts/gpu_predict_check.sh
#
# Runs under the machine's own python3 (torch with CUDA, numpy, safetensors, Pillow; no Qt
# needed). Everything it reports lands in $OUT: environment.txt, cuda_check.txt,
# bench-cuda.json, bench.log. Its timeouts bound it at about 8 minutes (not yet run on a GPU).
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD PYTHONWARNINGS=ignore
DEVICE=${DEVICE:-cuda}
start=$(date +%s)
stamp() { echo "== $1 at $(( $(date +%s) - start )) s"; }

stamp environment
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python3 -c "import sys, torch, numpy; print(sys.version.split()[0], torch.__version__, numpy.__version__, torch.cuda.is_available())"
    echo "$(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo)"
} 2>&1 | tee "$OUT/environment.txt"

stamp cuda_check
timeout 120 python3 benchmarks/cuda_check.py --scenes 30 2>&1 | tee "$OUT/cuda_check.txt"

stamp benchmarks
timeout 330 python3 benchmarks/run.py --device "$DEVICE" --sections forward,erf \
    --out "$OUT/bench-cuda.json" > /dev/null 2> "$OUT/bench.log"
echo "benchmarks: rc $?"
python3 - "$OUT/bench-cuda.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["forward"]["results"]:
    print(f"{r['network']} {r['precision']}: predict {r['predictor_s'] * 1e3:.2f} ms, with logits "
          f"{r['predictor_logits_s'] * 1e3:.2f} ms, network {r['predictor_forward_s'] * 1e3:.2f} ms, "
          f"graphed {r['compiled_forward_s'] and round(r['compiled_forward_s'] * 1e3, 2)} ms, "
          f"eager fp32 {r['eager_fp32_s'] * 1e3:.2f} ms, ratio {r['ratio']}")
EOF
stamp done
