#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECONDS seconds each (default 60). With clang++ installed:
# libFuzzer binaries with AddressSanitizer + UndefinedBehaviorSanitizer, built in build-fuzz/ (the
# readers only); otherwise the plain mutation driver of the regular build (build/).
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: yaml_config safetensors pickle json tokenizer_json)
# The seed corpora are fuzz/corpus/<target>/; inputs libFuzzer adds go to build-fuzz/corpus/<target>/
# (not into the repository). A crash leaves <build>/crash-* and ends the script with its exit code.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(yaml_config safetensors pickle json tokenizer_json)

if command -v clang++ > /dev/null; then
  build=${XLSTM_FUZZ_BUILD:-build-fuzz}
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-g \
    -DCMAKE_CXX_COMPILER=clang++ -DXLSTM_FUZZ=ON -DXLSTM_FUZZ_ENGINE=libfuzzer \
    -DXLSTM_BUILD_TESTS=OFF -DXLSTM_BUILD_EXAMPLES=OFF -DXLSTM_CUDA=OFF -DXLSTM_PCH=OFF > /dev/null
  # LibTorch is not instrumented: its allocations at exit are not leaks of the readers.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
  engine_flags=(-rss_limit_mb=4096 -timeout=30 -print_final_stats=1)
else
  build=${XLSTM_FUZZ_BUILD:-build}
  [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
  engine_flags=()
fi
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]/#/fuzz_}"

for target in "${targets[@]}"; do
  echo "== fuzz_$target: $seconds s"
  mkdir -p "$build/corpus/$target"
  "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -dict="fuzz/dict/$target.dict" \
    -artifact_prefix="$build/" "${engine_flags[@]}" "$build/corpus/$target" "fuzz/corpus/$target"
done
