"""LoRA on every linear layer of each block (query, key, value, attention output, both feed-forward layers).

QLoRA (Dettmers et al., 2023) found that adapting all linear layers is what matches full
fine-tuning; peft's `target_modules="all-linear"` does the same for decoders. Here the layers come
from `architectures.py`, so the task head and pooler are never wrapped (the head trains fully).
"""
from __future__ import annotations

from typing import Any

from . import MethodSpec, register
from .lora import _ALLOWED, ROLES, lora_model

# More adapted layers, same rank: a slightly lower rate than query/value LoRA. QLoRA uses 1e-4 ... 2e-4
# for large models; 3e-4 suits base-size encoders (LoRA's 4e-4 ... 5e-4 on RoBERTa-base, Hu et al., 2021).
_LR = 3e-4


def _describe(o: dict[str, Any]) -> str:
    targets = ", ".join(o.get("target_modules") or ["every linear layer of each block"])
    return f"rank-{o.get('r', 8)} low-rank updates on {targets} (alpha {o.get('alpha', 16)}), plus the task head"


def lora_all(model, task_kind, options):
    return lora_model(model, SPEC, options, ROLES)


SPEC = register(MethodSpec(
    kind="lora_all", label="LoRA all-linear (r=8)", what_trains=_describe, lr=_LR,
    colors=("#0b7285", "#3bc9db", "#085566"), defaults={"r": 8, "alpha": 16, "dropout": 0.1}, options=_ALLOWED,
    added=("lora_",),
    apply=lora_all, rank_option="r", order=22,
))
