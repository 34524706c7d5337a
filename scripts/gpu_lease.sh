#!/usr/bin/env bash
# One lease of a GPU machine, in one call: the CUDA paths checked against the CPU, the GPU
# benchmarks, then the bundled model trained on (its own recipe, more images) for the time left.
#
#   BUDGET=560 OUT=out scripts/gpu_lease.sh
#
# Runs under the machine's own python3 (torch with CUDA, numpy, safetensors, Pillow, tqdm; no
# Qt needed). Everything it reports lands in $OUT: cuda_check.txt, bench-cuda.json, probe.log,
# train.log, fcn8s-gpu.safetensors, eval100.json.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD PYTHONWARNINGS=ignore
BUDGET=${BUDGET:-560}          # seconds this script may take in all
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-$(( $(nproc) - 1 ))}
BATCH=${BATCH:-16}
LR=${LR:-2.5e-4}
SEED=${SEED:-22}
RESERVE=${RESERVE:-45}         # seconds kept for the evaluation and the copies at the end
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
stamp() { echo "== $1 at $(elapsed) s"; }

stamp environment
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys, torch, numpy; print(sys.version.split()[0], torch.__version__, numpy.__version__, torch.cuda.is_available())"
echo "$(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo)"; df -h /dev/shm | tail -1

stamp cuda_check
timeout 75 python3 benchmarks/cuda_check.py --scenes 30 2>&1 | tee "$OUT/cuda_check.txt"

stamp benchmarks
timeout 75 python3 benchmarks/run.py --quick --device "$DEVICE" --sections forward,erf \
    --out "$OUT/bench-cuda.json" > /dev/null 2> "$OUT/bench.log"
echo "benchmarks: rc $?"

recipe=(--synthetic --arch fcn8s --width 0.125 --size 160 --scale 1,1 --optimizer adam --momentum 0.9
        --class-weights 1,1,1,1,1,1 --lovasz 1.0 --learn-upsampling --dropout 0.1 --precision bfloat16
        --device "$DEVICE" --workers "$WORKERS" --batch "$BATCH" --no-progress
        --init fcnviewer/resources/models/fcn8s-synthetic.safetensors)

stamp probe
# Throughput from step 200 on (past the workers' start), at a learning rate that changes nothing.
timeout 90 python3 -m fcnviewer train "${recipe[@]}" --steps 600 --lr 1e-12 --val-every 0 --save-every 0 \
    --seed 99 --out /tmp/probe > "$OUT/probe.log" 2>&1
rate=$(python3 - "$OUT/probe.log" "$BATCH" <<'EOF'
import re, sys
rates = {int(k): float(v) for k, v in re.findall(r"step (\d+)/\d+: .*?([\d.]+) img/s", open(sys.argv[1]).read())}
batch, steps = int(sys.argv[2]), sorted(k for k in rates if k >= 200)
if len(steps) >= 2:  # cumulative rates -> the time between the first and the last step past 200
    (a, b) = steps[0], steps[-1]
    print(f"{(b - a) * batch / (b * batch / rates[b] - a * batch / rates[a]):.1f}")
EOF
)
echo "steady throughput: ${rate:-unknown} img/s"
rate=${rate:-100}

stamp train
seconds=$(( BUDGET - $(elapsed) - RESERVE - 20 ))   # 20 s: the run's own start and its last save
steps=$(python3 -c "print(max(100, int($rate / $BATCH * $seconds * 0.93)))")
every=$(( (steps / 4 + 99) / 100 * 100 ))
echo "training $steps steps at batch $BATCH in about $seconds s"
timeout $(( seconds + 30 )) python3 -m fcnviewer train "${recipe[@]}" --steps "$steps" --lr "$LR" --warmup 100 \
    --seed "$SEED" --val-count 16 --val-every "$every" --save-every "$every" --out /tmp/gpu > "$OUT/train.log" 2>&1
echo "train: rc $?"
tail -4 "$OUT/train.log"

stamp evaluation
cp /tmp/gpu/fcn8s.safetensors "$OUT/fcn8s-gpu.safetensors"
timeout 40 python3 -m fcnviewer eval --checkpoint /tmp/gpu/fcn8s.safetensors --synthetic --count 100 --size 160 \
    --json --device "$DEVICE" > "$OUT/eval100.json"
python3 -c "import json; r = json.load(open('$OUT/eval100.json')); print('mean IU', r['final']['mean_iu'], {k: v['mean_iu'] for k, v in r['stages'].items()})"
stamp done
