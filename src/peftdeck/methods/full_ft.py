"""Full fine-tuning: every weight of encoder and head trains."""
from __future__ import annotations

from . import register


@register("full_ft")
def full_ft(model, task_kind, options):
    if options:
        raise ValueError(f"method full_ft takes no options, got {sorted(options)}")
    for param in model.parameters():
        param.requires_grad_(True)
    return model
