"""Fine-tuning methods: each one is a small registered unit that decides what trains.

A method kind is a function ``apply(model, task_kind, options) -> model`` registered under a lower-case
name. It freezes what must stay fixed, adds what it needs, and leaves the task head trainable.
Adding a method means adding one module here that calls `register`.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # torch costs seconds to import; Snakemake imports this module to validate configs
    import torch

MethodFn = Callable[["torch.nn.Module", str, dict[str, Any]], "torch.nn.Module"]

# kind -> module that registers it; modules are imported on first use so that a job only pays
# for the libraries its method needs (peft alone costs seconds to import).
_MODULES = {
    "full_ft": "full_ft",
    "bitfit": "bitfit",
    "bitfit_subset": "bitfit",
    "lora": "lora",
    "prompt_tuning": "prompt_tuning",
    "adapter_houlsby": "adapters",
    "adapter_pfeiffer": "adapters",
}
METHOD_KINDS = frozenset(_MODULES)
_REGISTRY: dict[str, MethodFn] = {}


def register(kind: str) -> Callable[[MethodFn], MethodFn]:
    def deco(fn: MethodFn) -> MethodFn:
        _REGISTRY[kind] = fn
        return fn

    return deco


def get_method(kind: str) -> MethodFn:
    if kind not in _MODULES:
        raise ValueError(f"unknown method kind {kind!r}; known: {', '.join(sorted(_MODULES))}")
    if kind not in _REGISTRY:
        importlib.import_module(f"{__name__}.{_MODULES[kind]}")
    return _REGISTRY[kind]


def head_prefixes(model: torch.nn.Module) -> list[str]:
    """Names of the task-head modules: every top-level child with weights outside the encoder."""
    base = getattr(model, "base_model_prefix", "bert")
    return [name for name, child in model.named_children()
            if name != base and any(True for _ in child.parameters())]


def is_head_param(model: torch.nn.Module, name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in head_prefixes(model))


def freeze_all_but(model: torch.nn.Module, keep: Callable[[str], bool]) -> torch.nn.Module:
    for name, param in model.named_parameters():
        param.requires_grad_(keep(name) or is_head_param(model, name))
    return model


def apply_method(model: torch.nn.Module, kind: str, task_kind: str, options: dict[str, Any]) -> torch.nn.Module:
    return get_method(kind)(model, task_kind, dict(options))


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) over unique parameter tensors."""
    seen: set[int] = set()
    trainable = total = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total
