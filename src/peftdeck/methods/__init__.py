"""Fine-tuning methods: each method kind is declared, whole, by one module of this package.

A module here describes its method with a `MethodSpec` and passes it to `register`: the kind's
name, its label on slides, what trains (one line), its colours in figures, its default options and
learning rate, the function that makes a model trainable (``apply(model, task_kind, options) ->
model``: freeze what stays fixed, add what the method needs, leave the task head trainable) and how
to recognise the parameters it added. Every other part of peftdeck (config defaults, the deck's
descriptions and colours, the parameter counts of a cell) reads these facts from the registry.

Adding a method means adding one module to this package; it is found by `pkgutil` on import.
Method modules must not import torch, transformers or peft at module level (Snakemake imports the
registry to validate a config): import them inside `apply`.

Architecture-specific module names (which modules are "query" and "value" in DistilBERT, where an
adapter goes in ModernBERT) live in `architectures.py`.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Union

if TYPE_CHECKING:  # torch costs seconds to import; Snakemake imports this module to validate configs
    import torch

MethodFn = Callable[["torch.nn.Module", str, dict[str, Any]], "torch.nn.Module"]


@dataclass(frozen=True)
class MethodSpec:
    """Everything peftdeck knows about one method kind."""

    kind: str                                  # registered name; configs refer to it as `kind:`
    label: str                                 # display name of the default instance
    what_trains: Union[str, Callable[[dict[str, Any]], str]]  # one line; a str is formatted with the options
    lr: float                                  # default peak learning rate
    colors: tuple[str, ...]                    # figure colours: instances of this kind take them in turn
    apply: MethodFn | None = None              # None: a function registered with @register(kind)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # default options of the default instance
    options: frozenset[str] | None = None      # allowed options; None: the keys of `defaults`
    added: tuple[str, ...] = ()                # substrings of the names of parameters the method adds
    instances: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # more built-in instances
    task_kinds: frozenset[str] | None = None   # task kinds it supports; None: all
    rank_option: str | None = None             # option that sets a low-rank update's rank (rank sweeps)
    reference: bool = False                    # the full fine-tuning reference every method is compared to
    order: float = 100.0                       # place in listings (default instances, tables)

    def allowed_options(self) -> frozenset[str]:
        return self.options if self.options is not None else frozenset(self.defaults)

    def check_options(self, options: Mapping[str, Any]) -> None:
        unknown = set(options) - self.allowed_options()
        if unknown:
            allowed = sorted(self.allowed_options())
            raise ValueError(f"method {self.kind}: unknown option(s) {sorted(unknown)}; "
                             + (f"allowed: {allowed}" if allowed else "it takes no options"))

    def describe(self, options: Mapping[str, Any] | None = None) -> str:
        merged = {**self.defaults, **(options or {})}
        return self.what_trains(merged) if callable(self.what_trains) else self.what_trains.format(**merged)


_SPECS: dict[str, MethodSpec] = {}
_APPLY: dict[str, MethodFn] = {}


def register(spec_or_kind: MethodSpec | str):
    """Register a `MethodSpec`; or, given a kind name, a decorator that registers its apply function."""
    if isinstance(spec_or_kind, MethodSpec):
        spec = spec_or_kind
        if spec.kind in _SPECS and _SPECS[spec.kind] is not spec:
            raise ValueError(f"method kind {spec.kind!r} is registered twice")
        _SPECS[spec.kind] = spec
        return spec

    def deco(fn: MethodFn) -> MethodFn:
        _APPLY[spec_or_kind] = fn
        return fn

    return deco


def _discover() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def method_specs() -> dict[str, MethodSpec]:
    """Every registered kind, by `order` (then name)."""
    return {k: _SPECS[k] for k in sorted(_SPECS, key=lambda k: (_SPECS[k].order, k))}


def get_spec(kind: str) -> MethodSpec:
    if kind not in _SPECS:
        raise ValueError(f"unknown method kind {kind!r}; known: {', '.join(sorted(_SPECS))}")
    return _SPECS[kind]


def get_method(kind: str) -> MethodFn:
    spec = get_spec(kind)
    fn = spec.apply or _APPLY.get(kind)
    if fn is None:
        raise ValueError(f"method kind {kind!r} declares no apply function")
    return fn


def default_methods() -> dict[str, dict[str, Any]]:
    """The built-in method instances: one per kind (named like it) plus each kind's extra instances."""
    out: dict[str, dict[str, Any]] = {}
    for kind, spec in method_specs().items():
        out[kind] = {"kind": kind, "lr": spec.lr, "label": spec.label, **dict(spec.defaults)}
    for kind, spec in method_specs().items():
        for name, extra in spec.instances.items():
            out[name] = {"kind": kind, "lr": spec.lr, "label": name, **dict(spec.defaults), **dict(extra)}
    return out


def describe(instance: Mapping[str, Any]) -> str:
    """What trains, in one line, for a method instance (`kind` plus options, as in a config)."""
    kind = instance.get("kind")
    if kind not in _SPECS:
        return str(kind)
    options = {k: v for k, v in instance.items() if k not in ("kind", "lr", "label")}
    return _SPECS[kind].describe(options)


def kind_colors(kind: str) -> tuple[str, ...]:
    spec = _SPECS.get(kind)
    return spec.colors if spec else ()


def reference_kinds() -> frozenset[str]:
    """Kinds that are the full fine-tuning reference of a comparison."""
    return frozenset(k for k, s in _SPECS.items() if s.reference)


def rank_option(kind: str) -> str | None:
    """The option that sets the rank of a low-rank method kind (for rank sweeps), or None."""
    spec = _SPECS.get(kind)
    return spec.rank_option if spec else None


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
    spec = get_spec(kind)
    if spec.task_kinds is not None and task_kind not in spec.task_kinds:
        raise ValueError(f"method {kind} is supported for {', '.join(sorted(spec.task_kinds))} tasks, "
                         f"not {task_kind}")
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


def count_added(model: torch.nn.Module, kind: str) -> int:
    """Parameters the method added to the pretrained model (not counting head copies peft keeps)."""
    markers = get_spec(kind).added
    if not markers:
        return 0
    seen: set[int] = set()
    total = 0
    for name, p in model.named_parameters():
        if id(p) not in seen and any(m in name for m in markers):
            seen.add(id(p))
            total += p.numel()
    return total


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What a task needs beyond the shared base model: every trainable tensor, by name, on the CPU."""
    seen: set[int] = set()
    out = {}
    for name, p in model.named_parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out[name] = p.detach().to("cpu").contiguous()
    return out


# Last, so that method modules can import every helper above while they are discovered.
_discover()
METHOD_KINDS = frozenset(_SPECS)
