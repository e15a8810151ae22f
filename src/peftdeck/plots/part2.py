"""Part II figure: SQuAD scores against the number of training examples."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from ._style import FIGSIZE, demo_mark, is_num, method_color, save


def _curve(rows, method, metric, key="entries"):
    xs, ys, sd = [], [], []
    for r in rows:
        e = r[key].get(method) if key else None
        n = r.get("n_train") if r.get("n_train") is not None else (None if r.get("is_all") else r.get("train_size"))
        if not e or not is_num(n):
            continue
        v = e.get("metrics", {}).get(metric) or {}
        if is_num(v.get("mean")):
            xs.append(float(n))
            ys.append(v["mean"])
            sd.append(v["std"] if is_num(v.get("std")) else np.nan)
    return np.array(xs), np.array(ys), np.array(sd)


def squad_curves(summary: dict[str, Any], out_dir: Path, cells: pd.DataFrame | None = None) -> Path:
    squad = summary["squad"]
    metrics = squad["metrics"][:2]
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=FIGSIZE, squeeze=False)
    epochs = summary.get("squad_epochs")
    for ax, met in zip(axes[0], metrics):
        for m in squad["methods"]:
            color = method_color(summary, m["label"])
            xs, ys, sd = _curve(squad["sizes"], m["method"], met)
            if len(xs):
                ax.plot(xs, ys, "-o", color=color, linewidth=2.5, markersize=7, label=f"{m['label']} (step budget)"
                        if epochs else m["label"])
                if np.isfinite(sd).any():
                    ax.fill_between(xs, ys - np.nan_to_num(sd), ys + np.nan_to_num(sd), color=color, alpha=0.2)
            if epochs:
                ex, ey = [], []
                for r in epochs["rows"]:
                    v = r["schedules"]["epochs"]["methods"].get(m["method"], {}).get(met) or {}
                    if is_num(v.get("mean")) and is_num(r.get("n_train")):
                        ex.append(r["n_train"])
                        ey.append(v["mean"])
                if ex:
                    ax.plot(ex, ey, "--s", color=color, linewidth=2, markersize=6, alpha=0.85,
                            label=f"{m['label']} (fixed epochs)")
        if cells is not None and squad.get("multi_seed") and met in cells.columns:
            # The experiment that feeds Part II (named squad by default, or any with `slides: squad`).
            owner = (summary.get("sections") or {}).get("squad", "squad")
            sub = cells[(cells["experiment"] == owner) & cells[met].notna()]
            for lab, g in sub.groupby("method_label"):
                ax.scatter(g["n_train"], g[met], s=14, color=method_color(summary, lab), alpha=0.6, zorder=2)
        ax.set_xscale("log")
        # Ticks at the sizes trained, written out: log-axis minor labels crowd over a short range.
        sizes = sorted({float(x) for line in ax.get_lines() for x in line.get_xdata() if is_num(x)})
        if sizes:
            ax.xaxis.set_major_locator(mticker.FixedLocator(sizes))
            ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_xlabel("training examples (log scale)")
        ax.set_ylabel(f"{summary['metric_labels'].get(met, met)} (%)")
        ax.set_title(summary.get("metric_names", {}).get(met, met))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    demo_mark(fig, summary)
    return save(fig, out_dir, "squad_curves")
