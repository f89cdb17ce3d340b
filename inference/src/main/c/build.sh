#!/usr/bin/env bash
# Builds the AVX512-BF16 kernel and the AVX512-VNNI kernel of quantized products into the module's
# classes (so they ship inside the jar):
#   build.sh OUTPUT_DIR JAVA_HOME
# A machine without gcc, or not x86-64 Linux, gets no library: the engine then uses the Java kernel
# (the Vector API), and says so when a bfloat16 model loads. So this script never fails the build.
set -u
out="$1/native/linux-x86_64"
jdk="$2"
src="$(cd "$(dirname "$0")" && pwd)/zhiku_bf16.c"
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "[zhiku] native bfloat16 kernel: not built (only for x86-64 Linux)"; exit 0
fi
if ! command -v gcc >/dev/null 2>&1; then
  echo "[zhiku] native bfloat16 kernel: not built (no gcc); bfloat16 runs on the Java kernel"; exit 0
fi
mkdir -p "$out"
if ! gcc -O3 -std=c11 -Wall -Wextra -fPIC -shared -mavx512f -mavx512bw -mavx512vl -mavx512bf16 \
    -I"$jdk/include" -I"$jdk/include/linux" "$src" -o "$out/libzhiku_bf16.so" -lm; then
  rm -f "$out/libzhiku_bf16.so"
  echo "[zhiku] native bfloat16 kernel: gcc failed (see above); bfloat16 runs on the Java kernel"
fi
# the same file without its bfloat16 products: attention and SwiGLU for AVX-512 CPUs without AVX512-BF16
if ! gcc -O3 -std=c11 -Wall -Wextra -fPIC -shared -mavx512f -mavx512bw -mavx512vl -DZHIKU_NO_BF16 \
    -I"$jdk/include" -I"$jdk/include/linux" "$src" -o "$out/libzhiku_avx512.so" -lm; then
  rm -f "$out/libzhiku_avx512.so"
  echo "[zhiku] native AVX-512 attention kernel: gcc failed (see above); attention runs on PyTorch without AVX512-BF16"
fi
if ! gcc -O3 -std=c11 -Wall -Wextra -fPIC -shared -mavx512f -mavx512bw -mavx512vl -mavx512vnni \
    -I"$jdk/include" -I"$jdk/include/linux" "$(dirname "$src")/zhiku_int8.c" -o "$out/libzhiku_int8.so"; then
  rm -f "$out/libzhiku_int8.so"
  echo "[zhiku] native int8 kernel: gcc failed (see above); quantized products run on the Java kernel"
fi
exit 0
