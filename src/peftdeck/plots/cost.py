"""Part I cost figures: training compute and memory (stacked by kind), and score against each cost."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np

from ..findings import MEMORY_KINDS
from ._style import FIGSIZE, GREY, demo_mark, is_num, method_color, no_data, save, task_label

FLOP_UNITS = [("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("FLOP", 1.0)]
BYTE_UNITS = [("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10), ("bytes", 1.0)]
# One colour per kind of training memory, the same on every figure that stacks them.
MEMORY_COLORS = {"weights": "#7f7f7f", "gradients": "#d62728", "optimizer_state": "#ff7f0e",
                 "activations": "#1f77b4", "other": "#c7c7c7"}
MEMORY_LABELS = {"weights": "weights", "gradients": "gradients", "optimizer_state": "optimizer state",
                 "activations": "activations (saved for backward)", "other": "other (buffers)"}


def flops(summary: dict[str, Any], out_dir: Path) -> Path:
    glue = summary["glue"]
    methods = glue["methods"]
    labels = [m["label"] for m in methods]
    colors = [method_color(summary, lab) for lab in labels]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=FIGSIZE)
    x = np.arange(len(methods))
    ref = glue.get("reference_label") or "reference"
    stacked = any(is_num(v) for m in methods for v in (m.get("memory_breakdown") or {}).values())
    panels = [(ax1, "flops", FLOP_UNITS, "Training compute")]
    if stacked:
        memory_stack(ax2, methods, labels)
    else:  # results without the breakdown: one bar of the recorded peak
        panels.append((ax2, "memory", BYTE_UNITS, "Peak memory"))
    for ax, key, units, title in panels:
        raw = [m[key]["value"] if is_num(m[key]["value"]) else np.nan for m in methods]
        peak = np.nanmax(raw) if np.isfinite(raw).any() else 1.0
        unit, scale = next(((u, f) for u, f in units if peak >= f), units[-1])
        vals = [v / scale for v in raw]
        ax.bar(x, vals, color=colors, edgecolor="black", linewidth=0.6)
        ax.set_xticks(x, labels, rotation=25, ha="right")
        ax.set_ylabel(f"{unit} per run (mean over tasks)")
        ax.set_title(title)
        top = np.nanmax(vals) if np.isfinite(vals).any() else 1.0
        for xi, m, v in zip(x, methods, vals):
            if is_num(m[key]["ratio"]) and np.isfinite(v):
                ax.text(xi, v + top * 0.02, f"{m[key]['ratio']:.2f}×", ha="center", va="bottom", fontsize=13)
        ax.set_ylim(0, top * 1.18)
    kinds = summary.get("meta", {}).get("memory_kind_labels") or []
    if kinds and not stacked:
        ax2.set_title(f"Peak memory ({', '.join(kinds)})", fontsize=14)
    fig.suptitle(f"Ratios relative to {ref}", fontsize=15, y=1.0)
    fig.tight_layout()
    demo_mark(fig, summary)
    return save(fig, out_dir, "flops")


def memory_stack(ax, methods: list[dict[str, Any]], labels: list[str]) -> None:
    """Training memory per method, stacked by kind, with each method's peak marked and its ratio."""
    x = np.arange(len(methods))
    parts = {k: np.array([(m.get("memory_breakdown") or {}).get(k) if is_num((m.get("memory_breakdown") or {}).get(k))
                          else 0.0 for m in methods], dtype=float) for k in MEMORY_KINDS}
    totals = sum(parts.values())
    peaks = np.array([m["memory"]["value"] if is_num(m["memory"]["value"]) else np.nan for m in methods], dtype=float)
    high = float(np.nanmax(np.concatenate([totals, peaks]))) if np.isfinite(np.concatenate([totals, peaks])).any() else 1.0
    unit, scale = next(((u, f) for u, f in BYTE_UNITS if high >= f), BYTE_UNITS[-1])
    bottom = np.zeros(len(methods))
    for k in MEMORY_KINDS:
        if not parts[k].any():
            continue
        ax.bar(x, parts[k] / scale, bottom=bottom, color=MEMORY_COLORS[k], edgecolor="black", linewidth=0.6,
               label=MEMORY_LABELS[k], width=0.7)
        bottom += parts[k] / scale
    ax.hlines(peaks / scale, x - 0.42, x + 0.42, colors="black", linewidth=3, label="peak of a step", zorder=4)
    top = high / scale
    for xi, m, total, peak in zip(x, methods, bottom, peaks / scale):
        if is_num(m["memory"]["ratio"]):
            y = np.nanmax([total, peak])
            ax.text(xi, y + top * 0.02, f"{m['memory']['ratio']:.2f}×", ha="center", va="bottom", fontsize=13)
    ax.set_xticks(x, labels, rotation=25, ha="right")
    ax.set_ylabel(f"{unit} per run (mean over tasks)")
    ax.set_title("Training memory by kind")
    ax.set_ylim(0, top * 1.18)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=12)



def pareto(summary: dict[str, Any], out_dir: Path) -> Path:
    """Score against each cost (trainable parameters, training memory, training time), one row per
    task; the non-dominated methods are filled and joined, the dominated ones hollow."""
    glue = summary["glue"]
    par = glue.get("pareto") or {"costs": {}, "tasks": {}}
    tasks, costs = glue["tasks"], list(par["costs"])
    metric_labels = summary.get("metric_labels", {})
    fig, axes = plt.subplots(max(len(tasks), 1), max(len(costs), 1), figsize=(13, 2.6 * max(len(tasks), 1) + 0.8),
                             squeeze=False)
    for i, t in enumerate(tasks):
        for j, cost in enumerate(costs):
            ax = axes[i][j]
            entry = (par["tasks"].get(t) or {}).get(cost) or {}
            pts = entry.get("points") or {}
            if i == len(tasks) - 1:
                ax.set_xlabel(par["costs"][cost] + (" (s)" if cost == "train_s" else
                                                    " (MiB)" if cost == "peak_memory_bytes" else ""))
            if j == 0:
                pm = glue["task_info"][t]["primary_metric"]
                ax.set_ylabel(f"{task_label(summary, t)}\n{metric_labels.get(pm, pm or '')}")
            if not pts:
                no_data(ax, "no method learned")
                continue
            front = entry.get("front") or []
            scale = 1 / 2**20 if cost == "peak_memory_bytes" else 1  # memory drawn in MiB
            pts = {m: {**p, "cost": p["cost"] * scale} for m, p in pts.items()}
            for m, p in pts.items():
                on = m in front
                ax.scatter(p["cost"], p["score"], s=140, zorder=3, linewidth=1.5,
                           color=method_color(summary, p["label"]) if on else "white",
                           edgecolor=method_color(summary, p["label"]) if not on else "black")
            if len(front) >= 2:
                ax.step([pts[m]["cost"] for m in front], [pts[m]["score"] for m in front], where="post",
                        color=GREY, linewidth=1.2, zorder=2)
            if cost == "trainable_params":  # spans orders of magnitude
                ax.set_xscale("log")
            else:  # memory and time differ by a few times at most: a linear axis from zero reads truer
                ax.set_xlim(0, max(p["cost"] for p in pts.values()) * 1.15)
                ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=4))
            ax.margins(y=0.25) if cost != "trainable_params" else ax.margins(x=0.25, y=0.25)
    handles = [plt.Line2D([], [], marker="o", linestyle="", markersize=10, color=method_color(summary, m["label"]),
                          markeredgecolor="black", label=m["label"]) for m in glue["methods"]]
    fig.legend(handles=handles, loc="upper left", ncol=min(len(handles), 5), frameon=False, bbox_to_anchor=(0.0, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    demo_mark(fig, summary)
    return save(fig, out_dir, "pareto")
