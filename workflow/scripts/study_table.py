"""One experiment of a finished study as a Markdown table: every method's score next to what it gets for free.

    python workflow/scripts/study_table.py results/cpu/tables/cells.csv [--experiment glue]

Per task and method: the chosen learning rate and batch size, the mean primary score over seeds with
its sample standard deviation and a 95% bootstrap interval of the mean (peftdeck.findings.stats), the
majority-class baseline on the same evaluation split, whether the interval excludes the baseline, the
share of Full FT's gain over the baseline the method keeps, and how many seeds the run-health test
(peftdeck.health) counts as learned, with the largest one-sided p-value of a seed against the
baseline (MRPC is tested on accuracy). docs/results-cpu.md is written from its output.
"""
from __future__ import annotations

import argparse
import math
import sys

import pandas as pd

from peftdeck.findings.stats import bootstrap_mean_ci

REFERENCE_KINDS = ("full_ft",)


def table(df: pd.DataFrame, experiment: str) -> str:
    rows = df[(df["experiment"] == experiment) & (df["status"].notna())]
    if rows.empty:
        raise SystemExit(f"no results for experiment {experiment!r}; experiments here: "
                         f"{', '.join(sorted(df['experiment'].unique()))}")
    out = ["| task | method | lr (batch) | score: mean ± sd | 95% interval | majority | interval above it | "
           "gain kept | seeds learned | largest p vs majority |", "|---|---|---|---|---|---|:---:|---:|---:|---:|"]
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
            out.append(f"| {task} | {m['method_label'].iloc[0]} | {setting} | {metric} {mean:.1f} ± {sd:.1f} | "
                       f"{interval} | {base:.1f} | {above} | {gain_text} | {learned} of {len(scores)} | {p_text} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cells_csv")
    ap.add_argument("--experiment", default="glue")
    args = ap.parse_args(argv)
    print(table(pd.read_csv(args.cells_csv), args.experiment))
    return 0


if __name__ == "__main__":
    sys.exit(main())
