"""DoRA (Liu et al., 2024) through peft: LoRA's low-rank direction plus a trained magnitude per output.

`LoraConfig(use_dora=True)`: each adapted weight is split into a magnitude vector (one value per
output feature, trained) and a direction that LoRA updates. Same options as `lora`.
"""
from __future__ import annotations

from typing import Any

from . import MethodSpec, register
from .lora import _ALLOWED, _DEFAULTS, lora_model

# Liu et al. (2024) train DoRA with LoRA's hyper-parameters (often at half LoRA's rank);
# peft's DoRA examples keep LoRA's learning rate. LoRA on RoBERTa-base: 4e-4 ... 5e-4 (Hu et al., 2021).
_LR = 5e-4


def _describe(o: dict[str, Any]) -> str:
    targets = ", ".join(o.get("target_modules") or ["query", "value"])
    return (f"rank-{o.get('r', 8)} weight-decomposed low-rank updates (direction and magnitude) on {targets} "
            f"(alpha {o.get('alpha', 16)}), plus the task head")


def dora(model, task_kind, options):
    return lora_model(model, SPEC, options, ("query", "value"), dora=True)


SPEC = register(MethodSpec(
    kind="dora", label="DoRA (r=8)", what_trains=_describe, lr=_LR, colors=("#66a61e", "#8fd14f", "#45700f"),
    defaults=_DEFAULTS, options=_ALLOWED, added=("lora_",), apply=dora, rank_option="r", order=21,
))
