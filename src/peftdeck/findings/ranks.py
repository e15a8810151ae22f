"""The LoRA rank sweep: score against trainable parameters, per task."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ._common import (TIE_TOLERANCE, _basics, _finite, _ordered_unique, _task_primary, _usable, clean)
from .figures import figure
from .part1 import task_table
from .stats import CI_LEVEL, CI_MIN_SEEDS, _comparison_sentence_data, compare_entries

@figure("lora_ranks", "lora_ranks", "Score vs trainable parameters", order=80)
def rank_sweep(df: pd.DataFrame, ranks: Mapping[str, Any], tolerance: float = TIE_TOLERANCE) -> dict[str, Any] | None:
    """LoRA rank sweep: per task, score and trainable parameters at each rank (+ any other method).

    `ranks` maps method name -> LoRA rank (None or absent for methods that are not LoRA). Methods
    with several settings keep their best by mean dev score, as in part I.
    """
    if df.empty:
        return None
    present, reference, methods, labels = _basics(df)
    table = task_table(df)
    ranked = sorted([m for m in methods if ranks.get(m) is not None], key=lambda m: (int(ranks[m]), methods.index(m)))
    others = [m for m in methods if m not in ranked]
    per_task, findings = [], []
    for task, entries in table.items():
        points = []
        for m in ranked:
            e = entries.get(m)
            if e is None:
                continue
            points.append({"method": m, "label": labels[m], "r": int(ranks[m]), "entry": e,
                           "trainable_params": e.get("trainable_params"), "trainable_pct": e.get("trainable_pct"),
                           "vs_reference": compare_entries(entries.get(reference), e, tolerance=tolerance)
                           if reference else None})
        refs = [{"method": m, "label": labels[m], "is_reference": m == reference, "entry": entries[m],
                 "trainable_params": entries[m].get("trainable_params"), "trainable_pct": entries[m].get("trainable_pct")}
                for m in others if m in entries]
        usable = [p for p in points if _usable(p["entry"])]
        best = max(usable, key=lambda p: p["entry"]["mean"]) if usable else None
        span = None
        if len(usable) >= 2 and usable[0]["r"] != usable[-1]["r"]:
            lo_p, hi_p = usable[0], usable[-1]
            comp = compare_entries(lo_p["entry"], hi_p["entry"], tolerance=tolerance)
            ratio = (hi_p["trainable_params"] / lo_p["trainable_params"]
                     if _finite(hi_p["trainable_params"]) and _finite(lo_p["trainable_params"]) and lo_p["trainable_params"] else None)
            span = {"r_low": lo_p["r"], "r_high": hi_p["r"], "label_low": lo_p["label"], "label_high": hi_p["label"],
                    "params_ratio": ratio, **_comparison_sentence_data(comp)}
            findings.append({"id": "rank_span", "supported": comp is not None and comp["outcome"] is not None,
                             "data": {"task": task, **span}})
        if best is not None and len(usable) >= 2:
            findings.append({"id": "rank_best", "supported": True,
                             "data": {"task": task, "label": best["label"], "r": best["r"], "mean": best["entry"]["mean"],
                                      "ties": [p["label"] for p in usable
                                               if p is not best and p["entry"]["mean"] == best["entry"]["mean"]]}})
        if reference:
            not_behind = [p for p in usable if p["vs_reference"] and p["vs_reference"]["outcome"] in ("wins", "ties")]
            decided = [p for p in usable if p["vs_reference"] and p["vs_reference"]["outcome"]]
            if decided:
                smallest = min(not_behind, key=lambda p: p["r"]) if not_behind else None
                findings.append({"id": "rank_vs_reference", "supported": True,
                                 "data": {"task": task, "reference_label": labels[reference],
                                          "smallest_label": smallest["label"] if smallest else None,
                                          "smallest_r": smallest["r"] if smallest else None,
                                          "smallest_params": smallest["trainable_params"] if smallest else None,
                                          "all_behind": not not_behind,
                                          "decided_by": sorted({p["vs_reference"]["decided_by"] for p in decided}),
                                          "all_ci": all(p["vs_reference"]["decided_by"] == "ci" for p in decided)}})
        per_task.append({"task": task, "primary_metric": _task_primary(df, task), "points": points, "others": refs,
                         "best": best["method"] if best else None, "span": span})
    return clean({
        "reference": reference, "reference_label": labels.get(reference) if reference else None,
        "ranks": [{"method": m, "label": labels[m], "r": int(ranks[m])} for m in ranked],
        "others": [{"method": m, "label": labels[m]} for m in others],
        "tasks": list(table), "per_task": per_task, "findings": findings,
        "seeds": sorted(clean(x) for x in _ordered_unique(df["seed"])),
        "multi_seed": bool(df["seed"].nunique() > 1), "tolerance": tolerance,
        "ci_level": CI_LEVEL, "ci_min_seeds": CI_MIN_SEEDS,
        "has_ci": any((p["vs_reference"] or {}).get("decided_by") == "ci" for t in per_task for p in t["points"]),
        "n_present": int(len(present)),
    })
