"""Part I figures: trainable parameters against score, the per-task scores, and the loss curves."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ._style import FIGSIZE, GREY, demo_mark, is_num, method_color, no_data, save, task_label


def parameter_efficiency(summary: dict[str, Any], out_dir: Path) -> Path:
    glue = summary["glue"]
    methods = glue["methods"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=FIGSIZE, gridspec_kw={"width_ratios": [1, 1.1]})
    labels = [m["label"] for m in methods]
    values = [m["trainable_params"] if is_num(m["trainable_params"]) else np.nan for m in methods]
    y = np.arange(len(methods))
    ax1.barh(y, values, color=[method_color(summary, lab) for lab in labels])
    ax1.set_yticks(y, labels)
    ax1.invert_yaxis()
    ax1.set_xscale("log")
    ax1.set_xlabel("trainable parameters (log scale)")
    ax1.set_title("Trainable parameters")
    for yi, m in zip(y, methods):
        if is_num(m["trainable_pct"]) and is_num(m["trainable_params"]):
            pct = m["trainable_pct"]
            text = f"{pct:.0f}%" if pct >= 99.95 else (f"{pct:.2g}%" if pct < 10 else f"{pct:.1f}%")
            ax1.text(m["trainable_params"] * 1.15, yi, text, va="center", fontsize=13)
    finite = [v for v in values if is_num(v)]
    if finite:
        ax1.set_xlim(min(finite) / 3, max(finite) * 12)

    use_pct = glue.get("reference") is not None and any(is_num(m.get("gain_share")) for m in methods)
    for m in methods:
        score = m.get("gain_share") if use_pct else m["average"]
        if not (is_num(score) and is_num(m["trainable_pct"])):
            continue
        ax2.scatter(m["trainable_pct"], score, s=220, color=method_color(summary, m["label"]), edgecolor="black",
                    zorder=3, label=m["label"])
        ax2.annotate(m["label"], (m["trainable_pct"], score), textcoords="offset points", xytext=(10, 6),
                     fontsize=13)
    ax2.set_xscale("log")
    ax2.set_xlabel("trainable parameters, % of total (log scale)")
    ref = glue.get("reference_label") or "reference"
    ax2.set_ylabel(f"% of {ref}'s gain over the baseline kept" if use_pct else "mean score over tasks")
    ax2.set_title("Score vs parameters trained")
    ax2.margins(x=0.35, y=0.2)
    fig.tight_layout()
    demo_mark(fig, summary)
    return save(fig, out_dir, "parameter_efficiency")


def glue_results(summary: dict[str, Any], out_dir: Path) -> Path:
    glue = summary["glue"]
    tasks, methods = glue["tasks"], glue["methods"]
    task_labels = [summary["tasks"].get(t, {}).get("label", t) for t in tasks]
    fig, ax = plt.subplots(figsize=FIGSIZE)
    n = len(methods)
    width = 0.8 / max(n, 1)
    lows = [e["mean"] for m in methods for e in m["scores"].values() if e and is_num(e.get("mean"))]
    lows += [glue["task_info"][t]["baseline"].get(glue["task_info"][t]["primary_metric"]) for t in tasks
             if glue["task_info"][t]["primary_metric"]]
    lows = [v for v in lows if is_num(v)]
    lo = max(0.0, math.floor((min(lows) if lows else 0) / 10) * 10 - 10)
    for i, m in enumerate(methods):
        xs = np.arange(len(tasks)) + (i - (n - 1) / 2) * width
        for xi, t in zip(xs, tasks):
            e = m["scores"].get(t) or {}
            mean = e.get("mean")
            if not is_num(mean):
                ax.text(xi, lo + 1, "missing", rotation=90, ha="center", va="bottom", fontsize=12, color=GREY)
                continue
            ax.bar(xi, mean, width=width * 0.95, color=method_color(summary, m["label"]), edgecolor="black",
                   linewidth=0.6, hatch="//" if e.get("not_learned") or e.get("collapsed") else None,
                   yerr=e["std"] if is_num(e.get("std")) else None, capsize=4 if is_num(e.get("std")) else 0)
        ax.bar(np.nan, np.nan, color=method_color(summary, m["label"]), label=m["label"])
    for j, t in enumerate(tasks):
        info = glue["task_info"][t]
        base = info["baseline"].get(info["primary_metric"]) if info["primary_metric"] else None
        if is_num(base):
            ax.hlines(base, j - 0.45, j + 0.45, colors="black", linestyles="--", linewidth=2,
                      label="majority-class baseline" if j == 0 else None, zorder=4)
    metric_labels = summary.get("metric_labels", {})
    ax.set_xticks(np.arange(len(tasks)),
                  [f"{lab}\n({metric_labels.get(glue['task_info'][t]['primary_metric'], '')})"
                   for lab, t in zip(task_labels, tasks)])
    ax.set_ylabel("score (%)")
    ax.set_ylim(lo, 100)
    title = "Primary score per task"
    if glue.get("multi_seed"):
        title += " (mean ± std over seeds)"
    if any(m.get("not_learned_tasks") or m["collapsed_tasks"] for m in methods):
        title += " — hatched: not learned"
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    demo_mark(fig, summary)
    return save(fig, out_dir, "glue_results")


def loss_curves(summary: dict[str, Any], out_dir: Path) -> Path:
    """Training health: the training-loss curve of every part I run, one panel per task."""
    glue = summary["glue"]
    curves = glue.get("loss_curves") or {}
    tasks = glue["tasks"]
    labels = {m["method"]: m["label"] for m in glue["methods"]}
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=FIGSIZE, squeeze=False)
    for ax, t in zip(axes[0], tasks):
        ax.set_title(task_label(summary, t))
        per = curves.get(t) or {}
        if not per:
            no_data(ax)
            continue
        for m in glue.get("method_order") or list(per):
            c = per.get(m)
            if not c:
                continue
            pts = [(x, y) for x, y in c["curve"] if is_num(x) and is_num(y)]
            failed = c.get("status") not in (None, "learned")
            ax.plot([x for x, _ in pts], [y for _, y in pts], color=method_color(summary, labels.get(m, m)),
                    linestyle="--" if failed else "-", linewidth=2, marker="o", markersize=3,
                    label=labels.get(m, m))
            if c.get("status") == "diverged":
                x, y = pts[-1] if pts else (None, None)
                if x is not None:
                    ax.plot([x], [y], marker="X", markersize=12, color="black", zorder=5)
        ax.set_xlabel("optimizer step")
        values = [y for c in per.values() for _, y in c["curve"] if is_num(y) and y > 0]
        if values and max(values) > 20 * min(values):  # a diverged run: only a log scale shows both
            ax.set_yscale("log")
            ax.set_ylabel("training loss (log scale)")
        else:
            ax.set_ylabel("training loss")
    handles, names = [], []
    for ax in axes[0]:
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    if names:
        fig.legend(handles, names, loc="upper left", ncol=min(len(names), 5), frameon=False,
                   bbox_to_anchor=(0.0, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    demo_mark(fig, summary)
    return save(fig, out_dir, "loss_curves")
