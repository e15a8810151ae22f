"""Every claim the deck makes, computed from the tidy cell table.

Pure functions: a DataFrame (one row per experiment and cell, as `peftdeck.aggregate.collect` builds
it, plus rows with `missing=True` for cells that have no result yet) goes in, plain JSON-able data
comes out. Each finding carries the numbers behind it and a `supported` flag; the deck prints a
sentence only when its finding is supported.

Conventions:

* scores are percentages (0-100), as in the cell files;
* comparisons stay within one experiment; an experiment's reference is its first method whose
  `method_kind` is ``full_ft``;
* seeds are averaged; a standard deviation is given only when more than one seed is present;
* a (task, method) entry with a collapsed run (it predicted one class for >= 99 % of the evaluation
  set) is flagged and left out of every "who wins" comparison;
* when one (task, method) was run with several hyper-parameter settings (learning rates, batch sizes,
  schedules), the setting with the best mean primary score is reported and the others are counted;
  grid studies (`slides: grid`) instead choose on the held-out part of train and never on the dev split;
* a difference to the reference is called a win or a loss only when the percentile bootstrap
  interval of the difference (seeds resampled, paired by seed where both sides ran the same seeds)
  excludes zero; with fewer than `CI_MIN_SEEDS` seeds per side there is no interval, and a
  difference within `TIE_TOLERANCE` points counts as a tie.
"""
from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import health
from .methods import method_specs

METRICS = ("accuracy", "f1", "exact_match", "matthews", "pearson", "spearman")
# Two scores within this many points (absolute) count as a tie in the regime table.
TIE_TOLERANCE = 1.0
HPARAM_KEYS = ("train_size", "schedule", "lr", "batch_size")

# Seeds: percentile bootstrap intervals for differences to the reference.
CI_LEVEL = 0.95
CI_RESAMPLES = 10_000
CI_SEED = 12_345  # fixed: the same scores always give the same interval
CI_MIN_SEEDS = 3  # per side; with fewer seeds there is no interval and TIE_TOLERANCE decides

# Which figures the deck shows: name -> (deck section it belongs to, slide title). A `{task}` in the
# name gives one figure per task of that section's experiment. `figure_specs` expands this for a
# config; the plots rule declares exactly those files as its outputs.
FIGURES = {
    "parameter_efficiency": ("glue", "Parameter efficiency"),
    "flops": ("glue", "Compute and memory"),
    "glue_results": ("glue", "Scores vs majority baseline"),
    "loss_curves": ("glue", "Training health: loss curves"),
    "pareto": ("glue", "Pareto front: score vs cost"),
    "squad_curves": ("squad", "Scores vs training-set size"),
    "grid_{task}": ("grid", "Held-out score over learning rate × batch size"),
    "lora_ranks": ("lora_ranks", "Score vs trainable parameters"),
    "fractions": ("fractions", "Score by share of the data"),
}


def figure_specs(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure the deck of this (validated) config shows: name, file, title, section, task."""
    from .config import sections

    owners = sections(config)
    out = []
    for pattern, (kind, title) in FIGURES.items():
        if kind not in owners:
            continue
        tasks = config["experiments"][owners[kind]]["tasks"] if "{task}" in pattern else [None]
        for task in tasks:
            name = pattern.format(task=task) if task else pattern
            out.append({"name": name, "file": f"figures/{name}.png", "title": title, "section": kind,
                        "task": task})
    return out


# --- small helpers ---------------------------------------------------------------------------

def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def clean(x: Any) -> Any:
    """A JSON-safe copy: numpy scalars to Python, NaN/inf to None, recursively."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if x is pd.NA or x is pd.NaT:
        return None
    return x


def mean_std(values: Iterable[Any]) -> dict[str, Any]:
    """Mean and sample standard deviation of the finite values; std is None unless n > 1."""
    vals = [float(v) for v in values if _finite(v)]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    mean = float(np.mean(vals))
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    return {"mean": mean, "std": std, "n": len(vals)}


def size_key(size: Any) -> float:
    """Sort key for a configured train size: integers (or percentages) in order, `all` last."""
    if size == "all":
        return math.inf
    pct = fraction_value(size)
    if pct is not None:
        return pct
    try:
        return float(size)
    except (TypeError, ValueError):
        return math.inf


def fraction_value(size: Any) -> float | None:
    """A train size as a percentage of the train split: "10%" -> 10.0, all -> 100.0, a count -> None."""
    if size == "all":
        return 100.0
    if isinstance(size, str) and size.endswith("%"):
        try:
            return float(size[:-1])
        except ValueError:
            return None
    return None


def _present(df: pd.DataFrame) -> pd.DataFrame:
    if "missing" in df.columns:
        return df[~df["missing"].fillna(False).astype(bool)]
    return df


def _ordered_unique(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def reference_kinds() -> frozenset[str]:
    """Method kinds that are the reference every other method is compared to (full fine-tuning)."""
    return frozenset(k for k, spec in method_specs().items() if spec.reference)


def reference_method(df: pd.DataFrame) -> str | None:
    """The experiment's Full FT reference: the first method (in row order) of kind full_ft."""
    if df.empty:
        return None
    ref = df.loc[df["method_kind"].isin(reference_kinds()), "method"]
    return str(ref.iloc[0]) if len(ref) else None


def _collapsed_series(df: pd.DataFrame) -> pd.Series:
    if "collapsed" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["collapsed"].map(lambda v: bool(v) if isinstance(v, (bool, np.bool_)) else str(v).lower() == "true")


def _row_status(row: pd.Series, collapsed: bool) -> str:
    """A row's status from its scores where the table carries none (tables built by hand or by an
    older version): collapsed, else the baseline test of peftdeck.health on the row's own scores."""
    if collapsed:
        return "collapsed"
    test = _row_test(row)
    return "not_learned" if test is not None and not test["learned"] else "learned"


def _row_test(row: pd.Series) -> dict[str, Any] | None:
    """peftdeck.health.baseline_test on one row of the tidy table."""
    return health.baseline_test({m: row.get(m) for m in METRICS},
                                {m: row.get(f"baseline_{m}") for m in METRICS}, row.get("n_eval"))


def _status_series(df: pd.DataFrame) -> pd.Series:
    """Each row's run status (peftdeck.health.STATUSES), as recorded by aggregation or recomputed."""
    collapsed = _collapsed_series(df)
    recorded = df["status"] if "status" in df.columns else pd.Series(None, index=df.index, dtype=object)
    return pd.Series([r if r in health.STATUSES else _row_status(df.loc[i], bool(collapsed[i]))
                      for i, r in zip(df.index, recorded)], index=df.index, dtype=object)


def _label(df: pd.DataFrame, method: str) -> str:
    rows = df.loc[df["method"] == method, "method_label"]
    return str(rows.iloc[0]) if len(rows) else method


def _select_setting(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows of the best hyper-parameter setting (by mean primary score) and the number of settings."""
    if rows.empty:
        return rows, 0
    keys = [k for k in HPARAM_KEYS if k in rows.columns]
    groups = list(rows.groupby([rows[k].astype(str) for k in keys], sort=False, dropna=False))
    if len(groups) == 1:
        return rows, 1
    best, best_score = None, -math.inf
    for _, g in groups:
        score = mean_std(_present(g)["primary"])["mean"]
        score = -math.inf if score is None else score
        if best is None or score > best_score:
            best, best_score = g, score
    return best, len(groups)


def score_entry(rows: pd.DataFrame) -> dict[str, Any]:
    """Seed statistics of one (task, method[, size]) group; `rows` may include missing cells."""
    present = _present(rows)
    collapsed = _collapsed_series(present)
    entry: dict[str, Any] = mean_std(present["primary"]) if len(present) else {"mean": None, "std": None, "n": 0}
    entry["n_expected"] = int(len(rows))
    entry["missing"] = entry["n"] == 0
    entry["partial"] = 0 < entry["n"] < entry["n_expected"]
    entry["n_collapsed"] = int(collapsed.sum())
    entry["collapsed"] = bool(entry["n_collapsed"] > 0)
    # Run health (peftdeck.health): a run that diverged, collapsed or is indistinguishable from the
    # majority baseline makes the whole entry "not learned", which keeps it out of averages and claims.
    status = _status_series(present)
    entry["n_not_learned"] = int((status != "learned").sum())
    entry["n_diverged"] = int((status == "diverged").sum())
    entry["not_learned"] = bool(entry["n_not_learned"] > 0)
    entry["diverged"] = bool(entry["n_diverged"] > 0)
    entry["status"] = next((k for k in ("diverged", "collapsed", "not_learned") if (status == k).any()), "learned")
    if "baseline_p" in present.columns and present["baseline_p"].notna().any():
        entry["baseline_p"] = float(present["baseline_p"].max())
    for col in ("loss_start", "loss_end"):
        if col in present.columns and present[col].notna().any():
            entry[col] = float(present[col].mean())
    entry["metrics"] = {m: mean_std(present[m]) for m in METRICS if m in present.columns and present[m].notna().any()}
    # Per-seed scores, for paired comparisons between methods (seed -> score; keys are text in JSON).
    entry["seeds"] = seed_scores(present, "primary")
    entry["seed_metrics"] = {m: seed_scores(present, m) for m in entry["metrics"]}
    base_cols = {m: f"baseline_{m}" for m in METRICS if f"baseline_{m}" in present.columns}
    entry["baseline"] = {m: mean_std(present[c])["mean"] for m, c in base_cols.items() if present[c].notna().any()}
    for col in ("trainable_params", "total_params", "trainable_pct", "peak_memory_bytes", "train_flops",
                "task_bytes", "base_model_bytes",
                "train_s", "train_examples_per_s", "steps", "n_train", *(f"mem_{k}_bytes" for k in MEMORY_KINDS)):
        if col in present.columns:
            entry[col] = mean_std(present[col])["mean"]
    return entry


def seed_scores(rows: pd.DataFrame, column: str = "primary") -> dict[str, float]:
    """{seed: score} over the rows with a finite score (the mean where a seed appears twice)."""
    if rows.empty or column not in rows.columns or "seed" not in rows.columns:
        return {}
    out: dict[str, list[float]] = {}
    for seed, value in zip(rows["seed"], rows[column]):
        if _finite(value):
            out.setdefault(str(clean(seed)), []).append(float(value))
    return {k: float(np.mean(v)) for k, v in out.items()}


# --- seeds: bootstrap confidence intervals -----------------------------------------------------

def _mean_distribution(values: Sequence[float], n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The bootstrap distribution of the mean of `values`.

    With n values there are n**n equally likely ordered resamples; when that is at most n_resamples
    every one is enumerated (exact), otherwise n_resamples are drawn at random.
    """
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n ** n <= n_resamples:
        idx = np.array(list(itertools.product(range(n), repeat=n)), dtype=np.int64).reshape(-1, n)
    else:
        idx = rng.integers(0, n, size=(n_resamples, n))
    return v[idx].mean(axis=1)


def _percentile_interval(stats: np.ndarray, level: float) -> tuple[float, float]:
    """Lower: the smallest value whose share of the distribution at or below it reaches (1-level)/2;
    upper: the same from the top. Both are values the bootstrap actually produced."""
    tail = (1.0 - level) / 2.0
    lo = float(np.quantile(stats, tail, method="inverted_cdf"))
    hi = -float(np.quantile(-stats, tail, method="inverted_cdf"))
    return round(lo, 10), round(hi, 10)


def bootstrap_mean_ci(values: Sequence[float], level: float = CI_LEVEL, n_resamples: int = CI_RESAMPLES,
                      seed: int = CI_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (e.g. of per-seed paired differences)."""
    vals = [float(v) for v in values if _finite(v)]
    if not vals:
        raise ValueError("bootstrap_mean_ci needs at least one finite value")
    return _percentile_interval(_mean_distribution(vals, n_resamples, np.random.default_rng(seed)), level)


def bootstrap_diff_ci(reference: Sequence[float], challenger: Sequence[float], level: float = CI_LEVEL,
                      n_resamples: int = CI_RESAMPLES, seed: int = CI_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(challenger) - mean(reference), the two resampled independently.

    Exact (every pair of resamples) when n1**n1 * n2**n2 <= n_resamples, else n_resamples random pairs.
    """
    a = [float(v) for v in challenger if _finite(v)]
    b = [float(v) for v in reference if _finite(v)]
    if not a or not b:
        raise ValueError("bootstrap_diff_ci needs finite values on both sides")
    rng = np.random.default_rng(seed)
    if len(a) ** len(a) * len(b) ** len(b) <= n_resamples:
        da = _mean_distribution(a, n_resamples, rng)
        db = _mean_distribution(b, n_resamples, rng)
        stats = (da[:, None] - db[None, :]).ravel()
    else:
        ia = rng.integers(0, len(a), size=(n_resamples, len(a)))
        ib = rng.integers(0, len(b), size=(n_resamples, len(b)))
        stats = np.asarray(a)[ia].mean(axis=1) - np.asarray(b)[ib].mean(axis=1)
    return _percentile_interval(stats, level)


def compare_scores(reference: Mapping[Any, float], challenger: Mapping[Any, float],
                   tolerance: float = TIE_TOLERANCE, level: float = CI_LEVEL,
                   min_seeds: int = CI_MIN_SEEDS) -> dict[str, Any]:
    """Challenger minus reference, from per-seed scores ({seed: score} on each side).

    With at least `min_seeds` seeds on each side: a percentile bootstrap interval (paired by seed
    when both sides ran the same seeds, else the two sides resampled independently); the outcome
    is `wins`/`loses` only when the interval excludes zero, `ties` otherwise (decided_by `ci`).
    With fewer seeds: no interval; the difference of the means against `tolerance` decides
    (decided_by `tolerance`).
    """
    ref = {str(k): float(v) for k, v in reference.items() if _finite(v)}
    ch = {str(k): float(v) for k, v in challenger.items() if _finite(v)}
    out: dict[str, Any] = {"delta": None, "ci": None, "level": level, "n_reference": len(ref),
                           "n_challenger": len(ch), "paired": False, "outcome": None, "decided_by": None}
    if not ref or not ch:
        return out
    delta = float(np.mean(list(ch.values())) - np.mean(list(ref.values())))
    out["delta"] = delta
    if min(len(ref), len(ch)) >= min_seeds:
        if set(ref) == set(ch):
            keys = sorted(ref)
            lo, hi = bootstrap_mean_ci([ch[k] - ref[k] for k in keys], level=level)
            out["paired"] = True
        else:
            lo, hi = bootstrap_diff_ci(list(ref.values()), list(ch.values()), level=level)
        out["ci"] = [lo, hi]
        out["outcome"] = "wins" if lo > 0 else ("loses" if hi < 0 else "ties")
        out["decided_by"] = "ci"
    else:
        out["outcome"] = signed_outcome(delta, tolerance)
        out["decided_by"] = "tolerance"
    return out


def compare_entries(reference: dict[str, Any] | None, challenger: dict[str, Any] | None,
                    metric: str | None = None, tolerance: float = TIE_TOLERANCE) -> dict[str, Any] | None:
    """compare_scores on two score entries (primary score, or `metric`); None unless both are usable."""
    if not (_usable(reference) and _usable(challenger)):
        return None
    if metric is None:
        return compare_scores(reference.get("seeds") or {}, challenger.get("seeds") or {}, tolerance)
    return compare_scores((reference.get("seed_metrics") or {}).get(metric) or {},
                          (challenger.get("seed_metrics") or {}).get(metric) or {}, tolerance)


def _usable(entry: dict[str, Any] | None) -> bool:
    """An entry that may take part in a comparison: it has a score and no collapsed run."""
    return bool(entry) and entry.get("mean") is not None and not entry.get("collapsed")


def _learned(entry: dict[str, Any] | None) -> bool:
    """An entry that counts in part I's averages and claims: usable, and every run learned
    (none diverged, collapsed or indistinguishable from the majority baseline)."""
    return _usable(entry) and not entry.get("not_learned") and not entry.get("diverged")


# --- part I: methods x tasks -------------------------------------------------------------------

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
MEMORY_KINDS = ("weights", "gradients", "optimizer_state", "activations", "other")


def relative_to_reference(table: dict[str, dict[str, dict[str, Any]]], method: str, reference: str | None,
                          key: str) -> dict[str, Any]:
    """Mean over tasks of entry[key](method) / entry[key](reference), plus the method's mean of key."""
    values = [e[method][key] for e in table.values() if _finite(e.get(method, {}).get(key))]
    absolute = float(np.mean(values)) if values else None
    ratios = []
    if reference is not None:
        for entries in table.values():
            m, r = entries.get(method, {}), entries.get(reference, {})
            if _finite(m.get(key)) and _finite(r.get(key)) and r[key] > 0:
                ratios.append(m[key] / r[key])
    ratio = float(np.mean(ratios)) if ratios else None
    return {"value": absolute, "ratio": ratio, "supported": ratio is not None}


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
            "collapsed_tasks": collapsed, "not_learned_tasks": not_learned, "diverged_tasks": diverged,
            "missing_tasks": missing, "partial_tasks": partial,
            "matches_or_beats_reference_on": beats,
            # Per task: the difference to the reference with its bootstrap interval (when seeds allow).
            "vs_reference": {t: compare_entries(table[t].get(reference), table[t].get(m))
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
    failed_runs = _failed_runs(present, baselines)
    memory_kinds = _ordered_unique(present["memory_kind"].dropna()) if "memory_kind" in present else []
    summary = {
        "reference": reference, "reference_label": labels.get(reference) if reference else None,
        "tasks": tasks, "task_info": info, "methods": ordered, "method_order": methods,
        "memory_kinds": memory_kinds,
        "not_learned_runs": [r for r in failed_runs if r["status"] != "diverged"],
        "diverged_runs": [r for r in failed_runs if r["status"] == "diverged"],
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
    summary["pareto"] = pareto_fronts(table, labels, tasks)
    summary["has_storage"] = any(r["storage"]["task_bytes"] is not None for r in ordered)
    summary["storage_tasks"] = [str(n) for n in STORAGE_TASKS]
    summary["storage_base_model_bytes"] = next((r["storage"]["base_model_bytes"] for r in ordered
                                                if r["storage"]["base_model_bytes"] is not None), None)
    summary["observations"] = observations(summary)
    return clean(summary)


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


def _primary_baseline(rows: pd.DataFrame) -> float | None:
    """The majority-class (constant-predictor) score of a task's primary metric, if it has one."""
    pm = rows["primary_metric"].dropna() if "primary_metric" in rows.columns else []
    if not len(pm):
        return None
    col = f"baseline_{pm.iloc[0]}"
    return mean_std(rows[col])["mean"] if col in rows.columns and rows[col].notna().any() else None


def _failed_runs(present: pd.DataFrame, baselines: Mapping[str, float | None]) -> list[dict[str, Any]]:
    """Every run that diverged, collapsed or did not learn, with its evidence (score against the
    baseline, the test's p-value, the training loss at the start and the end)."""
    out = []
    status = _status_series(present)
    for idx, r in present[status != "learned"].iterrows():
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

    near_baseline = [t for t in tasks if not learned(t) and top_any(t)[0] is not None]
    out.append({"id": "tasks_near_baseline", "supported": bool(near_baseline),
                "data": {"alpha": s.get("alpha", health.ALPHA),
                         "tasks": [{"task": t, "best": top_any(t)[0], "best_label": top_any(t)[1],
                                    "baseline": baseline(t)} for t in near_baseline]}})

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
                         "stalled": [r for r in s.get("not_learned_runs") or [] if r.get("loss_trend") == "stalled"]}})

    # 7. Runs whose training loss diverged, and the fix (a lower learning rate).
    out.append({"id": "diverged_runs", "supported": bool(s.get("diverged_runs")),
                "data": {"runs": s.get("diverged_runs") or []}})

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


# --- part II: one comparison over training-set sizes --------------------------------------------

def signed_outcome(delta: float | None, tolerance: float = TIE_TOLERANCE) -> str | None:
    """`wins` / `ties` / `loses` for challenger - reference = delta (points)."""
    if delta is None or not _finite(delta):
        return None
    if delta > tolerance:
        return "wins"
    if delta < -tolerance:
        return "loses"
    return "ties"


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
    """
    out: dict[str, Any] = {"holds_up_to": None, "first_loss": None, "first_loss_delta": None,
                           "level_again": None, "behind_at_largest": None}
    pairs = [(sz, o, d) for sz, o, d in zip(sizes, outcomes, deltas) if o is not None]
    if not pairs:
        return out
    out["behind_at_largest"] = pairs[-1][1] == "loses"
    for i, (sz, o, d) in enumerate(pairs):
        if o == "loses":
            out["first_loss"], out["first_loss_delta"] = sz, d
            out["holds_up_to"] = pairs[i - 1][0] if i > 0 else None
            out["level_again"] = next((s2 for s2, o2, _ in pairs[i + 1:] if o2 in ("wins", "ties")), None)
            return out
    out["holds_up_to"] = pairs[-1][0]
    return out


def _size_label(size: Any, n_train: float | None) -> dict[str, Any]:
    return {"train_size": size, "n_train": n_train, "is_all": size == "all"}


def _study_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, Any, list, list, dict]:
    """What every per-task study summary starts from: present rows, Full FT reference, methods, tasks, labels."""
    methods = _ordered_unique(df["method"])
    return (_present(df), reference_method(df), methods, _ordered_unique(df["task"]),
            {m: _label(df, m) for m in methods})


def _size_entries(rows: pd.DataFrame, methods: Sequence[str], size: Any) -> dict[str, dict[str, Any]]:
    """Score entry per method for the rows of one training-set size."""
    entries = {}
    for m in methods:
        mrows = rows[rows["method"] == m]
        if mrows.empty:
            continue
        chosen, n_settings = _select_setting(mrows.assign(train_size=str(size)))
        entries[m] = {**score_entry(chosen), "n_settings": n_settings}
    return entries


def size_sweep(df: pd.DataFrame, tolerance: float = TIE_TOLERANCE) -> dict[str, Any] | None:
    """Part II: reference vs every other method of one experiment, per training-set size."""
    if df.empty:
        return None
    present = _present(df)
    reference = reference_method(df)
    methods = _ordered_unique(df["method"])
    labels = {m: _label(df, m) for m in methods}
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
            rows_out.append(r)
        regimes, cross, hyp = {}, {}, {}
        for met in metrics:
            usable = [r for r in rows_out if r[met]["delta"] is not None and r["n_train"] is not None]
            regimes[met] = regime_table([r["train_size"] for r in usable], [r[met]["delta"] for r in usable], tolerance,
                                        outcomes=[r[met]["outcome"] for r in usable])
            for reg in regimes[met]:
                reg["first_n"] = next(r["n_train"] for r in usable if r["train_size"] == reg["first"])
                reg["last_n"] = next(r["n_train"] for r in usable if r["train_size"] == reg["last"])
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
                            "crossover": cross, "hypothesis": hyp})

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
        "has_ci": any(r[met].get("decided_by") == "ci" for c in comparisons for r in c["rows"] for met in metrics),
        "ci_level": CI_LEVEL, "ci_min_seeds": CI_MIN_SEEDS,
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


# --- the wider study: grid search, LoRA ranks, training fractions ------------------------------------

def _task_primary(df: pd.DataFrame, task: str) -> str | None:
    pm = df.loc[df["task"] == task, "primary_metric"].dropna()
    return str(pm.iloc[0]) if len(pm) else None


def _comparison_sentence_data(comp: dict[str, Any] | None) -> dict[str, Any]:
    comp = comp or {}
    return {"delta": comp.get("delta"), "ci": comp.get("ci"), "outcome": comp.get("outcome"),
            "decided_by": comp.get("decided_by")}


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


def rank_sweep(df: pd.DataFrame, ranks: Mapping[str, Any], tolerance: float = TIE_TOLERANCE) -> dict[str, Any] | None:
    """LoRA rank sweep: per task, score and trainable parameters at each rank (+ any other method).

    `ranks` maps method name -> LoRA rank (None or absent for methods that are not LoRA). Methods
    with several settings keep their best by mean dev score, as in part I.
    """
    if df.empty:
        return None
    present = _present(df)
    reference = reference_method(df)
    methods = _ordered_unique(df["method"])
    labels = {m: _label(df, m) for m in methods}
    table = task_table(df)
    lora = sorted([m for m in methods if ranks.get(m) is not None], key=lambda m: (int(ranks[m]), methods.index(m)))
    others = [m for m in methods if m not in lora]
    per_task, findings = [], []
    for task, entries in table.items():
        points = []
        for m in lora:
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
                                          "decided_by": sorted({p["vs_reference"]["decided_by"] for p in decided})}})
        per_task.append({"task": task, "primary_metric": _task_primary(df, task), "points": points, "others": refs,
                         "best": best["method"] if best else None, "span": span})
    return clean({
        "reference": reference, "reference_label": labels.get(reference) if reference else None,
        "ranks": [{"method": m, "label": labels[m], "r": int(ranks[m])} for m in lora],
        "others": [{"method": m, "label": labels[m]} for m in others],
        "tasks": list(table), "per_task": per_task, "findings": findings,
        "seeds": sorted(clean(x) for x in _ordered_unique(df["seed"])),
        "multi_seed": bool(df["seed"].nunique() > 1), "tolerance": tolerance,
        "ci_level": CI_LEVEL, "ci_min_seeds": CI_MIN_SEEDS,
        "has_ci": any((p["vs_reference"] or {}).get("decided_by") == "ci" for t in per_task for p in t["points"]),
        "n_present": int(len(present)),
    })


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
                                              "wins_at", "ties_at", "loses_at", "decided_by")}}})
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


def conclusions(glue: dict[str, Any] | None, squad: dict[str, Any] | None, grid: dict[str, Any] | None = None,
                ranks: dict[str, Any] | None = None, fractions: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The supported claims of every section, for the conclusions and summary slides."""
    out: list[dict[str, Any]] = []
    if glue:
        order = ("tasks_near_baseline", "closest_to_reference", "matches_or_beats_reference",
                 "pct_of_reference_range", "memory_savings", "memory_not_lower", "not_learned_runs", "diverged_runs",
                 "fewest_parameters")
        for key in order:
            for o in glue["observations"]:
                if o["id"] == key and o["supported"]:
                    out.append({"part": "glue", **o})
    if squad:
        for comp in squad["comparisons"]:
            met = squad["metrics"][0] if squad["metrics"] else None
            if met is None:
                continue
            hyp = comp["hypothesis"][met]
            if hyp["supported"]:
                out.append({"part": "squad", "id": "hypothesis", "supported": True,
                            "data": {"label": comp["label"], "reference_label": squad["reference_label"],
                                     "metric": met, **hyp}})
            cross = comp["crossover"][met]
            if cross["supported"]:
                out.append({"part": "squad", "id": "crossover", "supported": True,
                            "data": {"label": comp["label"], "reference_label": squad["reference_label"],
                                     "metric": met, **cross}})
    for part, summ, ids in (("grid", grid, ("grid_vs_reference",)), ("lora_ranks", ranks, ("rank_span",)),
                            ("fractions", fractions, ("fraction_holds_everywhere", "fraction_verdict"))):
        if not summ:
            continue
        chosen = [f for f in summ["findings"] if f["id"] in ids and f["supported"]]
        # A method that holds up on every task is said once, not once per task.
        everywhere = {f["data"]["label"] for f in chosen if f["id"] == "fraction_holds_everywhere"}
        for f in chosen:
            if f["id"] == "fraction_verdict" and f["data"]["label"] in everywhere:
                continue
            out.append({"part": part, **f})
    return clean(out)
