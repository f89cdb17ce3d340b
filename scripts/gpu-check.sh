#!/usr/bin/env bash
# On a host with an NVIDIA GPU (never in the test suite): builds the CUDA variant (libtorch for CUDA
# 12.4, bundled), checks the tiny golden checkpoints in float16 on the GPU against the official code's
# logits and greedy continuations, and benchmarks the InternLM2-1.8B and ChatGLM2-6B shapes in float16.
#   scripts/gpu-check.sh            GOLDEN=../shared/golden DEVICE=cuda STEPS=32
# The figures it prints go to BENCHMARKS.md with the GPU's name (nvidia-smi's first line below).
set -euo pipefail
cd "$(dirname "$0")/.."
GOLDEN=${GOLDEN:-../shared/golden}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-32}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "== building with -Pcuda" >&2
mvn -q -B -Pcuda install -DskipTests
touch launcher/target/.zhiku-built # bin/zhiku must not rebuild the CPU variant over it
status=0
for m in chatglm2-tiny internlm2-tiny chatglm2-tiny-bf16; do
  [ -f "$GOLDEN/$m/golden.json" ] || continue
  echo "== golden $m float16 on $DEVICE"
  bin/zhiku bench golden --model-path "$GOLDEN/$m" --device "$DEVICE" --dtype float16 || status=1
done
for shape in internlm2-1.8b chatglm2-6b; do
  echo "== engine $shape float16 on $DEVICE"
  bin/zhiku bench engine --shape "$shape" --dtype float16 --device "$DEVICE" --prompt 512 --steps "$STEPS" --seqs 1,16,64
  bin/zhiku bench engine --shape "$shape" --dtype float16 --device "$DEVICE" --prompt 512 --steps "$STEPS" --seqs 1 --context 8192
done
exit $status
