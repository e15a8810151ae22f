"""Fault injection for the tests of failure handling, set up outside the training loop.

PEFTDECK_SIMULATE_OOM_ABOVE_MICRO_BATCH=N: every training forward pass on more than N examples fails
as if the GPU ran out of memory (so the retry with a halved micro-batch can be exercised on a CPU).
Evaluation is not affected: the check only fires while the model is in training mode.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

OOM_VARIABLE = "PEFTDECK_SIMULATE_OOM_ABOVE_MICRO_BATCH"


def out_of_memory_error() -> type[Exception]:
    return getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def _rows(args: tuple, kwargs: dict) -> int:
    for value in (kwargs.get("input_ids"), kwargs.get("inputs_embeds"), *args):
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return 0


@contextlib.contextmanager
def simulated_oom(model: torch.nn.Module) -> Iterator[None]:
    """While open, a training forward of `model` on more rows than the variable allows raises OOM."""
    limit = int(os.environ.get(OOM_VARIABLE) or 0)
    if not limit:
        yield
        return

    def check(module: torch.nn.Module, args: tuple, kwargs: dict):
        rows = _rows(args, kwargs)
        if module.training and rows > limit:
            raise out_of_memory_error()(
                f"simulated out of memory on a micro-batch of {rows} ({OOM_VARIABLE}={limit})")

    handle = model.register_forward_pre_hook(check, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()
