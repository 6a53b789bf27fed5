#!/usr/bin/env python3
"""Initialisation reference of the golden fixtures: tests/data/reference/<case>/init.safetensors.

How it was run (Debian 12, CPU only, no network):
    apt-get install -y python3-torch python3-numpy   # torch 1.13.1+dfsg, numpy 1.24, yaml 6.0
    /usr/bin/python3 scripts/make_reference_init.py /work/main/.peers/src
The argument is a directory holding the official `xlstm` 2.0.5 package (its `xlstm/` folder).

For every fixture it builds the official model from the fixture's config.yaml (sLSTM backend
vanilla) afresh after `torch.manual_seed(seed)` for seeds 0..DRAWS-1, calls `reset_parameters()`
(the sLSTM layer's does not touch its convolution: that keeps the constructor's draw) and writes, for each entry of the state dict:
  init.<name>        float32, the values after seed 0, for a deterministic initialisation (the
                     same after every seed: zeros, ones, linspace, the sLSTM power-law bias);
  init_stats.<name>  float64 [mean, std, count] of the values pooled over all DRAWS seeds, for a
                     random initialisation (count = DRAWS * numel, so a small tensor is checked
                     as tightly as a large one).
Deterministic means: equal bit for bit after every seed. The test (tests/models/
reference_fixtures_test.cpp, Initialisation) checks ours against these.
"""
import dataclasses
import json
import struct
import sys
import typing
from pathlib import Path

import torch
import yaml

DRAWS = 32
CASES = ["mlstm_stack_small", "slstm_stack_small", "readme_stack", "lm_parity_xlstm11", "lm_tied"]


def build_dataclass(cls, data):
    """The dataclass `cls` from a plain dict (nested dataclasses, Optional[...] of them)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        for candidate in typing.get_args(hint) or (hint,):
            if dataclasses.is_dataclass(candidate) and isinstance(value, dict):
                value = build_dataclass(candidate, value)
                break
        kwargs[key] = value
    return cls(**kwargs)


def save_safetensors(path, tensors):
    """Standard safetensors: u64 header length, JSON header, raw little-endian data."""
    names = {torch.float32: "F32", torch.float64: "F64"}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main(official_dir, reference_dir):
    sys.path.insert(0, official_dir)
    from xlstm import xLSTMBlockStack, xLSTMBlockStackConfig
    from xlstm.xlstm_lm_model import xLSTMLMModel, xLSTMLMModelConfig

    for case in CASES:
        config = yaml.safe_load((reference_dir / case / "config.yaml").read_text())
        lm = "vocab_size" in config
        cfg = build_dataclass(xLSTMLMModelConfig if lm else xLSTMBlockStackConfig, config)
        draws = []
        for seed in range(DRAWS):
            torch.manual_seed(seed)
            model = (xLSTMLMModel if lm else xLSTMBlockStack)(cfg)
            model.reset_parameters()
            draws.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        out = {}
        for name, first in draws[0].items():
            if all(torch.equal(first, d[name]) for d in draws[1:]):
                out["init." + name] = first.to(torch.float32)
            else:
                pooled = torch.cat([d[name].flatten().double() for d in draws])
                out["init_stats." + name] = torch.tensor(
                    [pooled.mean().item(), pooled.std().item(), float(pooled.numel())],
                    dtype=torch.float64)
        save_safetensors(reference_dir / case / "init.safetensors", out)
        print(case, sum(k.startswith("init.") for k in out), "deterministic,",
              sum(k.startswith("init_stats.") for k in out), "random")


if __name__ == "__main__":
    main(sys.argv[1], Path(__file__).resolve().parent.parent / "tests" / "data" / "reference")
