"""How a classification head reads the encoder: `model.pooling` in the config.

* `cls` (the default): the architecture's own head. For BERT that is the pooler, a dense layer and tanh
  on the [CLS] state, which BERT's next-sentence objective trained.
* `mean`: the mean of the token states under the attention mask, the pooling that sentence-embedding
  checkpoints (sentence-transformers models such as all-MiniLM-L6-v2) were trained with. Their [CLS]
  state and pooler were never trained for anything (all-MiniLM-L6-v2 ships a pooler whose bias is all
  zeros); a method that freezes the encoder then reads a random projection of an untrained token.

* `pair_mean`: for a sentence pair, the masked means u and v of each sentence's token states (told
  apart by the token type ids), read as (u, v, |u - v|), the features Sentence-BERT's classification
  objective reads (Reimers and Gurevych, 2019), here from one joint pass over the pair, so the encoder
  still attends across the two sentences. The classifier then takes three times the hidden size. A
  single-sentence task is read as with `mean`. Prompt tuning's virtual tokens belong to neither
  sentence and are left out of both means (`exclude_prompt`): they act through attention, as they
  do under a [CLS] head. Counted with the first sentence (peft gives them type 0), 10 of them were a
  third of its mean and blurred |u - v|: prompt tuning reached 82.2 F1 on the MRPC-shaped demo task
  that way and 85.9 without them (docs/design.md).

`mean` and `pair_mean` replace the pooler of an encoder whose head reads one (BERT and its relatives). The pooler
takes only the hidden states, so a forward pre-hook on the encoder keeps the attention mask of the
call for it (and its token type ids), including the mask that prompt tuning extends over its virtual tokens.
"""
from __future__ import annotations

from typing import Any

import torch

POOLINGS = ("cls", "mean", "pair_mean")


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


class PairMeanPooler(MeanPooler):
    """(u, v, |u - v|) of the two sentences' masked token-state means; holds no weights.

    `prompt`: positions before the input's own tokens (prompt tuning's virtual tokens), in neither mean."""

    def __init__(self) -> None:
        super().__init__()
        self.types: torch.Tensor | None = None
        self.prompt = 0

    def keep_mask(self, module: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
        super().keep_mask(module, args, kwargs)
        self.types = kwargs.get("token_type_ids", args[2] if len(args) > 2 else None)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        shape = hidden_states.shape[:2]
        mask = self.mask if self.mask is not None else hidden_states.new_ones(shape)
        # No type ids: every token is of the first sentence, as the encoder itself reads it.
        types = self.types if self.types is not None else torch.zeros_like(mask)
        for what, tensor in (("attention mask", mask), ("token type ids", types)):
            if tensor.shape[:2] != shape:
                raise RuntimeError(f"pair_mean pooling: {what} {tuple(tensor.shape)} does not match the hidden "
                                   f"states {tuple(hidden_states.shape)}")
        mask = mask.to(hidden_states.dtype).unsqueeze(-1)
        second = types.to(hidden_states.dtype).unsqueeze(-1) * mask
        first = mask - second
        if self.prompt:
            if shape[1] <= self.prompt:
                raise RuntimeError(f"pair_mean pooling: {shape[1]} positions, not more than the prompt's {self.prompt}")
            first = first.clone()
            first[:, : self.prompt] = 0
        u = (hidden_states * first).sum(dim=1) / first.sum(dim=1).clamp(min=1.0)
        v = (hidden_states * second).sum(dim=1) / second.sum(dim=1).clamp(min=1.0)
        return torch.cat([u, v, (u - v).abs()], dim=-1)


def exclude_prompt(model: torch.nn.Module, positions: int) -> None:
    """Tell a `pair_mean` pooler in `model` that the first `positions` states are a prompt's."""
    for module in model.modules():
        if isinstance(module, PairMeanPooler):
            module.prompt = int(positions)


def apply_pooling(model: torch.nn.Module, pooling: str, pair: bool = False) -> torch.nn.Module:
    """Give a sequence-classification model the pooling named in the config (in place).

    `pair`: the task's inputs are sentence pairs (only `pair_mean` reads it)."""
    if pooling == "cls":
        return model
    if pooling not in POOLINGS:
        raise ValueError(f"model.pooling {pooling!r}: expected one of {', '.join(POOLINGS)}")
    encoder = getattr(model, getattr(model, "base_model_prefix", ""), None)
    if encoder is None or not isinstance(getattr(encoder, "pooler", None), torch.nn.Module):
        raise ValueError(
            f"model.pooling {pooling}: this model ({model.config.model_type}) has no pooler for its classification "
            "head to read (its head reads the first token itself); this pooling is built for BERT-style "
            "encoders. Use pooling: cls, the default")
    pooler = PairMeanPooler() if pooling == "pair_mean" and pair else MeanPooler()
    if isinstance(pooler, PairMeanPooler):
        head = getattr(model, "classifier", None)
        if not isinstance(head, torch.nn.Linear) or head.in_features != model.config.hidden_size:
            raise ValueError(
                f"model.pooling pair_mean: the head of this model ({model.config.model_type}) is not one linear "
                "layer over the pooled vector, so it cannot take the pair's three vectors. Use pooling: mean")
        wider = torch.nn.Linear(3 * head.in_features, head.out_features, dtype=head.weight.dtype)
        # The encoder's own initialisation (for BERT: normal with its initializer_range, zero bias).
        model._init_weights(wider)
        model.classifier = wider
    encoder.pooler = pooler
    encoder.register_forward_pre_hook(pooler.keep_mask, with_kwargs=True)
    return model
