#!/usr/bin/env bash
# CPU benchmark of the README block stack: ours (xlstm-bench cpu) and the official Python package
# (Debian's python3-torch + the official sources prepared by ../shared/tools/prepare-peers.sh in
# .peers), in one run, then the ratios. Usage: bash scripts/bench-cpu.sh [BUILD_DIR] [extra xlstm-bench args]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}; shift || true
out=$(mktemp); trap 'rm -f "$out"' EXIT
"$build/bin/xlstm-bench" cpu --json "$@" | tee -a "$out"
if [ -d .peers ]; then
  PYTHONPATH=$PWD/.peers/src:$PWD/.peers/py /usr/bin/python3 scripts/bench_official_cpu.py "$@" \
    2> >(grep -v "CUDA runtime" >&2) | tee -a "$out"
else
  echo "no .peers: run ../shared/tools/prepare-peers.sh first to compare with the official package" >&2
fi
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ours = {r["bench"]: r for r in rows if r["impl"] == "xlstm-cpp"}
ref = {r["bench"]: r for r in rows if r["impl"] == "official-python"}
for bench, r in ours.items():
    if bench in ref:
        print(f"{bench:18s} ours {r['ms']:9.1f} ms  official {ref[bench]['ms']:9.1f} ms  speed-up {ref[bench]['ms'] / r['ms']:.2f}x")
PY
