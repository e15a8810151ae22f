"""Prompt tuning (Lester et al., 2021) through peft: trainable virtual tokens before the input; the head trains."""
from __future__ import annotations

from . import head_prefixes, register

_ALLOWED = {"num_virtual_tokens"}


@register("prompt_tuning")
def prompt_tuning(model, task_kind, options):
    unknown = set(options) - _ALLOWED
    if unknown:
        raise ValueError(f"method prompt_tuning: unknown option(s) {sorted(unknown)}; allowed: {sorted(_ALLOWED)}")
    if task_kind == "qa":
        raise ValueError("method prompt_tuning is supported for classification and regression tasks, not QA")
    from peft import PromptTuningConfig, TaskType, get_peft_model

    cfg = PromptTuningConfig(
        task_type=TaskType.SEQ_CLS,
        num_virtual_tokens=int(options.get("num_virtual_tokens", 20)),
        modules_to_save=head_prefixes(model),
    )
    return get_peft_model(model, cfg)
