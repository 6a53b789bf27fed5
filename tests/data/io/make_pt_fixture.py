"""Writes tiny_state_dict.pt: the state_dict() of a small torch.nn module, saved by torch.save.

Run with Debian's python3-torch (1.13): /usr/bin/python3 tests/data/io/make_pt_fixture.py
tests/io/pt_test.cpp defines the same module in C++ and checks the values below.
"""
import os

import torch


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(3, 2)
        self.inner = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False))
        self.register_buffer("steps", torch.tensor([7], dtype=torch.int64))
        # Tied weights: state_dict() holds both names, one storage in the file.
        self.token_embedding = torch.nn.Embedding(3, 2)
        self.lm_head = torch.nn.Linear(2, 3, bias=False)
        self.lm_head.weight = self.token_embedding.weight


model = Tiny()
with torch.no_grad():
    # Values the C++ test can recompute: arange-based, no random numbers.
    model.proj.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5)
    model.proj.bias.copy_(torch.tensor([-1.0, 2.0]))
    model.inner[0].weight.copy_(torch.arange(4, dtype=torch.float32).reshape(2, 2) - 1.5)
    model.token_embedding.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(3, 2) * -2.0)
torch.save(model.state_dict(), os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_state_dict.pt"))
