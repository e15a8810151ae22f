"""What a cell measures besides its scores: FLOPs, process age, library versions, the bytes a task adds.

Memory by kind lives in peftdeck.memory; the cost of serving the trained model in peftdeck.inference.
"""
from __future__ import annotations

import math
import os
import platform
import sys
from typing import Any

import torch

from . import __version__
from .clock import process_age_s  # noqa: F401 (re-exported)
from .methods import trainable_state


def measure_step_flops(step_fn) -> int:
    """FLOPs of one forward+backward, counted by PyTorch's operator-level counter."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step_fn()
    return int(counter.get_total_flops())


def finite_or(value: float, fallback: Any) -> Any:
    return value if math.isfinite(value) else fallback


def versions() -> dict[str, str]:
    import transformers

    out = {"python": platform.python_version(), "torch": torch.__version__,
           "transformers": transformers.__version__, "peftdeck": __version__}
    if "peft" in sys.modules:
        out["peft"] = sys.modules["peft"].__version__
    return out


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or platform.machine()


def parameter_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's unique parameter tensors as loaded (the shared base model a task builds on)."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    return total


TASK_WEIGHTS = "task_weights.safetensors"


def task_storage(model: torch.nn.Module, out_path: str, base_bytes: int, keep: bool) -> dict[str, Any]:
    """What serving this task costs on top of the shared base model: its trainable tensors as safetensors.

    They are written next to the cell's output and measured; the file stays there (as
    task_weights.safetensors beside metrics.json) only when `keep` (the study's `training.save_weights`);
    otherwise an earlier run's file is removed too, since it would not match this result.
    """
    from safetensors.torch import save_file

    state = trainable_state(model)
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{TASK_WEIGHTS}.{os.getpid()}.tmp")
    try:
        save_file(state, tmp)
        size = os.path.getsize(tmp)
        final = os.path.join(folder, TASK_WEIGHTS)
        if keep:
            os.replace(tmp, final)
        elif os.path.exists(final):  # an earlier run's tensors would not match this cell's result
            os.remove(final)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return {"task_bytes": int(size), "task_tensors": len(state),
            "task_parameters": int(sum(t.numel() for t in state.values())),
            "base_model_bytes": int(base_bytes), "format": "safetensors",
            "saved": TASK_WEIGHTS if keep else None}
