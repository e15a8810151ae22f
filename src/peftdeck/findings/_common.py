"""Shared helpers of the findings: constants, JSON cleaning, seed statistics of one group of runs.

Every section module builds on these; nothing here knows about a deck section.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import health
from ..methods import method_specs

METRICS = ("accuracy", "f1", "exact_match", "matthews", "pearson", "spearman")
# Two scores within this many points (absolute) count as a tie in the regime table.
TIE_TOLERANCE = 1.0
HPARAM_KEYS = ("train_size", "schedule", "lr", "batch_size")

# Training memory by kind (cells.csv columns mem_<kind>_bytes), in the order the figure stacks them.
MEMORY_KINDS = ("weights", "gradients", "optimizer_state", "activations", "other")


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
    """The experiment's Full FT reference: the first method (in row order) of a reference kind."""
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


def _basics(df: pd.DataFrame) -> tuple[pd.DataFrame, str | None, list[str], dict[str, str]]:
    """What every section starts from: the rows with scores, the reference method, the methods in
    order of appearance and their labels."""
    methods = _ordered_unique(df["method"])
    return _present(df), reference_method(df), methods, {m: _label(df, m) for m in methods}


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
    # Several seeds that recorded which examples they got right are judged together: the entry is
    # their mean, and the pooled test asks whether that mean beats the majority rate on the same
    # examples. A diverged or collapsed run still rules the entry out.
    pooled = pooled_test(present)
    if pooled is not None:
        entry["pooled_test"] = pooled
        if not status.isin(["diverged", "collapsed"]).any():
            entry["not_learned"] = not pooled["learned"]
            entry["status"] = "learned" if pooled["learned"] else "not_learned"
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
                "train_s", "train_examples_per_s", "steps", "n_train", *(f"mem_{k}_bytes" for k in MEMORY_KINDS),
                "infer_throughput", "infer_latency_ms", "infer_throughput_merged", "infer_latency_ms_merged"):
        if col in present.columns:
            entry[col] = mean_std(present[col])["mean"]
    return entry


def pooled_test(present: pd.DataFrame) -> dict[str, Any] | None:
    """peftdeck.health.pooled_accuracy_test over the runs of one entry, where each of at least two
    runs recorded its per-example correctness on the same examples and the task has a majority rate."""
    if len(present) < 2 or "correct" not in present.columns or "baseline_accuracy" not in present.columns:
        return None
    majority = mean_std(present["baseline_accuracy"])["mean"]
    if majority is None:
        return None
    return health.pooled_accuracy_test(list(present["correct"]), majority)  # None where a run has no record


def seed_scores(rows: pd.DataFrame, column: str = "primary") -> dict[str, float]:
    """{seed: score} over the rows with a finite score (the mean where a seed appears twice)."""
    if rows.empty or column not in rows.columns or "seed" not in rows.columns:
        return {}
    out: dict[str, list[float]] = {}
    for seed, value in zip(rows["seed"], rows[column]):
        if _finite(value):
            out.setdefault(str(clean(seed)), []).append(float(value))
    return {k: float(np.mean(v)) for k, v in out.items()}


def _usable(entry: dict[str, Any] | None) -> bool:
    """An entry that may take part in a comparison: it has a score and no collapsed run."""
    return bool(entry) and entry.get("mean") is not None and not entry.get("collapsed")


def _learned(entry: dict[str, Any] | None) -> bool:
    """An entry that counts in part I's averages and claims: usable, and every run learned
    (none diverged, collapsed or indistinguishable from the majority baseline)."""
    return _usable(entry) and not entry.get("not_learned") and not entry.get("diverged")


def _task_primary(df: pd.DataFrame, task: str) -> str | None:
    pm = df.loc[df["task"] == task, "primary_metric"].dropna()
    return str(pm.iloc[0]) if len(pm) else None


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
