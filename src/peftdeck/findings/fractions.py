"""The training-fraction sweep: each method at each percentage of the train split, against the reference."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ._common import (TIE_TOLERANCE, _ordered_unique, _present, _size_entries, _study_frame, _task_primary, _usable,
                      clean, fraction_value, mean_std)
from .figures import figure
from .stats import CI_LEVEL, CI_MIN_SEEDS, compare_entries

@figure("fractions", "fractions", "Score by share of the data", order=90)
def fraction_sweep(df: pd.DataFrame, tolerance: float = TIE_TOLERANCE) -> dict[str, Any] | None:
    """Training-fraction sweep: per task, each method's score at each percentage of the train split,
    and each method's difference to the reference (bootstrap interval when seeds allow)."""
    if df.empty:
        return None
    present, reference, methods, tasks, labels = _study_frame(df)
    sizes = sorted(_ordered_unique(df["train_size"]), key=lambda x: fraction_value(x) if fraction_value(x) is not None
                   else math.inf)
    per_task, findings = [], []
    for task in tasks:
        trows = df[df["task"] == task]
        fr_rows = []
        for size in sizes:
            rows = trows[trows["train_size"].astype(str) == str(size)]
            if rows.empty:
                continue
            entries = _size_entries(rows, methods, size)
            n_train = mean_std(_present(rows)["n_train"])["mean"] if "n_train" in rows else None
            fr_rows.append({"train_size": size, "fraction": fraction_value(size), "n_train": n_train,
                            "entries": entries,
                            "vs_reference": {m: compare_entries(entries.get(reference), entries.get(m), tolerance=tolerance)
                                             for m in methods if reference and m != reference}})
        comparisons = []
        for m in methods:
            if not reference or m == reference:
                continue
            res = [(r["fraction"], r["vs_reference"].get(m)) for r in fr_rows]
            decided = [(f, c) for f, c in res if c and c["outcome"]]
            wins = [f for f, c in decided if c["outcome"] == "wins"]
            ties = [f for f, c in decided if c["outcome"] == "ties"]
            loses = [f for f, c in decided if c["outcome"] == "loses"]
            own = [(r["fraction"], r["entries"].get(m)) for r in fr_rows]
            own = [(f, e["mean"]) for f, e in own if _usable(e)]
            ref_own = [(r["fraction"], r["entries"].get(reference)) for r in fr_rows]
            ref_own = [(f, e["mean"]) for f, e in ref_own if _usable(e)]

            def retention(points):
                if len(points) >= 2 and points[-1][1] and points[-1][1] > 0:
                    return {"low": points[0][0], "high": points[-1][0], "pct": 100.0 * points[0][1] / points[-1][1]}
                return None

            comp = {"method": m, "label": labels[m], "wins_at": wins, "ties_at": ties, "loses_at": loses,
                    "n_decided": len(decided), "n_fractions": len(fr_rows),
                    "decided_by": sorted({c["decided_by"] for _, c in decided}),
                    "retention": retention(own), "reference_retention": retention(ref_own)}
            comparisons.append(comp)
            if len(decided) >= 2:
                if not loses:
                    verdict = "never_behind"
                elif not wins and not ties:
                    verdict = "always_behind"
                else:
                    verdict = "mixed"
                findings.append({"id": "fraction_verdict", "supported": True,
                                 "data": {"task": task, "label": labels[m], "reference_label": labels[reference],
                                          "verdict": verdict, "complete": len(decided) == len(fr_rows),
                                          "first": decided[0][0], "last": decided[-1][0], **{k: comp[k] for k in (
                                              "wins_at", "ties_at", "loses_at", "decided_by")},
                                          "all_ci": all(c["decided_by"] == "ci" for _, c in decided)}})
        per_task.append({"task": task, "primary_metric": _task_primary(df, task), "rows": fr_rows,
                         "comparisons": comparisons})
    # Across tasks: methods never clearly behind the reference at any fraction of any task.
    for m in methods:
        if not reference or m == reference:
            continue
        verdicts = [f["data"]["verdict"] for f in findings if f["id"] == "fraction_verdict" and f["data"]["label"] == labels[m]]
        if len(verdicts) == len(tasks) and len(tasks) >= 2:
            findings.append({"id": "fraction_holds_everywhere", "supported": all(v == "never_behind" for v in verdicts),
                             "data": {"label": labels[m], "reference_label": labels[reference], "tasks": tasks}})
    return clean({
        "reference": reference, "reference_label": labels.get(reference) if reference else None,
        "methods": [{"method": m, "label": labels[m], "is_reference": m == reference} for m in methods],
        "tasks": tasks, "fractions": [{"train_size": s_, "fraction": fraction_value(s_)} for s_ in sizes],
        "per_task": per_task, "findings": findings,
        "seeds": sorted(clean(x) for x in _ordered_unique(df["seed"])),
        "multi_seed": bool(df["seed"].nunique() > 1), "tolerance": tolerance,
        "ci_level": CI_LEVEL, "ci_min_seeds": CI_MIN_SEEDS,
        "has_ci": any((c or {}).get("decided_by") == "ci" for t in per_task for r in t["rows"]
                      for c in r["vs_reference"].values()),
        "n_present": int(len(present)),
    })
