"""One experiment of a finished study as a Markdown table: every method's score next to what it gets for free.

    python workflow/scripts/study_table.py results/cpu/tables/cells.csv [--experiment glue]

Per task and method: the chosen learning rate and batch size, the mean primary score over seeds with
its sample standard deviation and a 95% bootstrap interval of the mean (peftdeck.findings.stats), the
majority-class baseline on the same evaluation split, whether the interval excludes the baseline, the
share of Full FT's gain over the baseline the method keeps, and how many seeds the run-health test
(peftdeck.health) counts as learned, with the largest one-sided p-value of a seed against the
baseline (MRPC is tested on accuracy), and the one-sided p-value of the seeds tested together on
the same examples (peftdeck.health.pooled_accuracy_test; read from each cell's JSON, found by the
`path` column under --root; "n/a" where a cell has no per-example record).
docs/results-cpu.md is written from its output.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

from peftdeck import health
from peftdeck.findings.stats import bootstrap_mean_ci

REFERENCE_KINDS = ("full_ft",)


def pooled_p(m: pd.DataFrame, root: Path | None) -> float:
    """The seeds' pooled test against the majority rate, from the cells' per-example records."""
    if root is None or "path" not in m or "baseline_accuracy" not in m or len(m) < 2:
        return math.nan
    correct = []
    for path in m["path"]:
        try:
            data = json.loads((root / str(path)).read_text())
        except (OSError, ValueError):
            return math.nan
        correct.append((data.get("predictions") or {}).get("correct"))
    test = health.pooled_accuracy_test(correct, float(m["baseline_accuracy"].iloc[0]))
    return test["p_value"] if test else math.nan


def table(df: pd.DataFrame, experiment: str, root: Path | None = None) -> str:
    rows = df[(df["experiment"] == experiment) & (df["status"].notna())]
    if rows.empty:
        raise SystemExit(f"no results for experiment {experiment!r}; experiments here: "
                         f"{', '.join(sorted(df['experiment'].unique()))}")
    out = ["| task | method | lr (batch) | score: mean ± sd | 95% interval | majority | interval above it | "
           "gain kept | seeds learned | largest p vs majority | seeds together: p |",
           "|---|---|---|---|---|---|:---:|---:|---:|---:|---:|"]
    for task in dict.fromkeys(rows["task"]):
        t = rows[rows["task"] == task]
        metric = t["primary_metric"].iloc[0]
        base = float(t[f"baseline_{metric}"].iloc[0])
        ref = t[t["method_kind"].isin(REFERENCE_KINDS)]
        ref_mean = float(ref["primary"].mean()) if len(ref) else math.nan
        for method in dict.fromkeys(t["method"]):
            m = t[t["method"] == method]
            scores = [float(x) for x in m["primary"]]
            mean = sum(scores) / len(scores)
            sd = pd.Series(scores).std() if len(scores) > 1 else math.nan
            lo, hi = bootstrap_mean_ci(scores) if len(scores) >= 3 else (math.nan, math.nan)
            gain = 100 * (mean - base) / (ref_mean - base) if ref_mean - base > 0 else math.nan
            learned = int((m["status"] == "learned").sum())
            setting = f"{m['lr'].iloc[0]:g} ({int(m['batch_size'].iloc[0])})"
            interval = f"[{lo:.1f}, {hi:.1f}]" if lo == lo else "n/a"
            above = "yes" if lo == lo and lo > base else "no"
            p = m["baseline_p"].max() if "baseline_p" in m else math.nan
            gain_text = f"{gain:.0f}%" if gain == gain else "n/a"
            p_text = f"{p:.2g}" if p == p else "n/a"
            together = pooled_p(m, root)
            together_text = f"{together:.2g}" if together == together else "n/a"
            out.append(f"| {task} | {m['method_label'].iloc[0]} | {setting} | {metric} {mean:.1f} ± {sd:.1f} | "
                       f"{interval} | {base:.1f} | {above} | {gain_text} | {learned} of {len(scores)} | {p_text} | "
                       f"{together_text} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cells_csv")
    ap.add_argument("--experiment", default="glue")
    ap.add_argument("--root", default=".", help="folder the `path` column is relative to (the study's checkout)")
    args = ap.parse_args(argv)
    print(table(pd.read_csv(args.cells_csv), args.experiment, Path(args.root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
