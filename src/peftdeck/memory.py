"""Training memory by kind, measured exactly on the first optimizer step of a cell.

What a training step holds, by kind (bytes of distinct tensor storages, so a view or a tied weight
counts once):

* ``weights``: every parameter of the model, trainable or frozen;
* ``gradients``: the ``.grad`` tensors after the first backward (frozen parameters have none);
* ``optimizer_state``: every tensor in ``optimizer.state`` after the first ``optimizer.step()``
  (AdamW: two moments per trainable value, plus one step counter per trainable tensor);
* ``activations``: the tensors autograd saves for backward during the first forward, seen through
  ``torch.autograd.graph.saved_tensors_hooks`` (parameters and buffers excluded: they are weights);
  under autocast the low-precision copies of the weights that the forward saves count here;
* ``other``: the model's buffers (position ids and the like).

``peak`` is the most these kinds hold at one time in a steady-state step: weights, buffers and
optimizer state throughout, plus the largest sum of live activations and gradients during the
forward and backward. Backward is followed event by event: a saved tensor counts until backward has
used its last reference, a gradient from when it is first accumulated. With gradient accumulation
the gradients of the first micro-batch stay alive through the next forward, so the peak then adds
them to the activations.

Not included: temporaries that are allocated and freed inside an operator or a step, allocator
caching and fragmentation, the input batch, the libraries and the interpreter. On a GPU the cell also
records the CUDA allocator's own peak; on a CPU the process's peak RSS (mostly libraries).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import torch

KINDS = ("weights", "gradients", "optimizer_state", "activations", "other")
METHOD = ("first optimizer step: parameters, .grad, optimizer.state, tensors saved for backward "
          "(saved_tensors_hooks); peak follows backward event by event")

T = TypeVar("T")
_Key = tuple[str, int, int]


def storage_key(t: torch.Tensor) -> tuple[_Key, int] | None:
    """(device, storage address) and the storage's size in bytes; None for a tensor without storage."""
    try:
        storage = t.untyped_storage()
        ptr, nbytes = storage.data_ptr(), storage.nbytes()
    except (RuntimeError, NotImplementedError, TypeError, AttributeError):  # sparse, meta, wrapper subclasses
        return None
    if not ptr or not nbytes:
        return None
    return (t.device.type, t.device.index if t.device.index is not None else -1, ptr), int(nbytes)


def unique_bytes(tensors: Iterable[torch.Tensor | None], exclude: set[_Key] | None = None) -> int:
    """Bytes of the distinct storages behind `tensors` (None entries and `exclude`d storages skipped)."""
    seen: set[_Key] = set(exclude or ())
    total = 0
    for t in tensors:
        if t is None:
            continue
        found = storage_key(t)
        if found is None or found[0] in seen:
            continue
        seen.add(found[0])
        total += found[1]
    return total


def parameter_bytes(model: torch.nn.Module) -> int:
    return unique_bytes(model.parameters())


def buffer_bytes(model: torch.nn.Module) -> int:
    """Buffers that do not share storage with a parameter."""
    params = {k[0] for k in map(storage_key, model.parameters()) if k is not None}
    return unique_bytes(model.buffers(), exclude=params)


def gradient_bytes(params: Iterable[torch.nn.Parameter]) -> int:
    return unique_bytes(p.grad for p in params)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Every tensor held in `optimizer.state` (moments, step counters, ...)."""
    return unique_bytes(v for state in optimizer.state.values() for v in state.values()
                        if isinstance(v, torch.Tensor))


def analytic_adamw(total_params: int, trainable_params: int, bytes_per_value: int = 4) -> dict[str, int]:
    """What the kinds come to by counting: weights, one gradient per trainable value, two AdamW moments."""
    return {"weights": total_params * bytes_per_value, "gradients": trainable_params * bytes_per_value,
            "optimizer_state": 2 * trainable_params * bytes_per_value}


class TrainingMemoryMeter:
    """Measures one training step by kind; see the module docstring.

    Wrap the first micro-step's forward and backward in `micro_step`, call `finish` after the first
    `optimizer.step()` (before `zero_grad`):

        meter = TrainingMemoryMeter(model, optimizer)
        loss = meter.micro_step(lambda: forward_backward(batch))
        ... later micro-steps, clip, optimizer.step() ...
        result = meter.finish(grad_accum_steps)
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer):
        self.model = model
        self.optimizer = optimizer
        self.params = [p for p in model.parameters() if p.requires_grad]
        self._fixed = {k[0] for k in map(storage_key, [*model.parameters(), *model.buffers()]) if k is not None}
        self._live: dict[_Key, list[int]] = {}  # saved storage -> [bytes, references not yet used by backward]
        self._grads: set[_Key] = set()
        self.act_live = 0
        self.grad_live = 0
        self.activations = 0
        self.dynamic_peak = 0  # most activations + gradients alive at one time
        self.gradients: int | None = None
        self.result: dict[str, Any] | None = None

    # -- hooks (they keep integers only: holding a tensor here would extend its life) --
    def _pack(self, t: torch.Tensor):
        found = storage_key(t)
        if found is None or found[0] in self._fixed:
            return t, None
        key, nbytes = found
        entry = self._live.get(key)
        if entry is None:
            self._live[key] = [nbytes, 1]
            self.act_live += nbytes
            self.activations = max(self.activations, self.act_live)
            self.dynamic_peak = max(self.dynamic_peak, self.act_live + self.grad_live)
        else:
            entry[1] += 1
        return t, key

    def _unpack(self, packed):
        t, key = packed
        entry = self._live.get(key) if key is not None else None
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:  # backward has used its last reference: autograd frees it after this node
                self.act_live -= entry[0]
                del self._live[key]
        return t

    def _grad_ready(self, p: torch.Tensor) -> None:
        found = storage_key(p.grad) if p.grad is not None else None
        if found is None or found[0] in self._grads:
            return
        self._grads.add(found[0])
        self.grad_live += found[1]
        self.dynamic_peak = max(self.dynamic_peak, self.act_live + self.grad_live)

    def micro_step(self, fn: Callable[[], T]) -> T:
        """Run one forward+backward (`fn`) with the hooks in place; returns what `fn` returns."""
        handles = []
        if hasattr(torch.Tensor, "register_post_accumulate_grad_hook"):
            handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in self.params]
        try:
            with torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack):
                out = fn()
        finally:
            for h in handles:
                h.remove()
        self.gradients = gradient_bytes(self.params)
        self._live.clear()
        return out

    def finish(self, grad_accum_steps: int = 1, batch_shape: tuple[int, int] | None = None) -> dict[str, Any]:
        """The breakdown, after the first optimizer step (its state now exists).

        `batch_shape` (rows, padded length) of the measured micro-batch is kept with the result:
        activations grow with it, so only steps on the same batch compare exactly.
        """
        gradients = self.gradients if self.gradients is not None else gradient_bytes(self.params)
        kinds = {
            "weights": parameter_bytes(self.model),
            "gradients": gradients,
            "optimizer_state": optimizer_state_bytes(self.optimizer),
            "activations": self.activations,
            "other": buffer_bytes(self.model),
        }
        moving = self.dynamic_peak if grad_accum_steps <= 1 else self.activations + gradients
        moving = max(moving, gradients, self.activations)
        self.result = {**kinds, "peak": kinds["weights"] + kinds["other"] + kinds["optimizer_state"] + moving,
                       "micro_batch_shape": list(batch_shape) if batch_shape else None, "method": METHOD}
        return self.result


def process_peaks(device: torch.device) -> dict[str, int | None]:
    """The allocator's and the process's own peaks, each named for what it is.

    `cuda_max_allocated_bytes`: the CUDA caching allocator's peak of allocated bytes since the last
    reset (None off GPU); `cpu_peak_rss_bytes`: the process's peak resident set (libraries included).
    """
    import resource

    cuda = int(torch.cuda.max_memory_allocated()) if device.type == "cuda" else None
    rss = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB
    return {"cuda_max_allocated_bytes": cuda, "cpu_peak_rss_bytes": rss}
