"""Task registry: how each benchmark is loaded, tokenised, scored and given a baseline.

    from peftdeck.tasks import get_task
    task = get_task("mrpc")
    splits = task.load("local", "path/to/glue/MRPC")
    train = task.encode_train(task.subsample(splits["train"], 500, seed=42), tokenizer, 128)

Importing this package pulls in numpy only; `datasets`/`transformers` load on first use.
"""
from __future__ import annotations

from .base import SOURCES, SPLITS, Task
from .glue import SENTENCE_TASKS, ImdbTask, SentenceTask, TsvLayout
from .squad import SQUAD, SquadTask, squad_postprocess

TASKS: dict[str, Task] = {task.name: task for task in (*SENTENCE_TASKS, SQUAD)}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


__all__ = [
    "TASKS",
    "SOURCES",
    "SPLITS",
    "Task",
    "SentenceTask",
    "ImdbTask",
    "SquadTask",
    "TsvLayout",
    "get_task",
    "squad_postprocess",
]
