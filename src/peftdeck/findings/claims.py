"""Part I claims: the observations the deck states about the methods x tasks table, each with the
numbers behind it and whether the data support it."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import health
from ._common import _learned
from .stats import CI_LEVEL

# A sentence that lists runs names at most this many; `listed` holds them, `n_unlisted` counts the rest.
RUNS_LISTED = 6


def _listed(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"listed": runs[:RUNS_LISTED], "n_unlisted": max(0, len(runs) - RUNS_LISTED)}

def observations(s: dict[str, Any]) -> list[dict[str, Any]]:
    """The part I claims, each with its data and whether the data support it."""
    out: list[dict[str, Any]] = []
    ref = s["reference"]
    by = {r["method"]: r for r in s["methods"]}
    info = s["task_info"]
    tasks = s["tasks"]

    def baseline(t: str) -> float | None:
        pm = info[t]["primary_metric"]
        return info[t]["baseline"].get(pm) if pm else None

    def learned(t: str) -> bool:
        """Some method learned the task: its runs are distinguishable from the majority baseline
        (peftdeck.health); elsewhere differences between methods are differences between guesses."""
        return bool(info[t]["best"]["supported"])

    def top_any(t: str) -> tuple[float | None, str | None]:
        scored = [(r["scores"][t]["mean"], r["label"]) for r in s["methods"]
                  if (r["scores"].get(t) or {}).get("mean") is not None]
        return max(scored, key=lambda x: x[0]) if scored else (None, None)

    def run_counts(t: str) -> tuple[int, int]:
        """(runs on the task that passed the baseline test, runs on the task)."""
        entries = [r["scores"].get(t) or {} for r in s["methods"]]
        runs = sum(int(e.get("n") or 0) for e in entries)
        return runs - sum(int(e.get("n_not_learned") or 0) for e in entries), runs

    near_baseline = [t for t in tasks if not learned(t) and top_any(t)[0] is not None]
    near = []
    for t in near_baseline:
        (best, best_label), (passed, runs) = top_any(t), run_counts(t)
        near.append({"task": t, "best": best, "best_label": best_label, "baseline": baseline(t),
                     "runs_learned": passed, "runs": runs})
    pooled_on = {t for t in near_baseline
                 if any((r["scores"].get(t) or {}).get("pooled_test") for r in s["methods"])}
    out.append({"id": "tasks_near_baseline", "supported": bool(near_baseline),
                "data": {"alpha": s.get("alpha", health.ALPHA), "tasks": near,
                         "some_runs_learned": any(x["runs_learned"] for x in near),
                         "pooled": bool(pooled_on) and pooled_on == set(near_baseline)}})

    # Entries whose seeds together beat the baseline although some seed alone did not: they count,
    # and the deck says on what evidence.
    together = s.get("learned_together") or []
    out.append({"id": "learned_together", "supported": bool(together),
                "data": {"alpha": s.get("alpha", health.ALPHA), "entries": together}})

    # 1. Does the reference win every task? Only tasks where a comparison means something count: at
    #    least one other method did not collapse, and the best score clears the majority baseline.
    if ref:
        compared = [t for t in tasks if learned(t) and info[t]["best"].get("n_usable", 0) >= 2]
        everywhere = bool(compared) and all(info[t]["best"]["method"] == ref and not info[t]["best"].get("tied_with")
                                            for t in compared)
        out.append({"id": "reference_best_everywhere", "supported": everywhere,
                    "data": {"label": s["reference_label"], "tasks": compared,
                             "not_compared": [t for t in tasks if t not in compared]}})

    # 2. Methods that match or beat the reference on some task.
    for r in s["methods"]:
        if r["is_reference"] or not ref:
            continue
        on = [t for t in r["matches_or_beats_reference_on"] if learned(t)]
        detail = [{"task": t, "score": r["scores"][t]["mean"], "reference": by[ref]["scores"][t]["mean"],
                   "comparison": r["vs_reference"].get(t)} for t in on]
        out.append({"id": "matches_or_beats_reference", "supported": bool(detail),
                    "data": {"method": r["method"], "label": r["label"], "reference_label": s["reference_label"],
                             "tasks": on, "detail": detail}})

    # 3. The parameter-efficient method closest to the reference, by the share of the reference's
    #    gain over the majority baseline it keeps (the % of the reference's score is given beside it:
    #    where the baseline is high, that % is high even for a method that learned little). The
    #    claims average over the tasks the reference learned; a method must have learned every one.
    claim_tasks = [t for t in tasks if learned(t) and ref and _learned(by[ref]["scores"].get(t))]

    def claim_mean(r: dict[str, Any], key: str) -> float | None:
        per = r.get(key) or {}
        if not claim_tasks or any(t not in per for t in claim_tasks):
            return None
        return float(np.mean([per[t] for t in claim_tasks]))

    peft = [(r, claim_mean(r, "gain_share_per_task"), claim_mean(r, "pct_of_reference_per_task"))
            for r in s["methods"] if not r["is_reference"]]
    peft = [x for x in peft if x[1] is not None]
    left_out = [r["label"] for r in s["methods"] if not r["is_reference"]
                and any(t in r.get("not_learned_tasks", []) for t in claim_tasks)]
    over = claim_tasks if len(claim_tasks) < len(tasks) else None
    if peft:
        best, best_g, best_p = max(peft, key=lambda x: x[1])
        out.append({"id": "closest_to_reference", "supported": bool(ref),
                    "data": {"label": best["label"], "gain_share": best_g, "pct_of_reference": best_p,
                             "over_tasks": over, "trainable_pct": best["trainable_pct"],
                             "reference_label": s["reference_label"], "left_out": left_out}})
    else:
        out.append({"id": "closest_to_reference", "supported": False, "data": {"left_out": left_out}})

    # 4. Range of the gain share over the parameter-efficient methods that learned every claim task.
    lo = min(peft, key=lambda x: x[1]) if peft else None
    hi = max(peft, key=lambda x: x[1]) if peft else None
    out.append({"id": "pct_of_reference_range", "supported": len(peft) >= 2,
                "data": {"min": lo[1] if lo else None, "max": hi[1] if hi else None, "over_tasks": over,
                         "min_pct": lo[2] if lo else None, "max_pct": hi[2] if hi else None,
                         "min_label": lo[0]["label"] if lo else None,
                         "max_label": hi[0]["label"] if hi else None,
                         "reference_label": s["reference_label"]}})

    # 5. Where the gap to the reference is largest and smallest.
    gaps = {t: info[t]["spread"]["gap"] for t in tasks if info[t]["spread"]["gap"] is not None and learned(t)}
    if len(gaps) >= 2:
        hi, lo = max(gaps, key=gaps.get), min(gaps, key=gaps.get)
        out.append({"id": "gap_by_task", "supported": hi != lo,
                    "data": {"largest_task": hi, "largest_gap": gaps[hi],
                             "largest_best_other": info[hi]["spread"]["best_other_label"],
                             "smallest_task": lo, "smallest_gap": gaps[lo], "smallest_gap_abs": abs(gaps[lo]),
                             "smallest_other_ahead": gaps[lo] < 0, "largest_other_ahead": gaps[hi] < 0,
                             "smallest_best_other": info[lo]["spread"]["best_other_label"],
                             "per_task": [{"task": t, "gap": gaps[t], "min": info[t]["spread"]["min"],
                                           "max": info[t]["spread"]["max"]} for t in tasks if t in gaps]}})
    else:
        out.append({"id": "gap_by_task", "supported": False, "data": {}})

    # 6. Runs that did not learn (collapsed, or indistinguishable from the baseline), with the
    #    evidence: score vs baseline, the test's p-value and whether the loss moved at all.
    out.append({"id": "not_learned_runs", "supported": bool(s.get("not_learned_runs")),
                "data": {"runs": s.get("not_learned_runs") or [], "alpha": s.get("alpha", health.ALPHA),
                         **_listed(s.get("not_learned_runs") or []),
                         "stalled": [r for r in s.get("not_learned_runs") or [] if r.get("loss_trend") == "stalled"]}})

    # 7. Runs whose training loss diverged, and the fix (a lower learning rate).
    out.append({"id": "diverged_runs", "supported": bool(s.get("diverged_runs")),
                "data": {"runs": s.get("diverged_runs") or [], **_listed(s.get("diverged_runs") or [])}})

    # 8. Memory: every parameter-efficient method relative to the reference.
    # Only one kind of memory figure can be compared (a training-memory peak is no process RSS).
    mem = [(r["label"], r["memory"]["ratio"]) for r in s["methods"] if not r["is_reference"]
           and r["memory"]["ratio"] is not None and len(s["memory_kinds"]) <= 1]
    out.append({"id": "memory_savings", "supported": bool(mem) and all(x < 1.0 for _, x in mem),
                "data": {"min": min((x for _, x in mem), default=None), "max": max((x for _, x in mem), default=None),
                         "memory_kinds": s["memory_kinds"], "reference_label": s["reference_label"]}})
    out.append({"id": "memory_not_lower", "supported": bool(mem) and not all(x < 1.0 for _, x in mem),
                "data": {"labels": [lab for lab, x in mem if x >= 1.0], "reference_label": s["reference_label"],
                         "memory_kinds": s["memory_kinds"]}})

    # 8b. The Pareto front of score against training memory, per task: the methods worth choosing.
    fronts = {t: (s.get("pareto") or {}).get("tasks", {}).get(t, {}).get("peak_memory_bytes") for t in tasks}
    fronts = {t: f for t, f in fronts.items() if f and f["front"] and learned(t)}
    out.append({"id": "pareto_memory", "supported": bool(fronts),
                "data": {"tasks": [{"task": t, "front": f["front_labels"], "dominated": f["dominated_labels"]}
                                   for t, f in fronts.items()]}})

    # 9. Fewest trainable parameters.
    withp = [r for r in s["methods"] if r["trainable_pct"] is not None]
    if withp:
        few = min(withp, key=lambda r: r["trainable_pct"])
        out.append({"id": "fewest_parameters", "supported": not few["is_reference"],
                    "data": {"label": few["label"], "trainable_pct": few["trainable_pct"],
                             "gain_share": claim_mean(few, "gain_share_per_task"),
                             "pct_of_reference": claim_mean(few, "pct_of_reference_per_task"), "over_tasks": over}})

    # 10. With enough seeds: where each method is clearly ahead of or behind the reference.
    for r in s["methods"]:
        if r["is_reference"] or not ref:
            continue
        decided = {t: c for t, c in r["vs_reference"].items() if c and c["decided_by"] == "ci"}
        out.append({"id": "ci_differences", "supported": bool(decided),
                    "data": {"method": r["method"], "label": r["label"], "reference_label": s["reference_label"],
                             "ahead": [t for t, c in decided.items() if c["outcome"] == "wins"],
                             "behind": [t for t, c in decided.items() if c["outcome"] == "loses"],
                             "unclear": [t for t, c in decided.items() if c["outcome"] == "ties"],
                             "level": CI_LEVEL}})
    return out
