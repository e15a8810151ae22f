"""Cost: training memory, compute and time relative to the reference, storage, serving, and the Pareto
front of score against cost (the memory and compute slides, the storage and serving slides and the
Pareto figure)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._common import _finite, _learned
from .figures import figure

@figure("flops", "glue", "Compute and memory", order=20)
def relative_to_reference(table: dict[str, dict[str, dict[str, Any]]], method: str, reference: str | None,
                          key: str, reference_key: str | None = None) -> dict[str, Any]:
    """Mean over tasks of entry[key](method) / entry[reference_key](reference), plus the method's
    mean of key; `reference_key` defaults to `key`."""
    ref_key = reference_key or key
    values = [e[method][key] for e in table.values() if _finite(e.get(method, {}).get(key))]
    absolute = float(np.mean(values)) if values else None
    ratios = []
    if reference is not None:
        for entries in table.values():
            m, r = entries.get(method, {}), entries.get(reference, {})
            if _finite(m.get(key)) and _finite(r.get(ref_key)) and r[ref_key] > 0:
                ratios.append(m[key] / r[ref_key])
    ratio = float(np.mean(ratios)) if ratios else None
    return {"value": absolute, "ratio": ratio, "supported": ratio is not None}


STORAGE_TASKS = (1, 100)  # the storage slide: what one task and what a hundred tasks cost to keep


def storage_cost(table: dict[str, dict[str, dict[str, Any]]], method: str, reference: str | None) -> dict[str, Any]:
    """What a method costs to store: the task file (the trainable tensors, beyond the shared base
    model) and, for 1 and 100 tasks, the base model once plus one task file each. The reference
    (full fine-tuning) trains every weight, so each of its tasks is a whole model and nothing is shared."""
    rel = relative_to_reference(table, method, reference, "task_bytes")
    bases = [e[method]["base_model_bytes"] for e in table.values() if _finite(e.get(method, {}).get("base_model_bytes"))]
    task, base = rel["value"], (float(np.mean(bases)) if bases else None)
    out: dict[str, Any] = {"task_bytes": task, "ratio": rel["ratio"], "base_model_bytes": base, "tasks": {}}
    if task is None:
        return out
    shares_base = method != reference
    for n in STORAGE_TASKS:
        out["tasks"][str(n)] = n * task + (base or 0.0) if shares_base else n * task
    return out


# The serving figures of a cell (cells.csv columns, from compute.inference: peftdeck.inference):
# examples per second at the evaluation batch size, and milliseconds per example at batch 1.
# {figure: (column, key of its ratio to the reference)}
SERVING_COLUMNS = {"throughput": ("infer_throughput", "throughput_ratio"),
                   "latency_ms": ("infer_latency_ms", "latency_ratio")}
MERGED_SUFFIX = "_merged"  # the same figures after merging a LoRA-type update into the weights


def serving_cost(table: dict[str, dict[str, dict[str, Any]]], method: str, reference: str | None) -> dict[str, Any]:
    """What a method costs to serve, as trained and (LoRA-type methods) merged into the weights.

    Per figure (throughput, latency): the method's mean over tasks and the mean over tasks of the
    ratio to the reference as trained (the reference, full fine-tuning, has nothing to merge: its
    model is what it serves). Throughput above 1x serves faster than the reference, latency above
    1x slower. `merged` is None unless some task has merged figures; `merge_speedup` is the mean
    over tasks of the unmerged latency over the merged one (above 1x: merging pays). Figures no
    cell measured (cells written before serving was measured) are None.
    """
    out: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for name, (column, ratio) in SERVING_COLUMNS.items():
        rel = relative_to_reference(table, method, reference, column)
        out[name], out[ratio] = rel["value"], rel["ratio"]
        rel = relative_to_reference(table, method, reference, column + MERGED_SUFFIX, reference_key=column)
        merged[name], merged[ratio] = rel["value"], rel["ratio"]
    out["supported"] = any(out[name] is not None for name in SERVING_COLUMNS)
    has_merged = any(merged[name] is not None for name in SERVING_COLUMNS)
    out["merged"] = merged if has_merged else None
    latency = SERVING_COLUMNS["latency_ms"][0]
    speedup = relative_to_reference(table, method, method, latency, reference_key=latency + MERGED_SUFFIX)["ratio"]
    out["merge_speedup"] = speedup if has_merged else None
    return out


def serving_method(df: pd.DataFrame) -> str | None:
    """How serving was measured (compute.inference.method, column infer_method), for the slide's
    note: the one text the cells share, several joined with " / " (cells of different versions),
    None where no cell says."""
    if "infer_method" not in df.columns:
        return None
    texts = [t for t in dict.fromkeys(df["infer_method"]) if isinstance(t, str) and t.strip()]
    return " / ".join(texts) if texts else None


def pareto_front(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """The methods no other method dominates: {method: (score, cost)}, higher score and lower cost
    better; a method is dominated by one at least as good on both and strictly better on one."""
    front = []
    for m, (score, cost) in points.items():
        dominated = any(s2 >= score and c2 <= cost and (s2 > score or c2 < cost)
                        for m2, (s2, c2) in points.items() if m2 != m)
        if not dominated:
            front.append(m)
    return front


PARETO_COSTS = {"trainable_params": "trainable parameters", "peak_memory_bytes": "training memory",
                "train_s": "training time"}


@figure("pareto", "glue", "Pareto front: score vs cost", order=50)
def pareto_fronts(table: dict[str, dict[str, dict[str, Any]]], labels: Mapping[str, str],
                  tasks: Sequence[str]) -> dict[str, Any]:
    """Per task and cost (trainable parameters, training memory, training time): every learned
    method's (score, cost) and the non-dominated ones, in order of cost."""
    out: dict[str, Any] = {"costs": dict(PARETO_COSTS), "tasks": {}}
    for t in tasks:
        per_cost = {}
        for cost in PARETO_COSTS:
            pts = {m: (e["mean"], e[cost]) for m, e in table[t].items() if _learned(e) and _finite(e.get(cost))}
            front = sorted(pareto_front(pts), key=lambda m: pts[m][1])
            per_cost[cost] = {"points": {m: {"score": v[0], "cost": v[1], "label": labels.get(m, m)}
                                         for m, v in pts.items()},
                              "front": front, "front_labels": [labels.get(m, m) for m in front],
                              "dominated_labels": [labels.get(m, m) for m in pts if m not in front]}
        out["tasks"][t] = per_cost
    return out
