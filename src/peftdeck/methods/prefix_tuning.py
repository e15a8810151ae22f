"""Prefix tuning (Li and Liang, 2021; as P-tuning v2, Liu et al., 2022, for encoders): trained key/value
vectors that every attention layer attends to before the input; the head trains.

peft's `PrefixTuningConfig` hands the prefixes to the model as a key/value cache; peft (0.17) looks
for a `past_key_values` argument that transformers 5 encoders have renamed (`cache`), so peft
refuses every encoder. The same mechanism is written out here: the prefixes are one trained
tensor (layers x {key, value} x heads x tokens x head size), written into a `DynamicCache` before
each forward, and the attention mask is extended to cover them. It needs an encoder that accepts a
cache (BERT, RoBERTa); others (DistilBERT, DeBERTa-v2, ModernBERT) fail with a message that says so.
As in peft's and P-tuning v2's BERT code, the input's position ids start after the prefix.
"""
from __future__ import annotations

import inspect

from . import MethodSpec, freeze_all_but, register
from .architectures import model_type

_DEFAULTS = {"num_virtual_tokens": 20}
# P-tuning v2 (Liu et al., 2022) trains BERT/RoBERTa prefixes at 5e-3 ... 1e-2 on GLUE and SuperGLUE.
_LR = 5e-3


def _cache_argument(model) -> str | None:
    base = getattr(model, model.base_model_prefix, model)
    params = inspect.signature(base.forward).parameters
    return next((name for name in ("cache", "past_key_values") if name in params), None)


def _wrapper_class():
    import torch
    from torch import nn

    class PrefixTuned(nn.Module):
        """The model with trained per-layer key/value prefixes, passed to it as a cache on every forward."""

        def __init__(self, model: nn.Module, tokens: int, argument: str):
            super().__init__()
            cfg = model.config
            heads = cfg.num_attention_heads
            self.model = model
            self.argument = argument
            self.tokens = tokens
            self.prefix_kv = nn.Parameter(
                torch.randn(cfg.num_hidden_layers, 2, heads, tokens, cfg.hidden_size // heads) * cfg.initializer_range)

        @property
        def config(self):
            return self.model.config

        def forward(self, input_ids=None, attention_mask=None, **kwargs):
            from transformers import DynamicCache

            batch = input_ids.shape[0]
            prefix = self.prefix_kv
            device_type = prefix.device.type
            if torch.is_autocast_enabled(device_type):  # keys and values come out of autocast's matmuls
                prefix = prefix.to(torch.get_autocast_dtype(device_type))
            cache = DynamicCache()
            for layer in range(prefix.shape[0]):
                key, value = (prefix[layer, i].unsqueeze(0).expand(batch, -1, -1, -1) for i in (0, 1))
                cache.update(key, value, layer)
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            ones = torch.ones((batch, self.tokens), dtype=attention_mask.dtype, device=attention_mask.device)
            mask = torch.cat([ones, attention_mask], dim=1)
            return self.model(input_ids=input_ids, attention_mask=mask, **{self.argument: cache}, **kwargs)

    return PrefixTuned


def prefix_tuning(model, task_kind, options):
    SPEC.check_options(options)
    argument = _cache_argument(model)
    if argument is None:
        raise ValueError(f"method prefix_tuning: the {model_type(model)} encoder takes no key/value cache, which "
                         "prefix tuning needs (BERT and RoBERTa do; DistilBERT, DeBERTa-v2 and ModernBERT do not); "
                         "use prompt_tuning, lora or ia3 for this model")
    tokens = int(options.get("num_virtual_tokens", 20))
    if tokens < 1:
        raise ValueError(f"method prefix_tuning: num_virtual_tokens must be at least 1, got {tokens}")
    freeze_all_but(model, lambda name: False)  # the task head stays trainable
    return _wrapper_class()(model, tokens, argument)


SPEC = register(MethodSpec(
    kind="prefix_tuning", label="Prefix tuning", lr=_LR, colors=("#5f3dc4", "#9775fa", "#3b2585"),
    what_trains="{num_virtual_tokens} trained key/value vectors in every attention layer, plus the task head",
    defaults=_DEFAULTS, added=("prefix_kv",), apply=prefix_tuning, order=31,
))
