"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2021), written for BERT-style encoders.

An adapter is a small residual MLP (down-projection, non-linearity, up-projection) inserted after a
sub-layer's output projection, before the residual LayerNorm. Houlsby places one after the attention
output and one after the feed-forward output and also trains the LayerNorms; Pfeiffer places one
after the feed-forward output only. The up-projection starts at zero, so training starts from the
pretrained function exactly.

The AdapterHub `adapters` package pins an older transformers major version than this project, so
the two configurations are implemented here on plain torch modules.
"""
from __future__ import annotations

import torch
from torch import nn

from . import freeze_all_but, register

_ALLOWED = {"reduction_factor", "activation"}


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


class DropoutThenAdapter(nn.Module):
    """Stands in for a sub-layer's output dropout: the adapter sees the projected, dropped-out output."""

    def __init__(self, dropout: nn.Module, adapter: Bottleneck):
        super().__init__()
        self.dropout = dropout
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.dropout(x))


def _insert(model: nn.Module, options: dict, where: tuple[str, ...]) -> int:
    unknown = set(options) - _ALLOWED
    if unknown:
        raise ValueError(f"adapter method: unknown option(s) {sorted(unknown)}; allowed: {sorted(_ALLOWED)}")
    factor = int(options.get("reduction_factor", 16))
    activation = str(options.get("activation", "relu"))
    if activation not in ("relu", "gelu"):
        raise ValueError(f"adapter method: activation {activation!r} is not supported; use relu or gelu")
    hidden = model.config.hidden_size
    bottleneck = max(1, hidden // factor)
    inserted = 0
    for name, module in list(model.named_modules()):
        # BertSelfOutput is `...attention.output`; BertOutput is `...layer.N.output`.
        kind = "attention" if name.endswith("attention.output") else "ffn" if name.endswith(".output") else None
        if kind in where and isinstance(getattr(module, "dropout", None), nn.Dropout) and hasattr(module, "LayerNorm"):
            module.dropout = DropoutThenAdapter(module.dropout, Bottleneck(hidden, bottleneck, activation))
            inserted += 1
    if not inserted:
        raise ValueError("adapter method: found no BERT-style output sub-layers to attach adapters to")
    return inserted


def _is_adapter(name: str) -> bool:
    return ".adapter." in name


@register("adapter_houlsby")
def adapter_houlsby(model, task_kind, options):
    _insert(model, options, ("attention", "ffn"))
    return freeze_all_but(model, lambda n: _is_adapter(n) or ".LayerNorm." in n)


@register("adapter_pfeiffer")
def adapter_pfeiffer(model, task_kind, options):
    _insert(model, options, ("ffn",))
    return freeze_all_but(model, _is_adapter)
