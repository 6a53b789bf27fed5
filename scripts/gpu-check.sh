#!/usr/bin/env bash
# On a CUDA machine: configure + build, then in one go the CUDA tests, a compute-sanitizer memcheck
# of the kernels, our GPU benchmarks with the peers' (same command, so the ratios are fair) and the
# training speed against the official experiments/main.py, and the NCCL process group with a world
# of 1 (dist). Logs go to $OUT (or ./gpu-check-out).
#
# Usage:  bash scripts/gpu-check.sh [PART...]   (from any folder)
#   PARTs: tests sanitize bench peers train-speed dist generate large mlstm lm lm-profile
#          (default: tests sanitize bench peers)
#   generate: xlstm-bench generate (125M-like LM: step ms plain / in place / CUDA graph, prefill,
#   bandwidth bound) and bench_peers.py lm_step in the same command, then the ratios.
#   mlstm: xlstm-bench mlstm (the chunkwise kernels and the ATen forms at the 125M and 7B shapes)
#   and bench_peers.py mlstm_kernel (mlstm_kernels' Triton kernels, SDPA flash) in the same command,
#   then the ratios.
#   lm: xlstm-bench lm (the 125M-like LM's training step, B8 S2048, bf16 autocast, AdamW: ours with
#   the kernels, with the ATen mLSTM forms, with torch::optim::AdamW) and bench_peers.py lm_train.
#   lm-profile: Nsight Compute's kernel durations over one `xlstm-bench lm --variants kernels` step
#   ($out/lm_profile.csv.gz), summed by scripts/kernel_times.py (where the step's GPU time goes).
#   large: xlstm-bench large (7B shape: prefill, decode ms/token) and bench_peers.py large (the
#   official package, Triton kernels) and hf_large (transformers, without the official package).
# Environment:
#   XLSTM_DEVICE_DEPS  prefix made by device-deps.sh (yaml-cpp, GoogleTest, CLI11)   [.device-deps]
#   XLSTM_PEERS        folder made by prepare-peers.sh (peers skipped when absent)    [.peers]
#   BUILD_DIR          [/tmp/xlstm-gpu-build]     CUDA_ARCHS  [90]     JOBS  [16]
#   TEST_FILTER        [*Cuda*]                   BENCH_ARGS  extra `xlstm-bench slstm` arguments
#   GENERATE_ARGS      extra `xlstm-bench generate` arguments     LM_ARGS  extra `xlstm-bench lm` ones
#   MLSTM_KERNELS      comma-separated mlstm_kernels kernels for bench_peers.py mlstm_kernel, where
#                      that copy reads it (default: all four)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-/tmp/xlstm-gpu-build}
export LD_LIBRARY_PATH="$(realpath -m "${XLSTM_DEVICE_DEPS:-.device-deps}")/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
out=${OUT:-$root/gpu-check-out}
peers=$(realpath -m "${XLSTM_PEERS:-$root/.peers}")
parts=${*:-tests sanitize bench peers}
mkdir -p "$out"
rm -f "$out/bench.jsonl" "$out/generate.jsonl" "$out/large.jsonl" "$out/mlstm.jsonl" "$out/lm.jsonl"  # the ratios of this run only
status=0
step() { echo "== $* ($(date +%T))"; }
has() { [[ " $parts " == *" $1 "* ]]; }
peers_py() {
  PYTHONPATH="$peers/src:$peers/py:$peers/src/flashrnn" PYTHONUNBUFFERED=1 python3 "$peers/bench_peers.py" "$@"
}

targets=""
{ has tests || has sanitize; } && targets="xlstm_tests xlstm-run"
{ has bench || has generate || has large || has mlstm || has lm || has lm-profile; } && targets="$targets xlstm-bench"
{ has train-speed || has dist; } && targets="$targets xlstm-train"
bash scripts/gpu-build.sh $targets || exit 1

if has tests; then
  step tests
  "$build/tests/xlstm_tests" --gtest_filter="${TEST_FILTER:-*Cuda*}" 2>&1 | tee "$out/tests.log" |
    grep -E '^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|Expected|Which is|rel|error|difference' | head -120
  [[ ${PIPESTATUS[0]} == 0 ]] || status=1
fi

if has bench; then
  step bench
  nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
  "$build/bin/xlstm-bench" --json slstm ${BENCH_ARGS:-} | tee -a "$out/bench.jsonl"
  "$build/bin/xlstm-bench" --json slstm --dtype f32 --parts recurrence --impl cuda ${BENCH_ARGS:-} |
    tee -a "$out/bench.jsonl"
fi

if has peers && [[ -f "$peers/bench_peers.py" ]]; then
  step peers
  peers_py slstm slstm_kernel 2>"$out/peers.err" | tee -a "$out/bench.jsonl"
fi

if has generate; then
  step "generate: xlstm-bench generate, then bench_peers.py lm_step"
  "$build/bin/xlstm-bench" --json generate ${GENERATE_ARGS:-} 2>"$out/generate.err" |
    tee -a "$out/generate.jsonl" || status=1
  [[ -f "$peers/bench_peers.py" ]] && peers_py lm_step 2>>"$out/peers.err" | tee -a "$out/generate.jsonl"
  python3 scripts/bench_ratios.py "$out/generate.jsonl" | tee "$out/generate_ratios.txt"
fi

if has mlstm; then
  step "mlstm: xlstm-bench mlstm, then bench_peers.py mlstm_kernel"
  nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
  "$build/bin/xlstm-bench" --json mlstm 2>"$out/mlstm.err" | tee -a "$out/mlstm.jsonl" ||
    { tail -5 "$out/mlstm.err"; status=1; }
  [[ -f "$peers/bench_peers.py" ]] && peers_py mlstm_kernel 2>>"$out/peers.err" | tee -a "$out/mlstm.jsonl"
  python3 scripts/bench_ratios.py "$out/mlstm.jsonl" | tee "$out/mlstm_ratios.txt"
fi

if has lm; then
  step "lm: xlstm-bench lm, then bench_peers.py lm_train"
  "$build/bin/xlstm-bench" --json lm ${LM_ARGS:-} 2>"$out/lm.err" | tee -a "$out/lm.jsonl" ||
    { tail -5 "$out/lm.err"; status=1; }
  [[ -f "$peers/bench_peers.py" ]] && peers_py lm_train 2>>"$out/peers.err" | tee -a "$out/lm.jsonl"
  python3 scripts/bench_ratios.py "$out/lm.jsonl" | tee "$out/lm_ratios.txt"
fi

if has lm-profile; then
  step "lm-profile: ncu kernel durations over one xlstm-bench lm step"
  rm -f "$out/lm_profile.csv" "$out/lm_profile.csv.gz"
  ncu --clock-control none --metrics gpu__time_duration.sum --csv --log-file "$out/lm_profile.csv" \
    "$build/bin/xlstm-bench" lm --variants kernels --warmup 0 --iters 1 \
    >"$out/lm_profile.log" 2>&1 || { tail -5 "$out/lm_profile.log"; status=1; }
  gzip -f "$out/lm_profile.csv" && python3 scripts/kernel_times.py "$out/lm_profile.csv.gz" --kernels 12
fi

if has large; then
  step "large: xlstm-bench large, then bench_peers.py large and hf_large"
  "$build/bin/xlstm-bench" --json large ${LARGE_ARGS:-} 2>"$out/large.err" |
    tee -a "$out/large.jsonl" || { tail -5 "$out/large.err"; status=1; }
  if [[ -f "$peers/bench_peers.py" ]]; then
    LARGE_KERNELS="chunkwise--triton_limit_chunk,native_sequence__triton,triton" peers_py large \
      2>>"$out/peers.err" | tee -a "$out/large.jsonl"
    # transformers uses the official package when it can import it: hf_large runs without it.
    PYTHONPATH="$peers/py" PYTHONUNBUFFERED=1 python3 "$peers/bench_peers.py" hf_large \
      2>>"$out/peers.err" | tee -a "$out/large.jsonl"
  fi
fi

if has train-speed; then
  # Our loop and the official main.py on parity_xlstm11 for 600 steps, no validation (bench_peers.py
  # parity); the schedule pinned to the config's so the lr values are the official ones.
  step "train speed"
  speed=$(mktemp -d)
  "$build/bin/xlstm-train" --config configs/parity_xlstm11.yaml --device cuda --steps 600 \
    --set training.lr_decay_until_steps=20000 --set training.val_every_step=100000 \
    --log-every 100 --out "$speed" >"$out/train_speed.log" 2>&1 || { tail -5 "$out/train_speed.log"; status=1; }
  python3 - "$speed" <<'PY' | tee -a "$out/bench.jsonl"
import json, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(d + "/metrics.jsonl")]
summary = json.load(open(d + "/summary.json"))
print(json.dumps({"bench": "parity_train", "impl": "xlstm-train", "config": "parity_xlstm11.yaml, 600 steps",
                  "steps_per_s": lines[-1]["steps_per_s"], "steps_per_s_whole_run": summary["steps_per_s"]}))
PY
  [[ -f "$peers/bench_peers.py" ]] && peers_py parity 2>>"$out/peers.err" | tee -a "$out/bench.jsonl"
fi

if has dist; then
  # One GPU, float32: the loop without a process group and with an NCCL group of one rank (the
  # data-parallel step: global target count, bucketed all-reduce). Same losses; the difference in
  # step time is what the group costs.
  step "dist: NCCL world of 1"
  plain=$(mktemp -d) group=$(mktemp -d)
  dist_args=(--config configs/parity_xlstm11.yaml --device cuda --steps 400 --log-every 50
    --set training.lr_decay_until_steps=20000 --set training.val_every_step=100000
    --set training.enable_mixed_precision=false)
  "$build/bin/xlstm-train" "${dist_args[@]}" --out "$plain" >"$out/dist_plain.log" 2>&1 ||
    { tail -5 "$out/dist_plain.log"; status=1; }
  MASTER_ADDR=127.0.0.1 MASTER_PORT=${DIST_PORT:-29533} "$build/bin/xlstm-train" "${dist_args[@]}" \
    --process-group --out "$group" >"$out/dist_group.log" 2>&1 || { tail -5 "$out/dist_group.log"; status=1; }
  grep -m1 '^training' "$out/dist_group.log"
  python3 - "$plain" "$group" <<'PY' | tee "$out/dist.jsonl"
import json, sys
def steps(d):
    return [l for l in map(json.loads, open(d + "/metrics.jsonl")) if "step" in l]
plain, group = steps(sys.argv[1]), steps(sys.argv[2])
assert [l["step"] for l in plain] == [l["step"] for l in group], "different logging steps"
worst = max(abs(a["loss"] - b["loss"]) / abs(a["loss"]) for a, b in zip(plain, group))
# Steady state: the intervals after the first (warm-up) one.
ms = lambda lines: 1000 * sum(1 / l["steps_per_s"] for l in lines[1:]) / len(lines[1:])
print(json.dumps({"bench": "dist_world_of_1", "backend": "nccl", "config": "parity_xlstm11.yaml fp32, 400 steps",
                  "max_rel_loss_difference": worst, "ms_per_step_plain": ms(plain),
                  "ms_per_step_group": ms(group), "overhead_ms_per_step": ms(group) - ms(plain)}))
sys.exit(0 if worst < 1e-4 else 1)
PY
  [[ ${PIPESTATUS[0]} == 0 ]] || status=1
fi

if [[ -s "$out/bench.jsonl" ]]; then
  step ratios
  python3 scripts/bench_ratios.py "$out/bench.jsonl"
fi
if has sanitize; then
  # Small cases of the sLSTM kernels (float32 FMA and bf16 tensor-core paths, cut / clip, one
  # step), and chains of kernels that overlap their predecessors (dependent_launch.cuh).
  step "compute-sanitizer memcheck"
  compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 "$build/tests/xlstm_tests" \
    --gtest_filter='SlstmCudaRecurrence.SingleStep:SlstmCudaRecurrence.*GradientOptions:SlstmCudaRecurrence.StepsChainLikeTheSequence:SlstmCudaRecurrence.InferenceEqualsTraining:SlstmCudaRecurrence.ClusterInference*:DecodeCuda.OverlappingChainEqualsTheSynchronisedChain:MlstmLayerStepCuda.LayerStepEqualsItsAtenStep' \
    >"$out/sanitize.log" 2>&1
  rc=$?
  grep -E 'ERROR SUMMARY|^\[  (PASSED|FAILED)|Invalid|out of bounds' "$out/sanitize.log" | head -20
  [[ $rc == 0 ]] || { echo "memcheck: exit $rc"; status=1; }
fi

step done
exit $status
