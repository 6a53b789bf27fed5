#!/usr/bin/env bash
# Builds the library, the examples and the tests, then runs the whole suite with CTest.
# Usage: bash scripts/test.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bash scripts/setup-debian.sh
start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j2
echo "build: $(( $(date +%s) - start )) s"
ctest --test-dir "$build" -j2 --output-on-failure
