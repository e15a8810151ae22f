"""Task registry: how each benchmark is loaded, tokenised, scored and given a baseline.

    from peftdeck.tasks import get_task
    task = get_task("mrpc")
    splits = task.load("local", "path/to/glue/MRPC")
    train = task.encode_train(task.subsample(splits["train"], 500, seed=42), tokenizer, 128)

A task of your own (classification or regression from local CSV/TSV/JSON Lines files) is defined by
its `data:` entry in the config; `get_task(name, entry)` builds it (see `peftdeck.tasks.generic`).

A built-in task is declared, whole, by its module here: its name, label and one-line description
(slides and tables), metrics (the first is the primary one), the data sources it can be read from,
its Hub dataset and the writer of its generated demo copy. No other part of peftdeck names a task;
they read these facts from `TASKS`.

Importing this package pulls in numpy only; `datasets`/`transformers` load on first use.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import SOURCES, SPLITS, Task
from .generic import GenericTask, generic_task, is_generic
from .glue import SENTENCE_TASKS, ImdbTask, SentenceTask, TsvLayout
from .squad import SQUAD, SquadTask, squad_postprocess

TASKS: dict[str, Task] = {task.name: task for task in (*SENTENCE_TASKS, SQUAD)}


def get_task(name: str, data: Mapping[str, Any] | None = None) -> Task:
    """The built-in task `name`, or the task of your own that `data` defines by its columns.

    `data` is the task's `data:` entry of a config, or the `data` of a resolved cell (where the
    defining keys sit under `task`); a built-in task ignores it.
    """
    if isinstance(name, str) and name in TASKS:
        return TASKS[name]
    if isinstance(name, str) and is_generic(data):
        return generic_task(name, data)
    raise ValueError(
        f"unknown task {name!r}; built-in tasks: {', '.join(TASKS)}; a task of your own is defined by its "
        f"data entry: data.{name}: {{source: local, path: ..., text: <column>, label: <column>}}"
    )


def task_label(name: str) -> str:
    """The task's name on slides and in tables ("SST-2"); a task of your own is shown by its name."""
    task = TASKS.get(name)
    return task.label if task else name


def task_description(name: str) -> str:
    """What the task asks, in a few words ("sentiment"); a task of your own is described by its name."""
    task = TASKS.get(name)
    return task.description if task else name


def legacy_hub_ids() -> dict[str, str]:
    """One-part (legacy) Hub names of the built-in tasks' datasets -> the ids the Hub uses now."""
    out: dict[str, str] = {}
    for task in TASKS.values():
        out.update(task.legacy_hub_ids())
    return out


__all__ = [
    "TASKS",
    "SOURCES",
    "SPLITS",
    "Task",
    "SentenceTask",
    "GenericTask",
    "ImdbTask",
    "SquadTask",
    "TsvLayout",
    "get_task",
    "generic_task",
    "legacy_hub_ids",
    "task_description",
    "task_label",
    "is_generic",
    "squad_postprocess",
]
