"""The grid study: per task and method, the learning rate x batch size point chosen on held-out data."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ._common import (TIE_TOLERANCE, _finite, _ordered_unique, _present, _study_frame, _task_primary, clean,
                      mean_std, score_entry)
from .figures import figure
from .stats import CI_LEVEL, CI_MIN_SEEDS, _comparison_sentence_data, compare_entries

def choose_grid_point(heldout_means: Sequence[float | None]) -> int | None:
    """Index of the grid point with the highest held-out mean score (the first on a tie).

    It is given the held-out scores only, so the evaluation (dev) split cannot influence the choice.
    None when no point has a held-out score.
    """
    best, best_value = None, -math.inf
    for i, value in enumerate(heldout_means):
        if _finite(value) and float(value) > best_value:
            best, best_value = i, float(value)
    return best


@figure("grid_{task}", "grid", "Held-out score over learning rate × batch size", order=70)
def grid_selection(df: pd.DataFrame, tolerance: float = TIE_TOLERANCE) -> dict[str, Any] | None:
    """Grid study: per task and method, the learning rate x batch size point chosen on held-out data.

    Every grid point's held-out primary score is averaged over seeds; `choose_grid_point` picks the
    best from those numbers alone; only then is the chosen point's dev score read, once, as the
    method's result. Collapse flags are computed on the dev split, so they play no part in the choice.
    """
    if df.empty:
        return None
    present, reference, methods, tasks, labels = _study_frame(df)
    has_sel = "selection_primary" in df.columns
    out_tasks = []
    for task in tasks:
        chosen_entries: dict[str, dict[str, Any]] = {}
        rows_out = []
        for m in methods:
            rows = df[(df["task"] == task) & (df["method"] == m)]
            if rows.empty:
                continue
            lrs = sorted({float(x) for x in rows["lr"]})
            bss = sorted({int(x) for x in rows["batch_size"]})
            points = []
            for lr in lrs:
                for bs in bss:
                    g = rows[(rows["lr"].astype(float) == lr) & (rows["batch_size"].astype(int) == bs)]
                    if g.empty:
                        continue
                    gp = _present(g)
                    held = mean_std(gp["selection_primary"]) if has_sel else mean_std([])
                    points.append({"lr": lr, "batch_size": bs, "heldout": held, "n_expected": int(len(g))})
            pick = choose_grid_point([p["heldout"]["mean"] for p in points])
            held_means = [p["heldout"]["mean"] for p in points if p["heldout"]["mean"] is not None]
            entry: dict[str, Any] = {
                "method": m, "label": labels[m], "is_reference": m == reference, "lrs": lrs, "batch_sizes": bss,
                "points": points, "n_points": len(points), "n_scored": len(held_means),
                "heldout_range": (max(held_means) - min(held_means)) if len(held_means) >= 2 else None,
                "chosen": None, "dev": None, "edge": {"lr": None, "batch_size": None}, "vs_reference": None,
            }
            if pick is not None:
                p = points[pick]
                entry["chosen"] = {"lr": p["lr"], "batch_size": p["batch_size"], "heldout": p["heldout"]}
                # The dev split is read here, after the choice, for the chosen point only.
                chosen_rows = rows[(rows["lr"].astype(float) == p["lr"]) & (rows["batch_size"].astype(int) == p["batch_size"])]
                entry["dev"] = score_entry(chosen_rows)
                entry["edge"] = {
                    "lr": ("smallest" if p["lr"] == lrs[0] else "largest" if p["lr"] == lrs[-1] else None)
                    if len(lrs) >= 3 else None,
                    "batch_size": ("smallest" if p["batch_size"] == bss[0] else "largest" if p["batch_size"] == bss[-1]
                                   else None) if len(bss) >= 3 else None,
                }
                chosen_entries[m] = entry["dev"]
            rows_out.append(entry)
        for entry in rows_out:
            if reference and entry["method"] != reference:
                entry["vs_reference"] = compare_entries(chosen_entries.get(reference), chosen_entries.get(entry["method"]),
                                                        tolerance=tolerance)
        out_tasks.append({"task": task, "primary_metric": _task_primary(present if len(present) else df, task),
                          "methods": rows_out})

    findings: list[dict[str, Any]] = []
    for t in out_tasks:
        for e in t["methods"]:
            for axis, key in (("learning rate", "lr"), ("batch size", "batch_size")):
                if e["edge"][key]:
                    findings.append({"id": "grid_edge", "supported": True,
                                     "data": {"task": t["task"], "label": e["label"], "axis": axis, "key": key,
                                              "value": e["chosen"][key], "side": e["edge"][key]}})
            c = e["vs_reference"]
            if c and c["outcome"]:
                findings.append({"id": "grid_vs_reference", "supported": True,
                                 "data": {"task": t["task"], "label": e["label"],
                                          "reference_label": labels.get(reference), **_comparison_sentence_data(c)}})
    sens = [(t["task"], e["label"], e["heldout_range"]) for t in out_tasks for e in t["methods"]
            if e["heldout_range"] is not None]
    for task in tasks:
        per = [(lab, r) for tt, lab, r in sens if tt == task]
        if len(per) >= 2:
            hi = max(per, key=lambda x: x[1])
            lo = min(per, key=lambda x: x[1])
            findings.append({"id": "grid_sensitivity", "supported": hi[1] > lo[1],
                             "data": {"task": task, "most_label": hi[0], "most_range": hi[1],
                                      "least_label": lo[0], "least_range": lo[1]}})
    return clean({
        "reference": reference, "reference_label": labels.get(reference) if reference else None,
        "tasks": tasks, "methods": [{"method": m, "label": labels[m]} for m in methods],
        "per_task": out_tasks, "findings": findings,
        "holdout": clean(df["holdout"].dropna().iloc[0]) if "holdout" in df.columns and df["holdout"].notna().any() else None,
        "has_heldout": any(t_e["n_scored"] for t in out_tasks for t_e in t["methods"]),
        "has_ci": any((e["vs_reference"] or {}).get("decided_by") == "ci" for t in out_tasks for e in t["methods"]),
        "seeds": sorted(clean(x) for x in _ordered_unique(df["seed"])),
        "multi_seed": bool(df["seed"].nunique() > 1), "tolerance": tolerance,
        "ci_level": CI_LEVEL, "ci_min_seeds": CI_MIN_SEEDS,
    })
