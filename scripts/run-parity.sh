#!/usr/bin/env bash
# Parity on the CPU, end to end: install the build dependencies, build xlstm-train (Release) and
# train configs/parity_cpu.yaml into runs/parity_cpu (about 1.5 minutes of training on 2 cores).
# Extra arguments go to xlstm-train, e.g. `bash scripts/run-parity.sh --steps 500`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DXLSTM_BUILD_EXAMPLES=ON
cmake --build build --target xlstm-train -j2
out=runs/parity_cpu
if [ -e "$out/checkpoints/latest.json" ]; then
  echo "run-parity: $out holds a finished run; moving it to $out.old"
  rm -rf "$out.old" && mv "$out" "$out.old"
fi
build/bin/xlstm-train --config configs/parity_cpu.yaml --out "$out" "$@"
