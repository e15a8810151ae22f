"""LoRA (Hu et al., 2021) through peft: low-rank updates on chosen projections; the head trains fully."""
from __future__ import annotations

from . import head_prefixes, register

_ALLOWED = {"r", "alpha", "dropout", "target_modules"}


@register("lora")
def lora(model, task_kind, options):
    unknown = set(options) - _ALLOWED
    if unknown:
        raise ValueError(f"method lora: unknown option(s) {sorted(unknown)}; allowed: {sorted(_ALLOWED)}")
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=int(options.get("r", 8)),
        lora_alpha=int(options.get("alpha", 16)),
        lora_dropout=float(options.get("dropout", 0.1)),
        target_modules=list(options.get("target_modules", ["query", "value"])),
        modules_to_save=head_prefixes(model),
        bias="none",
    )
    return get_peft_model(model, cfg)
