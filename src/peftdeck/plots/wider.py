"""The wider study's figures: grid-search heatmaps, the LoRA rank sweep and the training fractions."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ._style import FIGSIZE, demo_mark, is_num, metric_label, method_color, no_data, save, task_label


def grid_heatmap(summary: dict[str, Any], out_dir: Path, task: str, name: str) -> Path:
    """Held-out score over learning rate x batch size, one heatmap per method; the chosen point framed."""
    from matplotlib.patches import Rectangle

    grid = summary["grid"]
    per = next((t for t in grid["per_task"] if t["task"] == task), None)
    entries = per["methods"] if per else []
    fig, axes = plt.subplots(1, max(len(entries), 1), figsize=FIGSIZE, squeeze=False)
    values = [p["heldout"]["mean"] for e in entries for p in e["points"] if is_num(p["heldout"]["mean"])]
    vmin, vmax = (min(values), max(values)) if values else (0.0, 1.0)
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    for ax, e in zip(axes[0], entries or [None]):
        if e is None or not e["points"]:
            no_data(ax)
            continue
        lrs = sorted(e["lrs"], reverse=True)  # the largest learning rate on top
        bss = sorted(e["batch_sizes"])
        mat = pd.DataFrame(np.nan, index=[f"{x:g}" for x in lrs], columns=[str(b) for b in bss])
        for pnt in e["points"]:
            if is_num(pnt["heldout"]["mean"]):
                mat.loc[f"{pnt['lr']:g}", str(pnt["batch_size"])] = pnt["heldout"]["mean"]
        sns.heatmap(mat, ax=ax, annot=True, fmt=".1f", cmap="viridis", vmin=vmin, vmax=vmax, cbar=ax is axes[0][-1],
                    annot_kws={"fontsize": 14}, linewidths=1, linecolor="white",
                    cbar_kws={"label": f"held-out {metric_label(summary, per['primary_metric'])} (%)"})
        ch = e.get("chosen")
        if ch:
            i, j = lrs.index(ch["lr"]), bss.index(ch["batch_size"])
            ax.add_patch(Rectangle((j, i), 1, 1, fill=False, edgecolor="#e31a1c", linewidth=4, zorder=5))
        ax.set_title(e["label"])
        ax.set_xlabel("batch size")
        ax.set_ylabel("learning rate" if ax is axes[0][0] else "")
        ax.tick_params(axis="y", rotation=0)
    fig.suptitle(f"{task_label(summary, task)}: held-out score per grid point (framed: chosen)", fontsize=16)
    fig.tight_layout()
    demo_mark(fig, summary)
    return save(fig, out_dir, name)


def lora_ranks(summary: dict[str, Any], out_dir: Path, name: str = "lora_ranks") -> Path:
    """Score vs trainable parameters (log x), one panel per task; LoRA ranks joined by a line."""
    ranks = summary["lora_ranks"]
    per_task = ranks["per_task"]
    fig, axes = plt.subplots(1, max(len(per_task), 1), figsize=FIGSIZE, squeeze=False)
    for ax, t in zip(axes[0], per_task or [None]):
        if t is None:
            no_data(ax)
            continue
        pts = [p for p in t["points"] if is_num(p["trainable_params"]) and is_num((p["entry"] or {}).get("mean"))]
        if pts:
            xs = np.array([p["trainable_params"] for p in pts])
            ys = np.array([p["entry"]["mean"] for p in pts])
            sd = np.array([p["entry"]["std"] if is_num(p["entry"].get("std")) else 0.0 for p in pts])
            ax.plot(xs, ys, "-", color=method_color(summary, pts[0]["label"]), linewidth=2, zorder=2)
            for p, x, y, s_ in zip(pts, xs, ys, sd):
                ax.errorbar(x, y, yerr=s_ if s_ else None, fmt="o", markersize=10, capsize=4,
                            color=method_color(summary, p["label"]), markeredgecolor="black", zorder=3)
                ax.annotate(f"r={p['r']}", (x, y), textcoords="offset points", xytext=(6, 8), fontsize=13)
        for o in t["others"]:
            e = o["entry"] or {}
            if is_num(o["trainable_params"]) and is_num(e.get("mean")):
                ax.errorbar(o["trainable_params"], e["mean"], yerr=e["std"] if is_num(e.get("std")) else None,
                            fmt="s", markersize=11, capsize=4, color=method_color(summary, o["label"]),
                            markeredgecolor="black", zorder=3)
                ax.annotate(o["label"], (o["trainable_params"], e["mean"]), textcoords="offset points",
                            xytext=(-10, 10), ha="right", fontsize=13)
        if not pts and not t["others"]:
            no_data(ax)
            continue
        ax.set_xscale("log")
        ax.margins(x=0.25, y=0.25)
        ax.set_xlabel("trainable parameters (log scale)")
        ax.set_ylabel(f"{metric_label(summary, t['primary_metric'])} (%)")
        ax.set_title(task_label(summary, t["task"]))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    demo_mark(fig, summary)
    return save(fig, out_dir, name)


def fractions(summary: dict[str, Any], out_dir: Path, name: str = "fractions") -> Path:
    """Score vs fraction of the training split, one panel per task, one line per method."""
    fr = summary["fractions"]
    per_task = fr["per_task"]
    fig, axes = plt.subplots(1, max(len(per_task), 1), figsize=FIGSIZE, squeeze=False)
    for ax, t in zip(axes[0], per_task or [None]):
        if t is None:
            no_data(ax)
            continue
        drawn = False
        for m in fr["methods"]:
            xs, ys, sd = [], [], []
            for r in t["rows"]:
                e = r["entries"].get(m["method"]) or {}
                if is_num(r.get("fraction")) and is_num(e.get("mean")):
                    xs.append(r["fraction"])
                    ys.append(e["mean"])
                    sd.append(e["std"] if is_num(e.get("std")) else np.nan)
            if not xs:
                continue
            drawn = True
            color = method_color(summary, m["label"])
            xs_, ys_, sd_ = np.array(xs), np.array(ys), np.array(sd)
            ax.plot(xs_, ys_, marker="o", color=color, linewidth=2.5, markersize=8, label=m["label"],
                    linestyle="--" if m["is_reference"] else "-")
            if np.isfinite(sd_).any():
                ax.fill_between(xs_, ys_ - np.nan_to_num(sd_), ys_ + np.nan_to_num(sd_), color=color, alpha=0.18)
        if not drawn:
            no_data(ax)
            continue
        ticks = [r["fraction"] for r in t["rows"] if is_num(r.get("fraction"))]
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{x:g}%" for x in ticks])
        ax.minorticks_off()
        ax.set_ylabel(f"{metric_label(summary, t['primary_metric'])} (%)")
        ax.set_title(task_label(summary, t["task"]))
    fig.supxlabel("share of the training split (log scale)", y=0.1, fontsize=15)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if labels:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.12, 1, 0.95))
    demo_mark(fig, summary)
    return save(fig, out_dir, name)
