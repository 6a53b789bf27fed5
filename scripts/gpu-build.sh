#!/usr/bin/env bash
# Configures (LibTorch from the machine's PyTorch, CUDA on, the device-deps prefix) and builds the
# given targets into BUILD_DIR. Run, not sourced, by the GPU scripts:
#   bash scripts/gpu-build.sh TARGET...     (BUILD_DIR, CUDA_ARCHS, JOBS, XLSTM_DEVICE_DEPS, OUT)
# The binaries then need LD_LIBRARY_PATH=$XLSTM_DEVICE_DEPS/usr/lib/x86_64-linux-gnu (the callers
# set it).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-/tmp/xlstm-gpu-build}
deps=$(realpath -m "${XLSTM_DEVICE_DEPS:-.device-deps}")
logs=${OUT:-$PWD/gpu-check-out}
mkdir -p "$logs"
echo "== configure ($(date +%T))"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXLSTM_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" \
  >"$logs/configure.log" 2>&1 || { tail -30 "$logs/configure.log"; exit 1; }
grep -E 'xlstm: nvcc' "$logs/configure.log"
echo "== build $* ($(date +%T))"
ninja -C "$build" -j"${JOBS:-16}" "$@" >"$logs/build.log" 2>&1 ||
  { grep -E -A5 'error|FAILED' "$logs/build.log" | head -60; exit 1; }
