#!/usr/bin/env python3
"""Times the official Python xlstm package on the CPU with the README block stack (vanilla sLSTM), for
the same measurements as `xlstm-bench cpu`: forward, forward+backward and the step() loop.
Prints one JSON line per measurement. Run through scripts/bench-cpu.sh, which also runs ours."""
import argparse, json, time

import torch
from dacite import Config, from_dict
from omegaconf import OmegaConf
from xlstm import xLSTMBlockStack, xLSTMBlockStackConfig


def timed(fn, iters):
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="configs/readme_stack.yaml")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    raw = OmegaConf.to_container(OmegaConf.load(a.config))
    raw["slstm_block"]["slstm"]["backend"] = "vanilla"  # the only CPU backend of the package
    cfg = from_dict(xLSTMBlockStackConfig, raw, config=Config(strict=True))
    stack = xLSTMBlockStack(cfg).eval()
    x = torch.randn(a.batch, a.seq, cfg.embedding_dim)
    tokens = a.batch * a.seq

    def emit(bench, seconds, tok):
        print(json.dumps({"impl": "official-python", "bench": bench, "ms": seconds * 1e3,
                          "tok_s": tok / seconds, "batch": a.batch, "seq": a.seq,
                          "threads": a.threads, "torch": torch.__version__}), flush=True)

    with torch.no_grad():
        emit("forward", timed(lambda: stack(x), a.iters), tokens)

    xg = x.clone().requires_grad_(True)
    emit("forward_backward", timed(lambda: stack(xg).sum().backward(), a.iters), tokens)

    def step_loop():
        state = None
        with torch.no_grad():
            for t in range(a.seq):
                _, state = stack.step(x[:, t : t + 1], state)

    emit("step", timed(step_loop, 1), tokens)


if __name__ == "__main__":
    main()
