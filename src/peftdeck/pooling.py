"""How a classification head reads the encoder: `model.pooling` in the config.

* `cls` (the default): the architecture's own head. For BERT that is the pooler, a dense layer and tanh
  on the [CLS] state, which BERT's next-sentence objective trained.
* `mean`: the mean of the token states under the attention mask, the pooling that sentence-embedding
  checkpoints (sentence-transformers models such as all-MiniLM-L6-v2) were trained with. Their [CLS]
  state and pooler were never trained for anything (all-MiniLM-L6-v2 ships a pooler whose bias is all
  zeros); a method that freezes the encoder then reads a random projection of an untrained token.

`mean` replaces the pooler of an encoder whose head reads one (BERT and its relatives). The pooler
takes only the hidden states, so a forward pre-hook on the encoder keeps the attention mask of the
call for it, including the mask that prompt tuning extends over its virtual tokens.
"""
from __future__ import annotations

from typing import Any

import torch

POOLINGS = ("cls", "mean")


class MeanPooler(torch.nn.Module):
    """Masked mean of the token states; holds no weights."""

    def __init__(self) -> None:
        super().__init__()
        self.mask: torch.Tensor | None = None

    def keep_mask(self, module: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
        # BERT-style encoders take (input_ids, attention_mask, ...); heads pass the mask by keyword.
        self.mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        mask = self.mask
        if mask is None:
            return hidden_states.mean(dim=1)
        if mask.shape[:2] != hidden_states.shape[:2]:
            raise RuntimeError(f"mean pooling: attention mask {tuple(mask.shape)} does not match the hidden "
                               f"states {tuple(hidden_states.shape)}")
        weights = mask.to(hidden_states.dtype).unsqueeze(-1)
        return (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def apply_pooling(model: torch.nn.Module, pooling: str) -> torch.nn.Module:
    """Give a sequence-classification model the pooling named in the config (in place)."""
    if pooling == "cls":
        return model
    if pooling != "mean":
        raise ValueError(f"model.pooling {pooling!r}: expected one of {', '.join(POOLINGS)}")
    encoder = getattr(model, getattr(model, "base_model_prefix", ""), None)
    if encoder is None or not isinstance(getattr(encoder, "pooler", None), torch.nn.Module):
        raise ValueError(
            f"model.pooling mean: this model ({model.config.model_type}) has no pooler for its classification "
            "head to read (its head reads the first token itself); mean pooling is built for BERT-style "
            "encoders. Use pooling: cls, the default")
    pooler = MeanPooler()
    encoder.pooler = pooler
    encoder.register_forward_pre_hook(pooler.keep_mask, with_kwargs=True)
    return model
