"""What serving a trained cell costs: batched throughput and single-example latency.

Measured on the evaluation split after evaluation, in eval mode under ``torch.inference_mode``, on
the cell's device and with its evaluation precision (autocast). Inputs are padded and placed on the
device before the clock starts, so the figures are the model's forward passes only (no tokenization,
no collation). Throughput: the first `examples` (default `THROUGHPUT_EXAMPLES`) evaluation features, ordered by length
and cut into batches of the evaluation batch size, after a warm-up pass on a few of them; a pass
that takes under `MIN_SECONDS` is repeated (up to `MAX_PASSES` passes), so that tiny models are not
timed on a few milliseconds. Latency: the median of `latency_examples` (`LATENCY_EXAMPLES`) single-example forward
passes (the first evaluation features), after `WARMUP` of them. Methods that add inputs (prompt and
prefix tuning) pay for them here as they would in serving.

A LoRA-type model (peft LoRA or DoRA) is measured twice: as trained (the low-rank update computed
beside each adapted layer) and after merging the update into the weights, which is how it would be
served. The merged model's outputs are compared with the unmerged ones on the throughput examples
(`max_abs_logit_diff`): a check that merging kept the model it merged.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from .batches import collate, sorted_batches

# Defaults; a study sets its own with training.inference_examples / inference_latency_examples.
THROUGHPUT_EXAMPLES = 128  # a demo cell on one CPU thread: about a second a pass
LATENCY_EXAMPLES = 32
WARMUP = 3
WARMUP_ROWS = 8
MIN_SECONDS, MAX_PASSES = 0.2, 5  # the throughput pass is repeated while it is this quick


def method_text(examples: int = THROUGHPUT_EXAMPLES, latency_examples: int = LATENCY_EXAMPLES) -> str:
    """How the figures were measured, in words (recorded with them as `method`)."""
    return (f"forward passes only, inputs already on the device; throughput over at most {examples} "
            f"evaluation features in length-sorted batches after a warm-up pass on {WARMUP_ROWS} of them "
            f"(passes repeated up to {MAX_PASSES} times while under {MIN_SECONDS} s in all); latency: median "
            f"of at most {latency_examples} single-feature passes after {WARMUP} warm-up passes")


def mergeable(model: torch.nn.Module) -> bool:
    """Whether the model is a peft model whose every adapter is LoRA-type (LoRA, DoRA): mergeable into the weights."""
    configs = getattr(model, "peft_config", None)
    if not isinstance(configs, dict) or not configs or not hasattr(model, "merge_and_unload"):
        return False
    from peft import PeftType

    return all(getattr(c, "peft_type", None) == PeftType.LORA for c in configs.values())


@torch.no_grad()
def merge_for_serving(model: torch.nn.Module) -> torch.nn.Module:
    """The base model with the LoRA update merged into its weights (in place: `model` is spent)."""
    return model.merge_and_unload()


def _outputs(out) -> list[torch.Tensor]:
    """The logits a forward pass returned (classification: one tensor; question answering: start and end)."""
    names = ("start_logits", "end_logits") if getattr(out, "start_logits", None) is not None else ("logits",)
    return [getattr(out, n).detach().float() for n in names]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _measure(model, batches: list[dict], singles: list[dict], device: torch.device, autocast):
    """(throughput in examples/s, median latency in ms, the logits of the throughput batches, on the CPU)."""
    model.eval()
    with torch.inference_mode():
        with autocast:
            model(**{k: v[:WARMUP_ROWS] for k, v in batches[0].items()})  # warm-up: a few of the shortest rows
        _sync(device)
        elapsed, passes = 0.0, 0
        while passes < 1 or (elapsed < MIN_SECONDS and passes < MAX_PASSES):  # tiny models: a few passes
            outs = []
            t0 = time.perf_counter()
            for batch in batches:
                with autocast:
                    outs.append(_outputs(model(**batch)))
            _sync(device)
            elapsed += time.perf_counter() - t0
            passes += 1
        n = passes * sum(int(b["input_ids"].shape[0]) for b in batches)
        times = []
        for k, single in enumerate(singles[:WARMUP] + singles):
            _sync(device)
            t = time.perf_counter()
            with autocast:
                model(**single)
            _sync(device)
            if k >= min(WARMUP, len(singles)):
                times.append(time.perf_counter() - t)
    logits = [[t.cpu() for t in group] for group in outs]
    return (n / elapsed if elapsed > 0 else None), 1000.0 * statistics.median(times), logits


def _max_abs_diff(a: list[list[torch.Tensor]], b: list[list[torch.Tensor]]) -> float:
    return max(float((x - y).abs().max()) for ga, gb in zip(a, b) for x, y in zip(ga, gb))


def measure_inference(model: torch.nn.Module, features: dict[str, list], batch_size: int, device: torch.device,
                      autocast, merge: bool = True, examples: int = THROUGHPUT_EXAMPLES,
                      latency_examples: int = LATENCY_EXAMPLES) -> dict[str, Any] | None:
    """The serving figures for `compute.inference` (None without evaluation features).

    With `merge` and a LoRA-type model the model is merged in place after the unmerged measurement:
    do not use it afterwards.
    """
    n = len(features["input_ids"])
    if not n:
        return None
    t0 = time.perf_counter()
    batches = [collate(features, idx, [], device) for idx in sorted_batches(features, batch_size, examples)]
    singles = [collate(features, [i], [], device) for i in range(min(latency_examples, n))]
    throughput, latency, logits = _measure(model, batches, singles, device, autocast)
    merged = None
    if merge and mergeable(model):
        served = merge_for_serving(model)
        m_throughput, m_latency, m_logits = _measure(served, batches, singles, device, autocast)
        merged = {"throughput_examples_per_s": m_throughput, "latency_ms_batch1": m_latency,
                  "max_abs_logit_diff": _max_abs_diff(logits, m_logits)}
    return {"batch_size": int(batch_size), "n_examples": sum(int(b["input_ids"].shape[0]) for b in batches),
            "throughput_examples_per_s": throughput, "latency_ms_batch1": latency,
            "latency_examples": len(singles), "merged": merged, "seconds": time.perf_counter() - t0,
            "method": method_text(examples, latency_examples)}
