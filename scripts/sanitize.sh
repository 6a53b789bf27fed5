#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer + UndefinedBehaviorSanitizer (XLSTM_SANITIZE=ON,
# g++, CUDA off) in build-asan/, then run with CTest. docs/reliability.md says what it found, how
# long it takes and why the options below are set.
# Usage: bash scripts/sanitize.sh [BUILD_DIR] [CTEST_ARGS...]   (JOBS=N sets the parallelism, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
shift || true
jobs=${JOBS:-2}
start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-g1 \
  -DCMAKE_UNITY_BUILD=ON -DXLSTM_SANITIZE=ON -DXLSTM_CUDA=OFF
cmake --build "$build" -j"$jobs"
built=$(date +%s)
echo "build: $((built - start)) s"

# detect_leaks=0: LibTorch is not instrumented and keeps process-lifetime allocations (operator
# registries, thread pools) that LeakSanitizer reports at exit. The rest of ASan and all of UBSan
# stay on, and any report ends the test that triggered it.
# protect_shadow_gap=0: a LibTorch built with CUDA maps memory where ASan keeps its shadow gap.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0:protect_shadow_gap=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The installed-package test builds a consumer program: it must link the sanitizer runtimes too.
export CXXFLAGS="-fsanitize=address,undefined" LDFLAGS="-fsanitize=address,undefined"
status=0
ctest --test-dir "$build" -j"$jobs" --output-on-failure "$@" || status=$?
echo "tests: $(($(date +%s) - built)) s, build + tests: $(($(date +%s) - start)) s"
exit $status
