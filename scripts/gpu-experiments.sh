#!/usr/bin/env bash
# On a CUDA machine: the xLSTM paper's synthetic experiments, run concurrently on one GPU (each is
# small and launch-bound): the three official parity configs, xLSTM[0:1], [1:0] and [1:1] (20,000
# steps each), and MQAR (configs/mqar.yaml). Every run continues from its last checkpoint in
# RUNS/NAME (--resume), so runs cut by SECONDS go on in a later call with the same RUNS.
#
# Usage:  bash scripts/gpu-experiments.sh RUNS [SECONDS] [NAME...]   (from any folder)
#   NAMEs: parity01 parity10 parity11 mqar (default: all); SECONDS: stop the runs when this script
#   has run this long, the build included (a checkpoint every 500 steps bounds what is lost).
# Environment: as scripts/gpu-build.sh (BUILD_DIR, XLSTM_DEVICE_DEPS, ...).
set -uo pipefail
runs=$(realpath -m "${1:?usage: scripts/gpu-experiments.sh RUNS [SECONDS] [NAME...]}")
seconds=${2:-0}
shift $(($# < 2 ? $# : 2))
names=${*:-parity01 parity10 parity11 mqar}
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-/tmp/xlstm-gpu-build}
export LD_LIBRARY_PATH="$(realpath -m "${XLSTM_DEVICE_DEPS:-.device-deps}")/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
bash scripts/gpu-build.sh xlstm-train || exit 1
mkdir -p "$runs"

declare -A config=([parity01]=configs/parity_xlstm01.yaml [parity10]=configs/parity_xlstm10.yaml
                   [parity11]=configs/parity_xlstm11.yaml [mqar]=configs/mqar.yaml)
left=$((seconds - SECONDS))
echo "== runs: $names (stopped after ${left}s when SECONDS > 0) ($(date +%T))"
pids=()
for name in $names; do
  [[ -n ${config[$name]:-} ]] || { echo "unknown run $name"; exit 2; }
  limit=()
  [[ $seconds -gt 0 ]] && limit=(timeout -s TERM "$left")
  "${limit[@]}" "$build/bin/xlstm-train" --config "${config[$name]}" --device cuda \
    --out "$runs/$name" --resume --checkpoint-every 500 >>"$runs/$name.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "== done ($(date +%T))"
for name in $names; do
  echo "-- $name"
  grep -E '^(step|  validation|done|xlstm-train:)' "$runs/$name.log" | tail -4
done
