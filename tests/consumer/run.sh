#!/usr/bin/env bash
# Installs the built library into a temporary prefix, builds tests/consumer against it and runs it
# on an official fixture (it reproduces the fixture's outputs).
# Usage: run.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > /dev/null
cmake -S "$src/tests/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/build" > /dev/null
"$work/build/consumer" "$src/tests/data/reference/slstm_stack_small"
