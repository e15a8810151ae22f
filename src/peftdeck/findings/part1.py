"""Part I: every method on every task of one experiment (the results table and what it feeds).

Comparisons stay within one experiment; its reference is its first method of a reference kind (full
fine-tuning, `reference_kinds`). A (task, method) entry with a run that did not learn (collapsed,
diverged or indistinguishable from the majority baseline) is flagged and left out of averages and claims.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import health
from ._common import (HPARAM_KEYS, MEMORY_KINDS, METRICS, _finite, _label, _learned, _ordered_unique, _present,
                      _row_test, _select_setting, _status_series, clean, mean_std, reference_method, score_entry)
from .claims import observations
from .cost import STORAGE_TASKS, pareto_fronts, relative_to_reference, serving_cost, serving_method, storage_cost
from .figures import figure
from .stats import CI_LEVEL, CI_MIN_SEEDS, compare_entries

def task_table(df: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """{task: {method: entry}} for one experiment, choosing the best setting per (task, method)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for task in _ordered_unique(df["task"]):
        out[task] = {}
        for method in _ordered_unique(df["method"]):
            rows = df[(df["task"] == task) & (df["method"] == method)]
            if rows.empty:
                continue
            chosen, n_settings = _select_setting(rows)
            entry = score_entry(chosen)
            entry["n_settings"] = n_settings
            if n_settings > 1:
                first = chosen.iloc[0]
                entry["setting"] = {k: clean(first[k]) for k in HPARAM_KEYS if k in chosen.columns}
            out[task][method] = entry
    return out


def best_per_task(table: dict[str, dict[str, dict[str, Any]]], labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per task, the method with the highest mean primary score among non-collapsed entries."""
    out = {}
    for task, entries in table.items():
        usable = {m: e for m, e in entries.items() if _learned(e)}
        excluded = [labels.get(m, m) for m, e in entries.items() if e.get("mean") is not None and not _learned(e)]
        if not usable:
            out[task] = {"supported": False, "method": None, "label": None, "mean": None, "excluded": excluded}
            continue
        best = max(usable, key=lambda m: usable[m]["mean"])
        ties = [m for m, e in usable.items() if e["mean"] == usable[best]["mean"]]
        out[task] = {"supported": True, "method": best, "label": labels.get(best, best),
                     "mean": usable[best]["mean"], "tied_with": [labels.get(m, m) for m in ties if m != best],
                     "excluded": excluded, "n_usable": len(usable)}
    return out


def percent_of_reference(table: dict[str, dict[str, dict[str, Any]]], method: str, reference: str | None) -> dict[str, Any]:
    """Mean over tasks of 100 * score(method) / score(reference), over tasks where both are usable."""
    if reference is None:
        return {"supported": False, "value": None, "tasks": [], "complete": False, "per_task": {}}
    per_task = {}
    for task, entries in table.items():
        m, r = entries.get(method), entries.get(reference)
        if _learned(m) and _learned(r) and r["mean"] > 0:
            per_task[task] = 100.0 * m["mean"] / r["mean"]
    value = float(np.mean(list(per_task.values()))) if per_task else None
    return {"supported": bool(per_task), "value": value, "tasks": list(per_task),
            "complete": len(per_task) == len(table), "per_task": per_task}


def average_over_tasks(table: dict[str, dict[str, dict[str, Any]]], method: str) -> dict[str, Any]:
    """Mean primary score over the tasks the method learned (runs that did not learn stay out);
    `complete` when that is every task."""
    scores = [e[method]["mean"] for e in table.values() if _learned(e.get(method))]
    complete = bool(table) and len(scores) == len(table)
    return {"value": float(np.mean(scores)) if scores else None, "complete": complete, "n_tasks": len(scores)}


def gain_share(table: dict[str, dict[str, dict[str, Any]]], method: str, reference: str | None,
               baselines: Mapping[str, float | None]) -> dict[str, Any]:
    """Share of the reference's gain over the majority baseline that a method keeps, in percent.

    Per task: 100 * (score - baseline) / (reference score - baseline), where both runs learned and
    the task has a baseline; the mean over those tasks. Unlike "% of the reference", a method that
    learned nothing scores ~0 here even where the baseline alone is close to the reference.
    """
    per_task: dict[str, float] = {}
    if reference is not None:
        for task, entries in table.items():
            m, r, b = entries.get(method), entries.get(reference), baselines.get(task)
            if b is None or not _finite(b) or not (_learned(m) and _learned(r)):
                continue
            gain = r["mean"] - b
            if gain > 0:
                per_task[task] = 100.0 * (m["mean"] - b) / gain
    value = float(np.mean(list(per_task.values()))) if per_task else None
    return {"supported": bool(per_task), "value": value, "tasks": list(per_task),
            "complete": len(per_task) == len(table), "per_task": per_task}


# Training memory by kind (cells.csv columns mem_<kind>_bytes), in the order the figure stacks them.

def task_spread(table: dict[str, dict[str, dict[str, Any]]], reference: str | None,
                labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per task: the range of usable scores and the gap reference - best other method."""
    out = {}
    for task, entries in table.items():
        usable = {m: e["mean"] for m, e in entries.items() if _learned(e)}
        others = {m: s for m, s in usable.items() if m != reference}
        info: dict[str, Any] = {"min": min(usable.values()) if usable else None,
                                "max": max(usable.values()) if usable else None,
                                "gap": None, "best_other": None, "best_other_label": None, "best_other_score": None,
                                "reference_score": usable.get(reference) if reference else None}
        if reference in usable and others:
            best = max(others, key=others.get)
            info.update(gap=usable[reference] - others[best], best_other=best,
                        best_other_label=labels.get(best, best), best_other_score=others[best])
        out[task] = info
    return out


@figure("parameter_efficiency", "glue", "Parameter efficiency", order=10)
@figure("glue_results", "glue", "Scores vs majority baseline", order=30)
def methods_summary(df: pd.DataFrame) -> dict[str, Any] | None:
    """Everything part I of the deck says about one experiment of methods x tasks."""
    if df.empty:
        return None
    present = _present(df)
    methods = _ordered_unique(df["method"])
    tasks = _ordered_unique(df["task"])
    labels = {m: _label(df, m) for m in methods}
    kinds = {m: str(df.loc[df["method"] == m, "method_kind"].iloc[0]) for m in methods}
    reference = reference_method(df)
    table = task_table(df)
    best = best_per_task(table, labels)
    spread = task_spread(table, reference, labels)
    baselines = {t: _primary_baseline(present[present["task"] == t]) for t in tasks}

    method_rows = []
    for m in methods:
        avg = average_over_tasks(table, m)
        pof = percent_of_reference(table, m, reference)
        gain = gain_share(table, m, reference, baselines)
        params = present[present["method"] == m]
        collapsed = [t for t in tasks if table[t].get(m, {}).get("collapsed")]
        not_learned = [t for t in tasks if table[t].get(m, {}).get("mean") is not None and not _learned(table[t][m])]
        diverged = [t for t in tasks if table[t].get(m, {}).get("diverged")]
        missing = [t for t in tasks if m not in table[t] or table[t][m]["missing"]]
        partial = [t for t in tasks if table[t].get(m, {}).get("partial")]
        beats = [t for t in tasks if reference and m != reference and _learned(table[t].get(m))
                 and _learned(table[t].get(reference)) and table[t][m]["mean"] >= table[t][reference]["mean"]]
        trainable = params["trainable_params"].dropna()
        pct = params["trainable_pct"].dropna()
        method_rows.append({
            "method": m, "label": labels[m], "kind": kinds[m], "is_reference": m == reference,
            "scores": {t: table[t].get(m) for t in tasks},
            "average": avg["value"], "average_complete": avg["complete"], "average_n_tasks": avg["n_tasks"],
            "pct_of_reference": pof["value"], "pct_of_reference_tasks": pof["tasks"],
            "pct_of_reference_complete": pof["complete"], "pct_of_reference_per_task": pof["per_task"],
            "gain_share": gain["value"], "gain_share_tasks": gain["tasks"],
            "gain_share_complete": gain["complete"], "gain_share_per_task": gain["per_task"],
            "trainable_params": float(trainable.median()) if len(trainable) else None,
            "trainable_params_min": float(trainable.min()) if len(trainable) else None,
            "trainable_params_max": float(trainable.max()) if len(trainable) else None,
            "total_params": float(params["total_params"].median()) if params["total_params"].notna().any() else None,
            "trainable_pct": float(pct.median()) if len(pct) else None,
            "memory": relative_to_reference(table, m, reference, "peak_memory_bytes"),
            # Mean over tasks of each kind (None where no cell measured it).
            "memory_breakdown": {k: relative_to_reference(table, m, reference, f"mem_{k}_bytes")["value"]
                                 for k in MEMORY_KINDS},
            "flops": relative_to_reference(table, m, reference, "train_flops"),
            "train_time": relative_to_reference(table, m, reference, "train_s"),
            "storage": storage_cost(table, m, reference),
            "serving": serving_cost(table, m, reference),
            "collapsed_tasks": collapsed, "not_learned_tasks": not_learned, "diverged_tasks": diverged,
            "missing_tasks": missing, "partial_tasks": partial,
            "matches_or_beats_reference_on": beats,
            # Per task: the difference to the reference with its bootstrap interval (when seeds allow),
            # only where both learned: a difference between runs at the majority baseline is noise.
            "vs_reference": {t: compare_entries(table[t].get(reference), table[t].get(m))
                             if _learned(table[t].get(reference)) and _learned(table[t].get(m)) else None
                             for t in tasks} if reference and m != reference else {},
        })

    # Table order: the reference first, then by average (methods without one last).
    ordered = sorted(method_rows, key=lambda r: (not r["is_reference"],
                                                 -(r["average"] if r["average"] is not None else -math.inf)))
    info = {}
    for t in tasks:
        rows = present[present["task"] == t]
        any_rows = df[df["task"] == t]
        pm = rows["primary_metric"].dropna()
        info[t] = {
            "task": t,
            "primary_metric": str(pm.iloc[0]) if len(pm) else (str(any_rows["primary_metric"].dropna().iloc[0])
                                                                if any_rows["primary_metric"].notna().any() else None),
            "metrics": [m for m in METRICS if m in rows.columns and rows[m].notna().any()],
            "baseline": {m: mean_std(rows[f"baseline_{m}"])["mean"] for m in METRICS
                         if f"baseline_{m}" in rows.columns and rows[f"baseline_{m}"].notna().any()},
            "n_train": mean_std(rows["n_train"])["mean"] if "n_train" in rows else None,
            "n_eval": mean_std(rows["n_eval"])["mean"] if "n_eval" in rows else None,
            "best": best[t], "spread": spread[t],
        }
    failed_runs = _failed_runs(present, baselines, table)
    memory_kinds = _ordered_unique(present["memory_kind"].dropna()) if "memory_kind" in present else []
    summary = {
        "reference": reference, "reference_label": labels.get(reference) if reference else None,
        "tasks": tasks, "task_info": info, "methods": ordered, "method_order": methods,
        "memory_kinds": memory_kinds,
        "not_learned_runs": [r for r in failed_runs if r["status"] != "diverged"],
        "diverged_runs": [r for r in failed_runs if r["status"] == "diverged"],
        "learned_together": _pooled_entries(table, labels),
        "pooled_tests": any(e.get("pooled_test") for entries in table.values() for e in entries.values()),
        "loss_curves": loss_curves(present, tasks, methods),
        # Which marks the results table needs: an entry's worst run status, over every entry.
        "run_flags": {k: any((table[t].get(m) or {}).get("status") == k for t in tasks for m in methods)
                      for k in ("collapsed", "not_learned", "diverged")},
        "alpha": health.ALPHA,
        "seeds": sorted(clean(s) for s in _ordered_unique(df["seed"])),
        "multi_seed": bool(df["seed"].nunique() > 1),
        "has_ci": any((c or {}).get("decided_by") == "ci" for r in ordered for c in r["vs_reference"].values()),
        "ci_level": CI_LEVEL, "ci_min_seeds": CI_MIN_SEEDS,
    }
    # Which notes the results tables need: a method with a task it did not learn, ran with fewer
    # seeds than configured, or has no result for; and a "% of reference" over fewer than every task.
    summary["table_notes"] = {"not_learned": any(r["not_learned_tasks"] for r in ordered),
                              "partial": any(r["partial_tasks"] for r in ordered),
                              "missing": any(r["missing_tasks"] for r in ordered),
                              "pct_incomplete": any(r["pct_of_reference"] is not None
                                                    and not r["pct_of_reference_complete"] for r in ordered)}
    summary["pareto"] = pareto_fronts(table, labels, tasks)
    summary["has_storage"] = any(r["storage"]["task_bytes"] is not None for r in ordered)
    summary["storage_tasks"] = [str(n) for n in STORAGE_TASKS]
    summary["storage_base_model_bytes"] = next((r["storage"]["base_model_bytes"] for r in ordered
                                                if r["storage"]["base_model_bytes"] is not None), None)
    summary["has_serving"] = any(r["serving"]["supported"] for r in ordered)
    summary["has_serving_merged"] = any(r["serving"]["merged"] is not None for r in ordered)
    summary["serving_method"] = serving_method(present) if summary["has_serving"] else None
    summary["observations"] = observations(summary)
    return clean(summary)


def _primary_baseline(rows: pd.DataFrame) -> float | None:
    """The majority-class (constant-predictor) score of a task's primary metric, if it has one."""
    pm = rows["primary_metric"].dropna() if "primary_metric" in rows.columns else []
    if not len(pm):
        return None
    col = f"baseline_{pm.iloc[0]}"
    return mean_std(rows[col])["mean"] if col in rows.columns and rows[col].notna().any() else None


def _pooled_entries(table: dict[str, dict[str, dict[str, Any]]], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Entries the pooled test of their seeds counts as learned although some seed alone did not
    pass (peftdeck.health.pooled_accuracy_test), with both pieces of evidence."""
    out = []
    for task, entries in table.items():
        for method, e in entries.items():
            test = e.get("pooled_test")
            if not test or not _learned(e) or not e.get("n_not_learned"):
                continue
            out.append({"task": task, "method": method, "label": labels.get(method, method),
                        "score": test["score"], "baseline": test["against"], "p_value": test["p_value"],
                        "lower": test["lower"], "runs": test["runs"], "n": test["n"],
                        "runs_passed": int(e["n"]) - int(e["n_not_learned"])})
    return out


def _failed_runs(present: pd.DataFrame, baselines: Mapping[str, float | None],
                 table: dict[str, dict[str, dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """Every run that diverged, collapsed or did not learn, with its evidence (score against the
    baseline, the test's p-value, the training loss at the start and the end). A run that did not
    pass alone is left out where its entry's seeds together passed (`_pooled_entries` names those)."""
    out = []
    status = _status_series(present)
    for idx, r in present[status != "learned"].iterrows():
        entry = ((table or {}).get(r["task"]) or {}).get(r["method"]) or {}
        if status[idx] == "not_learned" and entry.get("pooled_test") and _learned(entry):
            continue
        test = _row_test(r) or {}
        p_value = r.get("baseline_p") if _finite(r.get("baseline_p")) else test.get("p_value")
        out.append({"task": r["task"], "method": r["method"], "label": r["method_label"],
                    "status": status[idx], "seed": clean(r["seed"]), "lr": clean(r["lr"]),
                    "score": clean(r["primary"]), "baseline": clean(baselines.get(r["task"])),
                    "p_value": clean(p_value), "test_metric": test.get("metric"),
                    "test_score": clean(test.get("score")), "test_against": clean(test.get("against")),
                    "primary_metric": clean(r.get("primary_metric")),
                    "loss_start": clean(r.get("loss_start")), "loss_end": clean(r.get("loss_end")),
                    "loss_trend": clean(r.get("loss_trend")), "path": r.get("path")})
    return out


@figure("loss_curves", "glue", "Training health: loss curves", order=40)
def loss_curves(present: pd.DataFrame, tasks: Sequence[str], methods: Sequence[str]) -> dict[str, Any]:
    """{task: {method: {"curve": [[step, loss], ...], "status": ..., "seed": ...}}}: the training-loss
    curve of each (task, method), first seed in row order, for the training-health slide."""
    out: dict[str, Any] = {}
    if "loss_curve" not in present.columns:
        return out
    status = _status_series(present)
    for t in tasks:
        per: dict[str, Any] = {}
        for m in methods:
            rows = present[(present["task"] == t) & (present["method"] == m)]
            if rows.empty:
                continue
            r = rows.iloc[0]
            try:
                curve = json.loads(r["loss_curve"]) if isinstance(r["loss_curve"], str) else []
            except ValueError:
                curve = []
            if curve:
                per[m] = {"curve": curve, "status": status[rows.index[0]], "seed": clean(r["seed"])}
        if per:
            out[t] = per
    return clean(out)
