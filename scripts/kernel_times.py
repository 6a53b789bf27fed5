#!/usr/bin/env python3
"""Where one training step's GPU time goes, from Nsight Compute's per-kernel durations.

Input: the CSV of `ncu --clock-control none --metrics gpu__time_duration.sum --csv --log-file F
xlstm-bench lm --variants kernels --warmup 0 --iters 1` (gzip or plain; scripts/gpu-check.sh
lm-profile writes it). The first step's kernels are those before the first optimizer kernel
(multi_tensor_apply); they are summed by group (the regular expressions below, first match wins)
and, with --kernels N, the N slowest kernel names are listed too.

Usage: python3 scripts/kernel_times.py PROFILE.csv[.gz] [--kernels N]
"""
import argparse
import collections
import csv
import gzip
import re

GROUPS = [
    ("sLSTM recurrence kernels", r"slstm::"),
    ("mLSTM chunkwise kernels", r"mlstm::"),
    ("optimizer (fused AdamW)", r"multi_tensor_apply"),
    ("log-softmax / cross entropy", r"SoftMax|nll_loss"),
    ("strided copies (transposes, non-contiguous casts)", r"^void native::elementwise_kernel<.*direct_copy"),
    ("dtype casts (contiguous)", r"unrolled_elementwise_kernel<.*direct_copy|bfloat16_copy|float16_copy"),
    ("matrix products", r"gemm|nvjet|cutlass|splitKreduce|xmma"),
    ("norms", r"layer_norm|GammaBeta|group_norm"),
    ("convolution", r"conv_depthwise|conv"),
    ("reductions", r"reduce_kernel"),
    ("other elementwise", r"elementwise|Cat|gather|scatter|index|Fill"),
]


def rows_of(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"kernel_times.py: cannot read {path}: {e}")
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
    if start is None:
        raise SystemExit(f"kernel_times.py: {path} has no ncu CSV table (no \"ID\" header line)")
    for r in csv.DictReader(lines[start:]):
        yield r["Kernel Name"], float(r["Metric Value"].replace(",", "")) / 1e6  # ns -> ms


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile")
    ap.add_argument("--kernels", type=int, default=0)
    args = ap.parse_args()
    step = []
    for name, ms in rows_of(args.profile):
        if "multi_tensor_apply" in name and step:
            break
        step.append((name, ms))
    groups, counts = collections.defaultdict(float), collections.Counter()
    for name, ms in step:
        group = next((g for g, rx in GROUPS if re.search(rx, name)), "other")
        groups[group] += ms
        counts[group] += 1
    total = sum(ms for _, ms in step)
    print(f"first step: {len(step)} kernels, {total:.1f} ms of GPU time")
    for group, ms in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {ms:8.2f} ms {100 * ms / total:5.1f}% {counts[group]:5d}  {group}")
    if args.kernels:
        names, calls = collections.defaultdict(float), collections.Counter()
        for name, ms in step:
            short = re.sub(r"\(.*", "", name)[:120]
            names[short] += ms
            calls[short] += 1
        print(f"slowest {args.kernels} kernels:")
        for short, ms in sorted(names.items(), key=lambda kv: -kv[1])[: args.kernels]:
            print(f"  {ms:8.2f} ms {calls[short]:5d}  {short}")


if __name__ == "__main__":
    main()
