#!/usr/bin/env bash
# On a CUDA machine: configure + build, run the CUDA tests, time our sLSTM recurrence backends and
# the peers (official xlstm cuda cell, FlashRNN) in the same go. Logs go to $OUT (or ./gpu-check-out).
#
# Usage (from the repository root):  scripts/gpu-check.sh [tests] [bench] [peers]   (default: all)
# Environment:
#   XLSTM_DEVICE_DEPS  prefix made by device-deps.sh (yaml-cpp, GoogleTest, CLI11)   [.device-deps]
#   XLSTM_PEERS        folder made by prepare-peers.sh (skipped when absent)          [.peers]
#   BUILD_DIR          [/tmp/xlstm-gpu-build]     CUDA_ARCHS  [90]     JOBS  [16]
#   TEST_FILTER        [*Cuda*]                   BENCH_ARGS  extra slstm-kernel-bench arguments
set -uo pipefail
root=$(pwd)
out=${OUT:-$root/gpu-check-out}
deps=$(realpath -m "${XLSTM_DEVICE_DEPS:-$root/.device-deps}")
peers=$(realpath -m "${XLSTM_PEERS:-$root/.peers}")
build=${BUILD_DIR:-/tmp/xlstm-gpu-build}
parts=${*:-tests bench peers}
mkdir -p "$out"
status=0
step() { echo "== $* ($(date +%T))"; }

step configure
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXLSTM_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" \
  >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
grep -E 'xlstm: nvcc' "$out/configure.log"
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"

step build
targets="xlstm_tests"
[[ $parts == *bench* ]] && targets="$targets slstm-kernel-bench"
ninja -C "$build" -j"${JOBS:-16}" $targets >"$out/build.log" 2>&1 || { grep -E -A5 'error|FAILED' "$out/build.log" | head -60; exit 1; }

if [[ $parts == *tests* ]]; then
  step tests
  "$build/tests/xlstm_tests" --gtest_filter="${TEST_FILTER:-*Cuda*}" 2>&1 | tee "$out/tests.log" |
    grep -E '^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|Expected|Which is|rel|error' | head -80
  [[ ${PIPESTATUS[0]} == 0 ]] || status=1
fi

if [[ $parts == *bench* ]]; then
  step bench
  nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
  for dtype in bf16 f32; do
    "$build/bin/slstm-kernel-bench" --dtype "$dtype" ${BENCH_ARGS:-} 2>&1 | tee -a "$out/bench.jsonl"
  done
fi

if [[ $parts == *peers* && -f "$peers/bench_peers.py" ]]; then
  step peers
  PYTHONPATH="$peers/src:$peers/py:$peers/src/flashrnn" PYTHONUNBUFFERED=1 \
    python3 "$peers/bench_peers.py" slstm_kernel 2>"$out/peers.err" | tee -a "$out/bench.jsonl"
fi
step done
exit $status
