"""Expand a validated study configuration into cells: the experiments that run, the learning rates
each runs a method at, every cell of an experiment, and which deck section presents an experiment.

The names are re-exported by `peftdeck.config`, where validation uses `SECTION_KINDS` and `slides_kind`.
"""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

from . import paths
from .paths import Cell

# Deck sections an experiment can feed (`slides:`). Without the key, an experiment named like one of
# the first three feeds that section; any other experiment gets a generic slide.
SECTION_KINDS = ("glue", "squad", "squad_epochs", "grid", "lora_ranks", "fractions")


def slides_kind(name: str, exp: dict[str, Any]) -> str | None:
    """The deck section that presents an experiment, or None for a generic slide.

    `slides:` decides when given (`none` keeps the experiment out of the deck: it is returned as
    "none"); otherwise an experiment named glue, squad or squad_epochs feeds that section.
    """
    kind = exp.get("slides")
    if kind is not None:
        return str(kind)
    return name if name in ("glue", "squad", "squad_epochs") else None


def enabled_experiments(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in config["experiments"].items() if v.get("enabled", True)}


def sections(config: dict[str, Any]) -> dict[str, str]:
    """{section kind: experiment name} over the enabled experiments (validation keeps one per kind)."""
    out: dict[str, str] = {}
    for name, exp in enabled_experiments(config).items():
        kind = slides_kind(name, exp)
        if kind in SECTION_KINDS and kind not in out:
            out[kind] = name
    return out


def method_lrs(config: dict[str, Any], exp: dict[str, Any], method: str) -> list[float]:
    """The learning rates an experiment runs `method` at.

    `learning_rates` is a list swept for every method, or a mapping from method to a rate or a list of
    rates (methods it leaves out, and experiments without the key, use the method's own `lr`).
    """
    lrs = exp.get("learning_rates")
    if isinstance(lrs, dict):
        lrs = lrs.get(method)
        if lrs is not None and not isinstance(lrs, list):
            lrs = [lrs]
    return [float(lr) for lr in (lrs or [config["methods"][method]["lr"]])]


def tuned_on(exp: dict[str, Any]) -> str | None:
    """The grid experiment whose held-out choice sets this experiment's learning rate and batch size."""
    return exp.get("tuned_on")


def choice_sources(exp: dict[str, Any]) -> dict[str, str]:
    """{task: the grid task whose choice it runs at}: itself, or what `choose_from` names."""
    borrow = exp.get("choose_from") or {}
    return {task: borrow.get(task, task) for task in exp["tasks"]}


def tuned_experiments(config: dict[str, Any]) -> list[str]:
    """The enabled experiments whose settings come from a grid's held-out choice."""
    return [n for n, e in enabled_experiments(config).items() if tuned_on(e)]


def load_chosen(config: dict[str, Any], name: str, root: str | Path = ".") -> dict[str, Any] | None:
    """What `peftdeck.choose` wrote for a tuned experiment, or None before its grid has been chosen on."""
    path = Path(root) / paths.chosen_json(config["study"], name)
    if not path.is_file():
        return None
    with open(path) as f:
        return json.load(f)


def effective_schedule(config: dict[str, Any], schedule: dict[str, Any], train_size: int | str,
                       batch_size: int) -> dict[str, Any]:
    """A step budget that cannot bind is the plain epoch schedule: where the study also runs that
    schedule, both address the same cell, which is trained once.

    `{steps: S, epochs: E}` trains max(S, ceil(E * ceil(features / batch))) steps. With a training size
    of n examples (n is exact: a size larger than the split is an error) there are at least n features,
    so where ceil(E * n / batch) >= S the budget adds no step and the run is the `{epochs: E}` run (the
    case of part II's largest size when a study compares the two schedules).
    """
    if not (schedule.get("steps") and isinstance(train_size, int) and not isinstance(train_size, bool)):
        return schedule
    if math.ceil(float(schedule["epochs"]) * train_size / batch_size) < int(schedule["steps"]):
        return schedule
    plain = {k: v for k, v in schedule.items() if k != "steps"}
    return plain if paths.sched_tag(plain) in _schedule_tags(config) else schedule


def task_schedules(exp: dict[str, Any], task: str) -> list[dict[str, Any]]:
    """The schedules an experiment trains `task` under: its `task_schedules` entry, else `schedules`."""
    return list((exp.get("task_schedules") or {}).get(task) or exp["schedules"])


def _schedule_tags(config: dict[str, Any]) -> set[str]:
    """The schedules the enabled experiments run, as cell-address tags."""
    return {paths.sched_tag(s) for e in enabled_experiments(config).values() for t in e["tasks"]
            for s in task_schedules(e, t)}


def _task_product(exp: dict[str, Any], *more: list) -> Any:
    """(task, method, train size, schedule, *more) over an experiment, each task under its own schedules."""
    for task in exp["tasks"]:
        for rest in itertools.product(exp["methods"], exp["train_sizes"], task_schedules(exp, task), *more):
            yield (task, *rest)


def experiment_cells(config: dict[str, Any], name: str, root: str | Path = ".") -> list[Cell]:
    """The cells of one experiment, in a stable order.

    A tuned experiment (`tuned_on: <grid experiment>`) runs each task and method at the learning rate
    and batch size its grid chose on held-out data; until that choice is written (the `choose_settings`
    checkpoint) it has no cells yet.
    """
    exp = config["experiments"][name]
    out = []
    if tuned_on(exp):
        chosen = load_chosen(config, name, root)
        if chosen is None:
            return []
        for task, method, size, sched, seed in _task_product(exp, exp["seeds"]):
            pick = chosen["settings"][task][method]
            sched = effective_schedule(config, sched, size, int(pick["batch_size"]))
            out.append(Cell(config["study"], task, method, size, paths.sched_tag(sched), float(pick["lr"]),
                            int(pick["batch_size"]), int(seed), exp.get("holdout")))
        return out
    for task, method, size, sched, bs, seed in _task_product(exp, exp["batch_sizes"], exp["seeds"]):
        sched = effective_schedule(config, sched, size, int(bs))
        for lr in method_lrs(config, exp, method):
            out.append(Cell(config["study"], task, method, size, paths.sched_tag(sched), float(lr), int(bs),
                            int(seed), exp.get("holdout")))
    return out


def all_cells(config: dict[str, Any], root: str | Path = ".") -> list[Cell]:
    """Every cell of every enabled experiment, each once (a tuned experiment's once its grid is chosen on)."""
    seen: dict[str, Cell] = {}
    for name in enabled_experiments(config):
        for cell in experiment_cells(config, name, root):
            seen.setdefault(cell.path, cell)
    return list(seen.values())
