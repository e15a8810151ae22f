"""The deck's figures, one registry built from declarations beside the code that computes their data.

A section module marks the function whose output a figure draws with `@figure(name, section, title,
order)`; `registry()` gathers every declaration, in deck order. A `{task}` in a name gives one figure
per task of that section's experiment. `figure_specs` expands the registry for a config; the plots
rule declares exactly those files as its outputs.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# name -> (order in the deck, deck section it belongs to, slide title)
_DECLARED: dict[str, tuple[int, str, str]] = {}


def figure(name: str, section: str, title: str, order: int) -> Callable[[F], F]:
    """Declare a figure whose data the decorated function computes; the function is left unchanged."""
    def declare(fn: F) -> F:
        known = _DECLARED.get(name)
        if known is not None and known != (order, section, title):
            raise ValueError(f"figure {name!r} declared twice: {known} and {(order, section, title)}")
        _DECLARED[name] = (order, section, title)
        fn.__dict__.setdefault("figures", []).append(name)
        return fn
    return declare


def registry() -> dict[str, tuple[str, str]]:
    """Every declared figure: name -> (deck section, slide title), in the order the deck shows them."""
    return {name: (section, title)
            for name, (_, section, title) in sorted(_DECLARED.items(), key=lambda kv: kv[1][0])}


def figure_specs(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure the deck of this (validated) config shows: name, file, title, section, task."""
    from ..config import sections

    owners = sections(config)
    out = []
    for pattern, (kind, title) in registry().items():
        if kind not in owners:
            continue
        tasks = config["experiments"][owners[kind]]["tasks"] if "{task}" in pattern else [None]
        for task in tasks:
            name = pattern.format(task=task) if task else pattern
            out.append({"name": name, "file": f"figures/{name}.png", "title": title, "section": kind,
                        "task": task})
    return out
