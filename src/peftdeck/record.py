"""A trained cell's result as the JSON written beside it (schema peftdeck.cell/1; see peftdeck.results)."""
from __future__ import annotations

import math
import os
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .devices import held_slot
from .fingerprint import fingerprint, fingerprint_files
from .measure import device_name, finite_or, process_age_s, versions
from .results import SCHEMA

if TYPE_CHECKING:
    from .train import CellData, CellModel, Evaluation, TrainRun


def loss_curve(losses: list[float], bins: int = 20) -> list[list[float]]:
    """Mean training loss over at most `bins` consecutive, near-equal runs of steps.

    Each entry is [number of the bin's last step (1-based), mean loss over the bin]."""
    n = len(losses)
    if n == 0:
        return []
    edges = [round(i * n / min(bins, n)) for i in range(min(bins, n) + 1)]
    means = [float(np.mean(losses[edges[i]:edges[i + 1]])) for i in range(len(edges) - 1)]
    # A bin whose loss is not finite (the run diverged) is written as null: JSON has no NaN.
    return [[edges[i + 1], m if math.isfinite(m) else None] for i, m in enumerate(means)]


def cell_result(spec: dict[str, Any], task, data: CellData, built: CellModel, run: TrainRun,
                evaluation: Evaluation, device: torch.device, precision: str, attempt: int, peaks: dict[str, Any],
                facts: dict[str, Any], inference: dict[str, Any] | None, started: float) -> dict[str, Any]:
    """The cell's JSON (schema peftdeck.cell/1; see peftdeck.results).

    `facts`: what was read off the trained model before serving was measured (added_by_method,
    attn_implementation, storage); `started`: time.perf_counter() when run_cell began."""
    cell, training, source = spec["cell"], spec["training"], spec["data"]
    n_feat = len(data.train_feats["input_ids"])
    losses = run.losses
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "status": "complete",
        "cell": cell,
        "method": spec["method"],
        "task": {"name": task.name, "kind": task.kind, "primary_metric": task.primary_metric,
                 "metrics": list(task.metrics), "n_train": len(data.train_rows), "n_train_features": n_feat,
                 "n_eval": len(data.eval_rows), "n_eval_features": len(data.eval_feats["input_ids"])},
        "metrics": evaluation.metrics,
        "params": {"trainable": built.trainable, "total": built.base_total, "added_by_method": facts["added_by_method"]},
        "storage": facts["storage"],
        "compute": {
            "device": device.type,
            "device_name": device_name(device),
            # The GPU slot this cell held (peftdeck.devices); None where it took none (CPU).
            "device_slot": held_slot(),
            "threads": torch.get_num_threads(),
            "precision": precision,
            "attn_implementation": facts["attn_implementation"],
            "train_flops": float((run.flops_per_token or 0.0) * run.tokens),
            "flops_method": "torch.utils.flop_counter on the first step, scaled by tokens trained",
            # By kind, measured on the first step (see peftdeck.memory); then the allocator's and
            # the process's own peaks, each under its own name.
            "training_memory": run.training_memory,
            **peaks,
            "startup_s": run.startup_s,
            "startup_cpu_s": run.startup_cpu_s,
            # Forked by the warm worker (peftdeck.warm: imports done before the job started) or a
            # fresh process; start-up counts from the job's own start either way.
            "warm_start": bool(os.environ.get("PEFTDECK_WARM_CHILD")),
            "train_s": run.train_s,
            # training.compile: trained through torch.compile; compile_s is its first compiled step
            # (compilation included), part of train_s.
            "compiled": run.compiled,
            "compile_s": run.compile_s,
            "eval_s": evaluation.eval_s,
            # Serving cost on the evaluation split (peftdeck.inference); None where switched off
            # (training.measure_inference: false).
            "inference": inference,
            # Process start to result, imports included (falls back to run_cell's own time).
            "wall_s": finite_or(process_age_s(), time.perf_counter() - started),
            "train_examples_per_s": run.examples / run.train_s if run.train_s > 0 else None,
            "train_tokens": run.tokens,
            "train_tokens_padded": run.padded_tokens,
            "steps": run.step,
            "planned_steps": run.steps,
            "stopped_by_time_budget": run.stopped_early,
            "epochs": run.examples / max(1, n_feat),
            "micro_batch_size": run.micro,
            "grad_accum_steps": run.accum,
            "attempt": attempt,
            "final_train_loss": finite_or(float(np.mean(losses[-10:])), None) if losses else None,
            # [last step of the bin, mean loss] over at most 20 equal bins: enough to tell a run that
            # never left the starting loss (a collapsed classifier) from one that learned.
            "train_loss_curve": loss_curve(losses),
        },
        "hparams": {"lr": float(cell["lr"]), "batch_size": run.batch_size, "schedule": spec["schedule"],
                    "steps": run.steps, "warmup_steps": run.warmup, "max_length": data.max_length,
                    "method": spec["method"]["kind"], **spec["method"]["options"], **training},
        "model": {"source": spec["model"]["source"], "name": spec["model"]["name"],
                  "pooling": spec["model"].get("pooling", "cls"),
                  "name_or_path": spec["model"]["location"],
                  "fingerprint": fingerprint(spec["model"]["location"])},
        "data": {"source": source["source"], "location": source["location"], "files": source.get("files"),
                 "fingerprint": fingerprint_files(task.data_paths(source["source"], source["location"],
                                                                  source.get("files")))},
        "versions": versions(),
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if evaluation.selection is not None:
        result["selection"] = evaluation.selection
    if task.kind != "qa":
        base = task.baseline(data.train_rows, data.eval_rows)
        if base is not None:
            result["baseline"] = base
        summary = task.prediction_summary(evaluation.outputs, data.eval_rows)
        if summary is not None:
            result["predictions"] = summary
    return result
