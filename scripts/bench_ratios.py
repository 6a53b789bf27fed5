#!/usr/bin/env python3
"""Ratios of our GPU measurements to the peers' measured in the same command.

Reads JSON lines (xlstm-bench --json slstm / generate, bench_peers.py, and {"bench":"parity_train",...}
lines)
from the files given and prints, per benchmark, every implementation's times and how many times
faster ours ("xlstm-cpp-cuda", or "xlstm-train" for parity_train) is.
Usage: python3 scripts/bench_ratios.py bench.jsonl [more.jsonl ...]
"""
import json
import sys


def rows(paths):
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        pass


def lm_step(bench, results):
    """xlstm-bench generate's steps against bench_peers.py lm_step, per batch size."""
    print(f"\n{bench} (ms per step; bound = bytes read per step / measured copy bandwidth)")
    for batch in sorted({r["B"] for r in results}):
        rows = [r for r in results if r["B"] == batch]
        official = [r for r in rows if r["impl"] == "official"]
        for r in rows:
            name = r["impl"] + (" " + r["variant"] if "variant" in r else "")
            line = f"  B{batch:<3} {name:<34} {r['step_ms']:9.3f}"
            if official and r["impl"] != "official":
                line += f"   {official[-1]['step_ms'] / r['step_ms']:6.1f}x faster than official"
            if "bound_ms" in r:
                line += f"   (bound {r['bound_ms']:.3f} ms at {r['copy_gb_per_s']:.0f} GB/s)"
            print(line)


def lm_prefill(bench, results):
    print(f"\n{bench} (ms)")
    for r in results:
        print(f"  B{r['B']} S{r['S']} {r['impl']:<20} {r['prefill_ms']:9.3f}   one mLSTM block "
              f"{r['mlstm_block_ms']:.3f} x {r['mlstm_blocks']}, one sLSTM block "
              f"{r['slstm_block_ms']:.3f} x {r['slstm_blocks']}")


def copy_bandwidth(bench, results):
    for r in results:
        print(f"\n{bench}: {r['gb_per_s']:.0f} GB/s ({r['device']})")


def mlstm_kernel(bench, results):
    """xlstm-bench mlstm against bench_peers.py mlstm_kernel, per shape: every row's ms and how many
    times faster our chunkwise kernels are (the issue's target: 2x triton_limit_chunk)."""
    print(f"\n{bench} (ms, bf16; ours = xlstm-cpp-cuda-chunkwise)")
    shape = lambda r: (r["B"], r["NH"], r["S"], r["DHQK"], r["DHV"])
    for key in sorted({shape(r) for r in results}, reverse=True):
        rows = [r for r in results if shape(r) == key]
        ours = [r for r in rows if r["impl"] == "xlstm-cpp-cuda-chunkwise"]
        print("  B{} NH{} S{} DHqk {} DHv {}".format(*key))
        for r in rows:
            fb = r.get("fwdbwd_ms")
            line = f"    {r['impl']:<36} fwd {r['fwd_ms']:8.3f}  fwd+bwd " + (f"{fb:8.3f}" if fb else "       -")
            line += f"  {r.get('causal_attention_tflops_fwd', 0):6.1f} TFLOP/s  peak {r.get('peak_gib', 0):6.2f} GiB"
            if ours and r is not ours[-1]:
                o = ours[-1]
                line += f"   ours fwd {r['fwd_ms'] / o['fwd_ms']:.2f}x faster"
                if fb and o.get("fwdbwd_ms"):
                    line += f", fwd+bwd {fb / o['fwdbwd_ms']:.2f}x"
            print(line)


def lm_train(bench, results):
    """xlstm-bench lm against bench_peers.py lm_train: ms per training step, peak memory, where our
    step's time goes (the issue's target: 2.5x the official step, at most half its memory)."""
    print(f"\n{bench} (ms per step, peak GiB)")
    official = [r for r in results if r["impl"] == "official"]
    for r in results:
        name = r["impl"] + (" " + r["variant"] if "variant" in r else "")
        line = f"  B{r['B']} S{r['S']} {name:<30} {r['step_ms']:9.2f} ms  {r['peak_gib']:6.2f} GiB"
        if "fwd_ms" in r:
            line += f"  (fwd {r['fwd_ms']:.1f}, bwd {r['bwd_ms']:.1f}, opt {r['opt_ms']:.1f})"
        if official and r["impl"] != "official":
            o = official[-1]
            line += f"   {o['step_ms'] / r['step_ms']:.2f}x faster, {r['peak_gib'] / o['peak_gib']:.2f}x the memory"
        print(line)


STEP_BENCHES = {"mlstm_kernel": mlstm_kernel, "lm125m_step": lm_step, "lm125m_prefill": lm_prefill,
                "copy_bandwidth": copy_bandwidth, "lm125m_train_step": lm_train}


def main(paths):
    by_bench = {}
    for r in rows(paths):
        if "error" in r:
            print(f"{r.get('bench')} {r.get('impl')}: error: {r['error']}")
            continue
        by_bench.setdefault(r.get("bench"), []).append(r)
    for bench, results in by_bench.items():
        if bench == "parity_train":
            ours = [r for r in results if r["impl"] == "xlstm-train"]
            print(f"\n{bench} (steps/s, higher is better)")
            for r in results:
                line = f"  {r['impl']:<34} {r['steps_per_s']:8.2f}"
                if ours and r is not ours[-1]:
                    line += f"   ours {ours[-1]['steps_per_s'] / r['steps_per_s']:.2f}x faster"
                print(line)
            continue
        if bench in STEP_BENCHES:
            STEP_BENCHES[bench](bench, results)
            continue
        ours = [r for r in results if r.get("impl") == "xlstm-cpp-cuda" and r.get("dtype") == "bf16"]
        print(f"\n{bench} (ms; ours = xlstm-cpp-cuda bf16)")
        for r in results:
            if "fwd_ms" not in r:
                continue
            line = f"  {r['impl']:<28} {r.get('dtype', ''):<5} fwd {r['fwd_ms']:9.2f}  fwd+bwd {r['fwdbwd_ms']:9.2f}"
            if ours and r is not ours[-1]:
                o = ours[-1]
                line += f"   ours {r['fwd_ms'] / o['fwd_ms']:.2f}x / {r['fwdbwd_ms'] / o['fwdbwd_ms']:.2f}x faster"
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
