#!/usr/bin/env bash
# Builds the library, the examples and the tests, then runs the whole suite with CTest.
# Usage: bash scripts/test.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bash scripts/setup-debian.sh
start=$(date +%s)
# A unity build (batches of 8 sources per translation unit): each translation unit spends about
# 9 s instantiating what the precompiled LibTorch header leaves pending, so fewer of them halve a
# clean build on 2 cores (docs/testing.md). Incremental work is faster without it.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON
cmake --build "$build" -j2
echo "build: $(( $(date +%s) - start )) s"
ctest --test-dir "$build" -j2 --output-on-failure
