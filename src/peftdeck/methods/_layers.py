"""Torch modules of the bottleneck adapters; imported only when an adapter method is applied."""
from __future__ import annotations

import torch
from torch import nn


class Bottleneck(nn.Module):
    def __init__(self, hidden: int, bottleneck: int, activation: str):
        super().__init__()
        self.down = nn.Linear(hidden, bottleneck)
        self.act = {"relu": nn.ReLU(), "gelu": nn.GELU()}[activation]
        self.up = nn.Linear(bottleneck, hidden)
        nn.init.normal_(self.down.weight, std=1e-2)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


class ThenAdapter(nn.Module):
    """Stands in for a sub-layer's module (its output dropout or projection): the adapter sees its output."""

    def __init__(self, inner: nn.Module, adapter: Bottleneck):
        super().__init__()
        self.inner = inner
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.inner(x))
