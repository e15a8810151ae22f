"""Part II: one comparison (the reference against each other method) over training-set sizes, and the
same sizes under a fixed-epochs schedule against a step budget."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._common import (TIE_TOLERANCE, _basics, _finite, _ordered_unique, _present, _size_entries, _size_label, clean,
                      mean_std, size_key)
from .figures import figure
from .stats import CI_LEVEL, CI_MIN_SEEDS, compare_entries, signed_outcome

def regime_table(sizes: Sequence[Any], deltas: Sequence[float | None], tolerance: float = TIE_TOLERANCE,
                 outcomes: Sequence[str | None] | None = None) -> list[dict[str, Any]]:
    """Contiguous runs of sizes with the same outcome (sizes in increasing order).

    Each row: outcome, sizes (as given), first/last size, min/max delta. Sizes without a delta
    break a run and are left out. `outcomes` (e.g. decided by bootstrap intervals) replace the
    tolerance rule where given.
    """
    rows: list[dict[str, Any]] = []
    prev_ok = False
    for i, (size, delta) in enumerate(zip(sizes, deltas)):
        outcome = signed_outcome(delta, tolerance) if outcomes is None else (
            outcomes[i] if delta is not None and _finite(delta) else None)
        if outcome is None:
            prev_ok = False
            continue
        if rows and prev_ok and rows[-1]["outcome"] == outcome:
            row = rows[-1]
            row["sizes"].append(size)
            row["last"] = size
            row["delta_min"] = min(row["delta_min"], delta)
            row["delta_max"] = max(row["delta_max"], delta)
        else:
            rows.append({"outcome": outcome, "sizes": [size], "first": size, "last": size,
                         "delta_min": float(delta), "delta_max": float(delta)})
        prev_ok = True
    for i, row in enumerate(rows):
        row["is_first"] = i == 0
        row["is_last"] = i == len(rows) - 1
    return rows


def crossover(n: Sequence[float], deltas: Sequence[float | None]) -> dict[str, Any]:
    """First size where the sign of delta changes, interpolated linearly in log(size).

    `n` are the actual training-set sizes in increasing order. A delta of exactly zero between two
    deltas of opposite sign puts the crossover at that size. Returns `supported: False` (and
    `n: None`) when the sign never changes.
    """
    pts = [(float(x), float(d)) for x, d in zip(n, deltas) if _finite(x) and _finite(d) and float(x) > 0]
    prev = None  # index of the last non-zero delta
    for i, (x, d) in enumerate(pts):
        if d == 0:
            continue
        if prev is not None and (d > 0) != (pts[prev][1] > 0):
            x0, d0 = pts[prev]
            if i - prev > 1:  # zero(s) in between: the first zero is the crossing
                at = pts[prev + 1][0]
            else:
                lx0, lx1 = math.log(x0), math.log(x)
                at = math.exp(lx0 + (0.0 - d0) * (lx1 - lx0) / (d - d0))
            return {"supported": True, "n": at, "lower": x0, "upper": x,
                    "direction": "challenger_then_reference" if d0 > 0 else "reference_then_challenger"}
        prev = i
    return {"supported": False, "n": None, "lower": None, "upper": None, "direction": None}


def hypothesis_small_data(outcomes: Sequence[str | None]) -> dict[str, Any]:
    """Does the challenger match or beat the reference when data are scarce?

    verdict: `holds` (wins or ties at every size), `partial` (wins or ties at the smallest size but
    loses at a larger one), `rejected` (loses at the smallest size), None (no data).
    """
    seen = [o for o in outcomes if o is not None]
    if not seen:
        return {"verdict": None, "supported": False}
    if seen[0] == "loses":
        return {"verdict": "rejected", "supported": True}
    if all(o in ("wins", "ties") for o in seen):
        return {"verdict": "holds", "supported": True}
    return {"verdict": "partial", "supported": True}


def small_data_extent(sizes: Sequence[dict[str, Any]], outcomes: Sequence[str | None],
                      deltas: Sequence[float | None]) -> dict[str, Any]:
    """How far "matches or beats with little data" reaches, sizes in increasing order.

    holds_up_to: the largest size before the first loss (every smaller size won or tied);
    first_loss / first_loss_delta: where the challenger first falls behind; level_again: the first
    larger size where it wins or ties again (outcomes can go tie, lose, tie); behind_at_largest:
    whether it is behind at the largest size. A verdict sentence names these, never "falls behind
    with more" when the largest size is level.

    What the verdict sentence says, decided here: up_to_beyond_smallest (the claim reaches past the
    smallest size, so "and up to <holds_up_to>" is said); largest_after_level_again (after "level
    again at <level_again>": `behind` at the largest size, `level` at a larger largest size, None
    when the largest size is the one level again or nothing is level again).
    """
    out: dict[str, Any] = {"holds_up_to": None, "first_loss": None, "first_loss_delta": None,
                           "level_again": None, "behind_at_largest": None, "up_to_beyond_smallest": False,
                           "largest_after_level_again": None}
    pairs = [(sz, o, d) for sz, o, d in zip(sizes, outcomes, deltas) if o is not None]
    if not pairs:
        return out
    out["behind_at_largest"] = pairs[-1][1] == "loses"
    for i, (sz, o, d) in enumerate(pairs):
        if o == "loses":
            out["first_loss"], out["first_loss_delta"] = sz, d
            out["holds_up_to"] = pairs[i - 1][0] if i > 0 else None
            out["level_again"] = next((s2 for s2, o2, _ in pairs[i + 1:] if o2 in ("wins", "ties")), None)
            break
    else:
        out["holds_up_to"] = pairs[-1][0]
    out["up_to_beyond_smallest"] = out["holds_up_to"] is not None and out["holds_up_to"] != pairs[0][0]
    if out["level_again"] is not None:
        if out["behind_at_largest"]:
            out["largest_after_level_again"] = "behind"
        elif pairs[-1][0] != out["level_again"]:
            out["largest_after_level_again"] = "level"
    return out


def winner(outcome: str | None, ci: bool, label: str, reference_label: str | None) -> str | None:
    """Who wins one comparison, in words: the challenger's label (`wins`), the reference's (`loses`),
    `no clear difference` (a tie called by a bootstrap interval, `ci`) or `tie` (within the
    tolerance); None without an outcome."""
    if outcome == "wins":
        return label
    if outcome == "loses":
        return reference_label
    if outcome == "ties":
        return "no clear difference" if ci else "tie"
    return None


def regime_span(regime: dict[str, Any]) -> str:
    """Which sizes one row of the regime table covers: `all` (every size tested), `one` (a single
    size), `up_to` (the smallest sizes), `from` (the largest sizes) or `between`."""
    if regime["is_first"] and regime["is_last"]:
        return "all"
    if regime["first"] == regime["last"]:
        return "one"
    if regime["is_first"]:
        return "up_to"
    if regime["is_last"]:
        return "from"
    return "between"


@figure("squad_curves", "squad", "Scores vs training-set size", order=60)
def size_sweep(df: pd.DataFrame, tolerance: float = TIE_TOLERANCE) -> dict[str, Any] | None:
    """Part II: reference vs every other method of one experiment, per training-set size."""
    if df.empty:
        return None
    present, reference, methods, labels = _basics(df)
    task = str(df["task"].iloc[0])
    metrics = [m for m in ("f1", "exact_match") if m in present.columns and present[m].notna().any()]
    if not metrics:
        pm = present["primary_metric"].dropna()
        metrics = [str(pm.iloc[0])] if len(pm) else []
    sizes = sorted(_ordered_unique(df["train_size"]), key=size_key)

    per_size = []
    for size in sizes:
        rows = df[df["train_size"].astype(str) == str(size)]
        n_train = mean_std(_present(rows)["n_train"])["mean"] if "n_train" in rows else None
        entries = _size_entries(rows, methods, size)
        per_size.append({**_size_label(size, n_train), "entries": entries})

    # Sizes configured as `all` have an actual n; others use their configured value.
    def actual(row):
        return row["n_train"] if row["n_train"] is not None else (None if row["is_all"] else float(row["train_size"]))

    comparisons = []
    for m in methods:
        if m == reference or reference is None:
            continue
        rows_out = []
        for row in per_size:
            ref_e, ch_e = row["entries"].get(reference), row["entries"].get(m)
            r: dict[str, Any] = {"train_size": row["train_size"], "n_train": actual(row), "is_all": row["is_all"],
                                 "missing": not (ref_e and ch_e and not ref_e["missing"] and not ch_e["missing"])}
            for met in metrics:
                rv = (ref_e or {}).get("metrics", {}).get(met, {})
                cv = (ch_e or {}).get("metrics", {}).get(met, {})
                delta = (cv["mean"] - rv["mean"]) if _finite(cv.get("mean")) and _finite(rv.get("mean")) else None
                comp = compare_entries(ref_e, ch_e, met, tolerance) if delta is not None else None
                decided = comp is not None and comp["decided_by"] == "ci"
                r[met] = {"reference": rv or None, "challenger": cv or None, "delta": delta,
                          "outcome": comp["outcome"] if decided else signed_outcome(delta, tolerance),
                          "ci": comp["ci"] if decided else None, "decided_by": "ci" if decided else "tolerance"}
                r[met]["winner"] = winner(r[met]["outcome"], decided, labels[m], labels.get(reference))
            rows_out.append(r)
        regimes, cross, hyp = {}, {}, {}
        for met in metrics:
            usable = [r for r in rows_out if r[met]["delta"] is not None and r["n_train"] is not None]
            regimes[met] = regime_table([r["train_size"] for r in usable], [r[met]["delta"] for r in usable], tolerance,
                                        outcomes=[r[met]["outcome"] for r in usable])
            for reg in regimes[met]:
                reg["first_n"] = next(r["n_train"] for r in usable if r["train_size"] == reg["first"])
                reg["last_n"] = next(r["n_train"] for r in usable if r["train_size"] == reg["last"])
                reg["span"] = regime_span(reg)
            cross[met] = crossover([r["n_train"] for r in usable], [r[met]["delta"] for r in usable])
            hyp[met] = hypothesis_small_data([r[met]["outcome"] for r in usable])
            deltas = [r[met]["delta"] for r in usable]
            hyp[met]["delta_smallest"] = deltas[0] if deltas else None
            hyp[met]["delta_largest"] = deltas[-1] if deltas else None
            hyp[met]["smallest"] = ({"train_size": usable[0]["train_size"], "n_train": usable[0]["n_train"]}
                                    if usable else None)
            hyp[met]["largest"] = ({"train_size": usable[-1]["train_size"], "n_train": usable[-1]["n_train"]}
                                   if usable else None)
            hyp[met]["sizes_won_or_tied"] = [{"train_size": r["train_size"], "n_train": r["n_train"]}
                                             for r in usable if r[met]["outcome"] in ("wins", "ties")]
            hyp[met].update(small_data_extent([{"train_size": r["train_size"], "n_train": r["n_train"]} for r in usable],
                                              [r[met]["outcome"] for r in usable], deltas))
        comparisons.append({"method": m, "label": labels[m], "rows": rows_out, "regimes": regimes,
                            "crossover": cross, "hypothesis": hyp,
                            "trainable_pct": mean_std(present.loc[present["method"] == m, "trainable_pct"])["mean"]
                            if "trainable_pct" in present else None})

    has_ci = any(r[met].get("decided_by") == "ci" for c in comparisons for r in c["rows"] for met in metrics)
    # The regime table names a tie "no clear difference" wherever the sweep has intervals at all.
    for c in comparisons:
        for met in metrics:
            for reg in c["regimes"][met]:
                reg["winner"] = winner(reg["outcome"], has_ci, c["label"], labels.get(reference))
    all_rows = [s for s in per_size if s["is_all"]]
    scheds = _ordered_unique(df["schedule"])
    return clean({
        "task": task, "reference": reference, "reference_label": labels.get(reference) if reference else None,
        "methods": [{"method": m, "label": labels[m], "is_reference": m == reference,
                     "trainable_pct": mean_std(present.loc[present["method"] == m, "trainable_pct"])["mean"]
                     if "trainable_pct" in present else None} for m in methods],
        "metrics": metrics, "tolerance": tolerance, "schedules": scheds,
        "sizes": per_size, "comparisons": comparisons,
        "multi_seed": bool(df["seed"].nunique() > 1),
        "seeds": sorted(clean(s) for s in _ordered_unique(df["seed"])),
        "has_ci": has_ci, "ci_level": CI_LEVEL, "ci_min_seeds": CI_MIN_SEEDS,
        # The size configured as `all`, in examples (the setup slide says what `all` means).
        "all_n_train": all_rows[0]["n_train"] if all_rows else None,
    })


def schedule_comparison(steps_df: pd.DataFrame, epochs_df: pd.DataFrame) -> dict[str, Any] | None:
    """Same sizes and methods under a fixed-epochs schedule and a step-budget schedule."""
    if steps_df.empty or epochs_df.empty:
        return None
    a, b = size_sweep(steps_df), size_sweep(epochs_df)
    if a is None or b is None or a["reference"] is None or a["reference"] != b["reference"]:
        return None
    shared = [s for s in (r["train_size"] for r in a["sizes"]) if s in [r["train_size"] for r in b["sizes"]]]
    if not shared:
        return None
    metrics = [m for m in a["metrics"] if m in b["metrics"]]
    challengers = [c["method"] for c in a["comparisons"] if c["method"] in [d["method"] for d in b["comparisons"]]]
    rows = []
    for size in shared:
        sa = next(r for r in a["sizes"] if r["train_size"] == size)
        sb = next(r for r in b["sizes"] if r["train_size"] == size)
        row = {"train_size": size, "n_train": sa["n_train"] if sa["n_train"] is not None else sb["n_train"],
               "is_all": size == "all", "schedules": {}}
        for tag, s, summ in (("epochs", sb, b), ("steps", sa, a)):
            entry = {"methods": {}, "deltas": {}}
            for m in [a["reference"], *challengers]:
                e = s["entries"].get(m)
                entry["methods"][m] = {"steps": e.get("steps") if e else None,
                                       **{met: (e or {}).get("metrics", {}).get(met) for met in metrics}}
            comp = {c["method"]: c for c in summ["comparisons"]}
            for m in challengers:
                r = next((x for x in comp[m]["rows"] if x["train_size"] == size), None)
                entry["deltas"][m] = {met: (r or {}).get(met, {}).get("delta") for met in metrics}
            row["schedules"][tag] = entry
        rows.append(row)
    findings = []
    for m in challengers:
        for met in metrics:
            pairs = [(r["schedules"]["epochs"]["deltas"][m][met], r["schedules"]["steps"]["deltas"][m][met]) for r in rows]
            pairs = [(e, s) for e, s in pairs if e is not None and s is not None]
            mean_e = float(np.mean([e for e, _ in pairs])) if pairs else None
            mean_s = float(np.mean([s for _, s in pairs])) if pairs else None
            findings.append({"id": "epochs_schedule_widens_gap", "method": m, "metric": met,
                             "supported": bool(pairs) and mean_e < mean_s,
                             "data": {"mean_delta_epochs": mean_e, "mean_delta_steps": mean_s,
                                      "label": next(c["label"] for c in a["comparisons"] if c["method"] == m),
                                      "reference_label": a["reference_label"]}})
    # Fewer optimizer steps under the epochs schedule at the smallest shared size?
    first = rows[0]["schedules"]
    ref = a["reference"]
    se, ss = first["epochs"]["methods"][ref]["steps"], first["steps"]["methods"][ref]["steps"]
    findings.append({"id": "epochs_schedule_fewer_steps", "supported": _finite(se) and _finite(ss) and se < ss,
                     "data": {"train_size": rows[0]["train_size"], "steps_epochs": se, "steps_budget": ss}})
    return clean({"reference": ref, "reference_label": a["reference_label"],
                  "challengers": [{"method": m, "label": next(c["label"] for c in a["comparisons"] if c["method"] == m)}
                                  for m in challengers],
                  "metrics": metrics, "rows": rows, "findings": findings,
                  "schedules": {"epochs": b["schedules"], "steps": a["schedules"]}})
