"""Random streams and distinct draws, shared by every demo task generator.

Standard library only.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any


def stream(seed: int, *names: str) -> random.Random:
    """The random stream for (seed, task, split, ...)."""
    # `random` hashes a str seed with SHA-512, so every (seed, task, split) stream is independent and
    # does not depend on PYTHONHASHSEED; changing one task's size leaves the other files' bytes alone.
    return random.Random("/".join(("peftdeck-demo", str(seed)) + names))


def split_rows(task: str, seed: int, n_train: int, n_dev: int, example: Callable[[random.Random], Any],
               key: Callable[[Any], Any]) -> dict[str, list]:
    """{"train": [...], "dev": [...]}: `example(rng)` drawn from one stream per split, keys distinct
    across both splits."""
    seen: set = set()
    out = {}
    for split, n in (("train", n_train), ("dev", n_dev)):
        rng = stream(seed, task, split)
        out[split] = distinct(lambda: example(rng), key, n, seen, f"{task} {split}")
    return out


def distinct(make: Callable[[], Any], key: Callable[[Any], Any], n: int, seen: set, what: str) -> list:
    """`n` draws of `make()` whose `key` is not in `seen` (updated in place).

    Dev examples that repeat a training example would measure memory, not generalisation.
    """
    out = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise RuntimeError(f"{what}: could not draw {n} distinct examples; ask for fewer")
        example = make()
        k = key(example)
        if k in seen:
            continue
        seen.add(k)
        out.append(example)
    return out
