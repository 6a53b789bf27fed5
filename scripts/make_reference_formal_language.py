#!/usr/bin/env python3
"""Examples of the official formal-language data: tests/data/formal_language/<task>.json.

How it was run (Debian 12, CPU only, no network):
    apt-get install -y python3-torch python3-numpy   # torch 1.13.1+dfsg, numpy 1.24.2
    /usr/bin/python3 scripts/make_reference_formal_language.py /work/main/.peers/src
The argument is a directory holding the official `experiments/` package (xlstm 2.0.5's repository).
torchmetrics is not packaged by Debian; the dataset module imports it only for its metric classes,
so a stand-in module with those names is installed before the import (no metric is computed here).

For each task the official FormLangDatasetGenerator (count 8 per split, enable_mask true, shift 1)
gives the first 8 training examples; the file holds, per example, the task function's sequence and
prediction mask (`sequence`, `mask`, context_length long) and what FormLangDataset.__getitem__
returns for it (`inputs`, `targets`, context_length - 1 long), plus the dataset kwargs.
"""
import json
import sys
import types
from pathlib import Path

import torch

CASES = {
    "parity": dict(vocab_size=3, context_length=12, min_sequence_length=3, max_sequence_length=12),
    "cycle_navigation": dict(vocab_size=8, max_step_size=2, context_length=12,
                             min_sequence_length=3, max_sequence_length=12),
    "even_pairs": dict(vocab_size=5, context_length=12, min_sequence_length=3,
                       max_sequence_length=12),
    "modular_arithmetic": dict(vocab_size=10, context_length=12, min_sequence_length=3,
                               max_sequence_length=12),
}
SEED = 1234
COUNT = 8


def install_torchmetrics_stand_in():
    module = types.ModuleType("torchmetrics")

    class Metric(torch.nn.Module):
        pass

    module.Metric = Metric
    module.MetricCollection = dict
    module.Accuracy = Metric
    sys.modules["torchmetrics"] = module


def main(official_dir, out_dir):
    install_torchmetrics_stand_in()
    sys.path.insert(0, official_dir)
    from experiments.data.formal_language.formal_language_dataset import (
        FormLangDatasetConfig, FormLangDatasetGenerator)

    out_dir.mkdir(parents=True, exist_ok=True)
    for task, kwargs in CASES.items():
        cfg = FormLangDatasetConfig(synth_lang_type=task, seed=SEED, enable_mask=True, shift=1,
                                    count={"train": COUNT, "validation": COUNT, "test": COUNT},
                                    **kwargs)
        split = FormLangDatasetGenerator(cfg).train_split
        examples = []
        for i in range(COUNT):
            inputs, targets = split[i]
            examples.append({
                "sequence": [int(t) for t in split._dataset[i]],
                "mask": [int(m) for m in split._dataset_mask[i]],
                "inputs": inputs.tolist(),
                "targets": targets.tolist(),
            })
        record = {"task": task, "seed": SEED, "kwargs": kwargs, "enable_mask": True, "shift": 1,
                  "source": "official experiments/ FormLangDatasetGenerator(...).train_split"}
        lines = ",\n".join("  " + json.dumps(e) for e in examples)  # one example per line
        text = json.dumps(record)[:-1] + ', "examples": [\n' + lines + "\n]}\n"
        (out_dir / (task + ".json")).write_text(text)
        print(task, len(examples), "examples")


if __name__ == "__main__":
    main(sys.argv[1],
         Path(__file__).resolve().parent.parent / "tests" / "data" / "formal_language")
