"""LoRA (Hu et al., 2021) through peft: low-rank updates on chosen projections; the head trains fully.

`target_modules` names roles of `architectures.Architecture` (query, key, value, attention_out,
ffn_in, ffn_out), which each architecture maps to its own modules; any other name is passed to
peft as a module name. Without it, LoRA adapts the query and value projections, as in the paper.
DoRA and LoRA on every linear layer (`dora.py`, `lora_all.py`) build on `lora_model` here.
"""
from __future__ import annotations

from typing import Any

from . import MethodSpec, head_prefixes, register
from .architectures import Architecture, architecture, block_pattern

_ALLOWED = frozenset({"r", "alpha", "dropout", "target_modules"})
_DEFAULTS = {"r": 8, "alpha": 16, "dropout": 0.1, "target_modules": ["query", "value"]}
ROLES = ("query", "key", "value", "attention_out", "ffn_in", "ffn_out")
# Hu et al. (2021), table 9: RoBERTa-base on GLUE trains LoRA at 4e-4 ... 5e-4.
_LR = 5e-4


def peft_targets(arch: Architecture, names: list[str]) -> str | list[str]:
    """peft's `target_modules` for role names (a regular expression over every block) or raw module names."""
    roles = arch.linear_roles()
    if all(n in roles for n in names):
        return block_pattern(arch, [roles[n] for n in names])
    return [roles.get(n, n) for n in names]


def target_names(options: dict[str, Any], default: tuple[str, ...]) -> list[str]:
    names = options.get("target_modules")
    if names is None:
        return list(default)
    if isinstance(names, str):
        names = [names]
    return [str(n) for n in names]


def lora_model(model, spec: MethodSpec, options: dict[str, Any], default_roles: tuple[str, ...], dora: bool = False):
    spec.check_options(options)
    arch = architecture(model, spec.kind)
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=int(options.get("r", 8)),
        lora_alpha=int(options.get("alpha", 16)),
        lora_dropout=float(options.get("dropout", 0.1)),
        target_modules=peft_targets(arch, target_names(options, default_roles)),
        modules_to_save=head_prefixes(model),
        bias="none",
        use_dora=dora,
    )
    return get_peft_model(model, cfg)


def _describe(o: dict[str, Any]) -> str:
    targets = ", ".join(o.get("target_modules") or ["query", "value"])
    return f"rank-{o.get('r', 8)} low-rank updates on {targets} (alpha {o.get('alpha', 16)}), plus the task head"


def lora(model, task_kind, options):
    return lora_model(model, SPEC, options, ("query", "value"))


SPEC = register(MethodSpec(
    kind="lora", label="LoRA (r=8)", what_trains=_describe, lr=_LR, colors=("#1b9e77", "#59c9a5", "#0e6b50"),
    defaults=_DEFAULTS, options=_ALLOWED, added=("lora_",), apply=lora, rank_option="r", order=20,
    # The rank sweep: alpha = 2r keeps the update's scale (alpha / r) at the default instance's, so
    # only the rank changes from one instance to the next.
    instances={f"lora_r{r}": {"label": f"LoRA r={r}", "r": r, "alpha": 2 * r} for r in (1, 4, 8, 16)},
))
