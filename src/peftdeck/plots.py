"""The deck's figures, drawn from summary.json (and cells.csv for individual seeds).

    python -m peftdeck.plots --summary results/demo/tables/summary.json \\
        --cells results/demo/tables/cells.csv --out-dir slides/demo/figures

Every figure is sized for a 16:9 slide (12 x 6 in, fonts 14 pt and up) and gives each method the
same colour everywhere (the summary's `palette`, keyed by method label).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .findings import FIGURES, MEMORY_KINDS  # noqa: E402

FIGSIZE = (12, 6)
FLOP_UNITS = [("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("FLOP", 1.0)]
BYTE_UNITS = [("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10), ("bytes", 1.0)]
DPI = 150
GREY = "#666666"
# One colour per kind of training memory, the same on every figure that stacks them.
MEMORY_COLORS = {"weights": "#7f7f7f", "gradients": "#d62728", "optimizer_state": "#ff7f0e",
                 "activations": "#1f77b4", "other": "#c7c7c7"}
MEMORY_LABELS = {"weights": "weights", "gradients": "gradients", "optimizer_state": "optimizer state",
                 "activations": "activations (saved for backward)", "other": "other (buffers)"}


def _style() -> None:
    sns.set_theme(style="whitegrid", context="talk")
    plt.rcParams.update({
        "font.size": 15, "axes.titlesize": 17, "axes.labelsize": 15, "xtick.labelsize": 14,
        "ytick.labelsize": 14, "legend.fontsize": 13, "figure.dpi": DPI, "savefig.dpi": DPI,
        "axes.titleweight": "bold",
    })


def _color(summary: dict[str, Any], label: str) -> str:
    return summary.get("palette", {}).get(label, GREY)


def _ok(x: Any) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def _save(fig, out_dir: Path, name: str) -> Path:
    path = out_dir / f"{name}.png"
    fig.savefig(path, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


def _demo_mark(fig, summary: dict[str, Any]) -> None:
    if summary.get("meta", {}).get("demo"):
        fig.text(0.995, 0.995, "DEMO — generated data", ha="right", va="top", fontsize=13,
                 color="#c0392b", fontweight="bold")


# --- part I ----------------------------------------------------------------------------------

def parameter_efficiency(summary: dict[str, Any], out_dir: Path) -> Path:
    glue = summary["glue"]
    methods = glue["methods"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=FIGSIZE, gridspec_kw={"width_ratios": [1, 1.1]})
    labels = [m["label"] for m in methods]
    values = [m["trainable_params"] if _ok(m["trainable_params"]) else np.nan for m in methods]
    y = np.arange(len(methods))
    ax1.barh(y, values, color=[_color(summary, lab) for lab in labels])
    ax1.set_yticks(y, labels)
    ax1.invert_yaxis()
    ax1.set_xscale("log")
    ax1.set_xlabel("trainable parameters (log scale)")
    ax1.set_title("Trainable parameters")
    for yi, m in zip(y, methods):
        if _ok(m["trainable_pct"]) and _ok(m["trainable_params"]):
            pct = m["trainable_pct"]
            text = f"{pct:.0f}%" if pct >= 99.95 else (f"{pct:.2g}%" if pct < 10 else f"{pct:.1f}%")
            ax1.text(m["trainable_params"] * 1.15, yi, text, va="center", fontsize=13)
    finite = [v for v in values if _ok(v)]
    if finite:
        ax1.set_xlim(min(finite) / 3, max(finite) * 12)

    use_pct = glue.get("reference") is not None and any(_ok(m.get("gain_share")) for m in methods)
    for m in methods:
        score = m.get("gain_share") if use_pct else m["average"]
        if not (_ok(score) and _ok(m["trainable_pct"])):
            continue
        ax2.scatter(m["trainable_pct"], score, s=220, color=_color(summary, m["label"]), edgecolor="black",
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
    _demo_mark(fig, summary)
    return _save(fig, out_dir, "parameter_efficiency")


def flops(summary: dict[str, Any], out_dir: Path) -> Path:
    glue = summary["glue"]
    methods = glue["methods"]
    labels = [m["label"] for m in methods]
    colors = [_color(summary, lab) for lab in labels]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=FIGSIZE)
    x = np.arange(len(methods))
    ref = glue.get("reference_label") or "reference"
    stacked = any(_ok(v) for m in methods for v in (m.get("memory_breakdown") or {}).values())
    panels = [(ax1, "flops", FLOP_UNITS, "Training compute")]
    if stacked:
        memory_stack(ax2, methods, labels)
    else:  # results without the breakdown: one bar of the recorded peak
        panels.append((ax2, "memory", BYTE_UNITS, "Peak memory"))
    for ax, key, units, title in panels:
        raw = [m[key]["value"] if _ok(m[key]["value"]) else np.nan for m in methods]
        peak = np.nanmax(raw) if np.isfinite(raw).any() else 1.0
        unit, scale = next(((u, f) for u, f in units if peak >= f), units[-1])
        vals = [v / scale for v in raw]
        ax.bar(x, vals, color=colors, edgecolor="black", linewidth=0.6)
        ax.set_xticks(x, labels, rotation=25, ha="right")
        ax.set_ylabel(f"{unit} per run (mean over tasks)")
        ax.set_title(title)
        top = np.nanmax(vals) if np.isfinite(vals).any() else 1.0
        for xi, m, v in zip(x, methods, vals):
            if _ok(m[key]["ratio"]) and np.isfinite(v):
                ax.text(xi, v + top * 0.02, f"{m[key]['ratio']:.2f}×", ha="center", va="bottom", fontsize=13)
        ax.set_ylim(0, top * 1.18)
    kinds = summary.get("meta", {}).get("memory_kind_labels") or []
    if kinds and not stacked:
        ax2.set_title(f"Peak memory ({', '.join(kinds)})", fontsize=14)
    fig.suptitle(f"Ratios relative to {ref}", fontsize=15, y=1.0)
    fig.tight_layout()
    _demo_mark(fig, summary)
    return _save(fig, out_dir, "flops")


def memory_stack(ax, methods: list[dict[str, Any]], labels: list[str]) -> None:
    """Training memory per method, stacked by kind, with each method's peak marked and its ratio."""
    x = np.arange(len(methods))
    parts = {k: np.array([(m.get("memory_breakdown") or {}).get(k) if _ok((m.get("memory_breakdown") or {}).get(k))
                          else 0.0 for m in methods], dtype=float) for k in MEMORY_KINDS}
    totals = sum(parts.values())
    peaks = np.array([m["memory"]["value"] if _ok(m["memory"]["value"]) else np.nan for m in methods], dtype=float)
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
        if _ok(m["memory"]["ratio"]):
            y = np.nanmax([total, peak])
            ax.text(xi, y + top * 0.02, f"{m['memory']['ratio']:.2f}×", ha="center", va="bottom", fontsize=13)
    ax.set_xticks(x, labels, rotation=25, ha="right")
    ax.set_ylabel(f"{unit} per run (mean over tasks)")
    ax.set_title("Training memory by kind")
    ax.set_ylim(0, top * 1.18)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=12)


def glue_results(summary: dict[str, Any], out_dir: Path) -> Path:
    glue = summary["glue"]
    tasks, methods = glue["tasks"], glue["methods"]
    task_labels = [summary["tasks"].get(t, {}).get("label", t) for t in tasks]
    fig, ax = plt.subplots(figsize=FIGSIZE)
    n = len(methods)
    width = 0.8 / max(n, 1)
    lows = [e["mean"] for m in methods for e in m["scores"].values() if e and _ok(e.get("mean"))]
    lows += [glue["task_info"][t]["baseline"].get(glue["task_info"][t]["primary_metric"]) for t in tasks
             if glue["task_info"][t]["primary_metric"]]
    lows = [v for v in lows if _ok(v)]
    lo = max(0.0, math.floor((min(lows) if lows else 0) / 10) * 10 - 10)
    for i, m in enumerate(methods):
        xs = np.arange(len(tasks)) + (i - (n - 1) / 2) * width
        for xi, t in zip(xs, tasks):
            e = m["scores"].get(t) or {}
            mean = e.get("mean")
            if not _ok(mean):
                ax.text(xi, lo + 1, "missing", rotation=90, ha="center", va="bottom", fontsize=12, color=GREY)
                continue
            ax.bar(xi, mean, width=width * 0.95, color=_color(summary, m["label"]), edgecolor="black",
                   linewidth=0.6, hatch="//" if e.get("not_learned") or e.get("collapsed") else None,
                   yerr=e["std"] if _ok(e.get("std")) else None, capsize=4 if _ok(e.get("std")) else 0)
        ax.bar(np.nan, np.nan, color=_color(summary, m["label"]), label=m["label"])
    for j, t in enumerate(tasks):
        info = glue["task_info"][t]
        base = info["baseline"].get(info["primary_metric"]) if info["primary_metric"] else None
        if _ok(base):
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
    _demo_mark(fig, summary)
    return _save(fig, out_dir, "glue_results")


def loss_curves(summary: dict[str, Any], out_dir: Path) -> Path:
    """Training health: the training-loss curve of every part I run, one panel per task."""
    glue = summary["glue"]
    curves = glue.get("loss_curves") or {}
    tasks = glue["tasks"]
    labels = {m["method"]: m["label"] for m in glue["methods"]}
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=FIGSIZE, squeeze=False)
    for ax, t in zip(axes[0], tasks):
        ax.set_title(_task_label(summary, t))
        per = curves.get(t) or {}
        if not per:
            _no_data(ax)
            continue
        for m in glue.get("method_order") or list(per):
            c = per.get(m)
            if not c:
                continue
            pts = [(x, y) for x, y in c["curve"] if _ok(x) and _ok(y)]
            failed = c.get("status") not in (None, "learned")
            ax.plot([x for x, _ in pts], [y for _, y in pts], color=_color(summary, labels.get(m, m)),
                    linestyle="--" if failed else "-", linewidth=2, marker="o", markersize=3,
                    label=labels.get(m, m))
            if c.get("status") == "diverged":
                x, y = pts[-1] if pts else (None, None)
                if x is not None:
                    ax.plot([x], [y], marker="X", markersize=12, color="black", zorder=5)
        ax.set_xlabel("optimizer step")
        values = [y for c in per.values() for _, y in c["curve"] if _ok(y) and y > 0]
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
    _demo_mark(fig, summary)
    return _save(fig, out_dir, "loss_curves")


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
                ax.set_ylabel(f"{_task_label(summary, t)}\n{metric_labels.get(pm, pm or '')}")
            if not pts:
                _no_data(ax, "no method learned")
                continue
            front = entry.get("front") or []
            scale = 1 / 2**20 if cost == "peak_memory_bytes" else 1  # memory drawn in MiB
            pts = {m: {**p, "cost": p["cost"] * scale} for m, p in pts.items()}
            for m, p in pts.items():
                on = m in front
                ax.scatter(p["cost"], p["score"], s=140, zorder=3, linewidth=1.5,
                           color=_color(summary, p["label"]) if on else "white",
                           edgecolor=_color(summary, p["label"]) if not on else "black")
            if len(front) >= 2:
                ax.step([pts[m]["cost"] for m in front], [pts[m]["score"] for m in front], where="post",
                        color=GREY, linewidth=1.2, zorder=2)
            if cost == "trainable_params":  # spans orders of magnitude
                ax.set_xscale("log")
            else:  # memory and time differ by a few times at most: a linear axis from zero reads truer
                ax.set_xlim(0, max(p["cost"] for p in pts.values()) * 1.15)
                ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=4))
            ax.margins(y=0.25) if cost != "trainable_params" else ax.margins(x=0.25, y=0.25)
    handles = [plt.Line2D([], [], marker="o", linestyle="", markersize=10, color=_color(summary, m["label"]),
                          markeredgecolor="black", label=m["label"]) for m in glue["methods"]]
    fig.legend(handles=handles, loc="upper left", ncol=min(len(handles), 5), frameon=False, bbox_to_anchor=(0.0, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    _demo_mark(fig, summary)
    return _save(fig, out_dir, "pareto")


# --- part II ---------------------------------------------------------------------------------

def _curve(rows, method, metric, key="entries"):
    xs, ys, sd = [], [], []
    for r in rows:
        e = r[key].get(method) if key else None
        n = r.get("n_train") if r.get("n_train") is not None else (None if r.get("is_all") else r.get("train_size"))
        if not e or not _ok(n):
            continue
        v = e.get("metrics", {}).get(metric) or {}
        if _ok(v.get("mean")):
            xs.append(float(n))
            ys.append(v["mean"])
            sd.append(v["std"] if _ok(v.get("std")) else np.nan)
    return np.array(xs), np.array(ys), np.array(sd)


def squad_curves(summary: dict[str, Any], out_dir: Path, cells: pd.DataFrame | None = None) -> Path:
    squad = summary["squad"]
    metrics = squad["metrics"][:2]
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=FIGSIZE, squeeze=False)
    epochs = summary.get("squad_epochs")
    for ax, met in zip(axes[0], metrics):
        for m in squad["methods"]:
            color = _color(summary, m["label"])
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
                    if _ok(v.get("mean")) and _ok(r.get("n_train")):
                        ex.append(r["n_train"])
                        ey.append(v["mean"])
                if ex:
                    ax.plot(ex, ey, "--s", color=color, linewidth=2, markersize=6, alpha=0.85,
                            label=f"{m['label']} (fixed epochs)")
        if cells is not None and squad.get("multi_seed") and met in cells.columns:
            sub = cells[(cells["experiment"] == "squad") & cells[met].notna()]
            for lab, g in sub.groupby("method_label"):
                ax.scatter(g["n_train"], g[met], s=14, color=_color(summary, lab), alpha=0.6, zorder=2)
        ax.set_xscale("log")
        ax.set_xlabel("training examples (log scale)")
        ax.set_ylabel(f"{summary['metric_labels'].get(met, met)} (%)")
        ax.set_title(summary.get("metric_names", {}).get(met, met))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    _demo_mark(fig, summary)
    return _save(fig, out_dir, "squad_curves")


# --- the wider study -------------------------------------------------------------------------

def _task_label(summary: dict[str, Any], task: str) -> str:
    return summary.get("tasks", {}).get(task, {}).get("label", task)


def _metric_label(summary: dict[str, Any], metric: str | None) -> str:
    return summary.get("metric_labels", {}).get(metric, metric or "score")


def _no_data(ax, text: str = "no results yet") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=15, color=GREY, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def grid_heatmap(summary: dict[str, Any], out_dir: Path, task: str, name: str) -> Path:
    """Held-out score over learning rate x batch size, one heatmap per method; the chosen point framed."""
    from matplotlib.patches import Rectangle

    grid = summary["grid"]
    per = next((t for t in grid["per_task"] if t["task"] == task), None)
    entries = per["methods"] if per else []
    fig, axes = plt.subplots(1, max(len(entries), 1), figsize=FIGSIZE, squeeze=False)
    values = [p["heldout"]["mean"] for e in entries for p in e["points"] if _ok(p["heldout"]["mean"])]
    vmin, vmax = (min(values), max(values)) if values else (0.0, 1.0)
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    for ax, e in zip(axes[0], entries or [None]):
        if e is None or not e["points"]:
            _no_data(ax)
            continue
        lrs = sorted(e["lrs"], reverse=True)  # the largest learning rate on top
        bss = sorted(e["batch_sizes"])
        mat = pd.DataFrame(np.nan, index=[f"{x:g}" for x in lrs], columns=[str(b) for b in bss])
        for pnt in e["points"]:
            if _ok(pnt["heldout"]["mean"]):
                mat.loc[f"{pnt['lr']:g}", str(pnt["batch_size"])] = pnt["heldout"]["mean"]
        sns.heatmap(mat, ax=ax, annot=True, fmt=".1f", cmap="viridis", vmin=vmin, vmax=vmax, cbar=ax is axes[0][-1],
                    annot_kws={"fontsize": 14}, linewidths=1, linecolor="white",
                    cbar_kws={"label": f"held-out {_metric_label(summary, per['primary_metric'])} (%)"})
        ch = e.get("chosen")
        if ch:
            i, j = lrs.index(ch["lr"]), bss.index(ch["batch_size"])
            ax.add_patch(Rectangle((j, i), 1, 1, fill=False, edgecolor="#e31a1c", linewidth=4, zorder=5))
        ax.set_title(e["label"])
        ax.set_xlabel("batch size")
        ax.set_ylabel("learning rate" if ax is axes[0][0] else "")
        ax.tick_params(axis="y", rotation=0)
    fig.suptitle(f"{_task_label(summary, task)}: held-out score per grid point (framed: chosen)", fontsize=16)
    fig.tight_layout()
    _demo_mark(fig, summary)
    return _save(fig, out_dir, name)


def lora_ranks(summary: dict[str, Any], out_dir: Path, name: str = "lora_ranks") -> Path:
    """Score vs trainable parameters (log x), one panel per task; LoRA ranks joined by a line."""
    ranks = summary["lora_ranks"]
    per_task = ranks["per_task"]
    fig, axes = plt.subplots(1, max(len(per_task), 1), figsize=FIGSIZE, squeeze=False)
    for ax, t in zip(axes[0], per_task or [None]):
        if t is None:
            _no_data(ax)
            continue
        pts = [p for p in t["points"] if _ok(p["trainable_params"]) and _ok((p["entry"] or {}).get("mean"))]
        if pts:
            xs = np.array([p["trainable_params"] for p in pts])
            ys = np.array([p["entry"]["mean"] for p in pts])
            sd = np.array([p["entry"]["std"] if _ok(p["entry"].get("std")) else 0.0 for p in pts])
            ax.plot(xs, ys, "-", color=_color(summary, pts[0]["label"]), linewidth=2, zorder=2)
            for p, x, y, s_ in zip(pts, xs, ys, sd):
                ax.errorbar(x, y, yerr=s_ if s_ else None, fmt="o", markersize=10, capsize=4,
                            color=_color(summary, p["label"]), markeredgecolor="black", zorder=3)
                ax.annotate(f"r={p['r']}", (x, y), textcoords="offset points", xytext=(6, 8), fontsize=13)
        for o in t["others"]:
            e = o["entry"] or {}
            if _ok(o["trainable_params"]) and _ok(e.get("mean")):
                ax.errorbar(o["trainable_params"], e["mean"], yerr=e["std"] if _ok(e.get("std")) else None,
                            fmt="s", markersize=11, capsize=4, color=_color(summary, o["label"]),
                            markeredgecolor="black", zorder=3)
                ax.annotate(o["label"], (o["trainable_params"], e["mean"]), textcoords="offset points",
                            xytext=(-10, 10), ha="right", fontsize=13)
        if not pts and not t["others"]:
            _no_data(ax)
            continue
        ax.set_xscale("log")
        ax.margins(x=0.25, y=0.25)
        ax.set_xlabel("trainable parameters (log scale)")
        ax.set_ylabel(f"{_metric_label(summary, t['primary_metric'])} (%)")
        ax.set_title(_task_label(summary, t["task"]))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    _demo_mark(fig, summary)
    return _save(fig, out_dir, name)


def fractions(summary: dict[str, Any], out_dir: Path, name: str = "fractions") -> Path:
    """Score vs fraction of the training split, one panel per task, one line per method."""
    fr = summary["fractions"]
    per_task = fr["per_task"]
    fig, axes = plt.subplots(1, max(len(per_task), 1), figsize=FIGSIZE, squeeze=False)
    for ax, t in zip(axes[0], per_task or [None]):
        if t is None:
            _no_data(ax)
            continue
        drawn = False
        for m in fr["methods"]:
            xs, ys, sd = [], [], []
            for r in t["rows"]:
                e = r["entries"].get(m["method"]) or {}
                if _ok(r.get("fraction")) and _ok(e.get("mean")):
                    xs.append(r["fraction"])
                    ys.append(e["mean"])
                    sd.append(e["std"] if _ok(e.get("std")) else np.nan)
            if not xs:
                continue
            drawn = True
            color = _color(summary, m["label"])
            xs_, ys_, sd_ = np.array(xs), np.array(ys), np.array(sd)
            ax.plot(xs_, ys_, marker="o", color=color, linewidth=2.5, markersize=8, label=m["label"],
                    linestyle="--" if m["is_reference"] else "-")
            if np.isfinite(sd_).any():
                ax.fill_between(xs_, ys_ - np.nan_to_num(sd_), ys_ + np.nan_to_num(sd_), color=color, alpha=0.18)
        if not drawn:
            _no_data(ax)
            continue
        ticks = [r["fraction"] for r in t["rows"] if _ok(r.get("fraction"))]
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{x:g}%" for x in ticks])
        ax.minorticks_off()
        ax.set_ylabel(f"{_metric_label(summary, t['primary_metric'])} (%)")
        ax.set_title(_task_label(summary, t["task"]))
    fig.supxlabel("share of the training split (log scale)", y=0.1, fontsize=15)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if labels:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.12, 1, 0.95))
    _demo_mark(fig, summary)
    return _save(fig, out_dir, name)


DRAW = {"parameter_efficiency": parameter_efficiency, "flops": flops, "glue_results": glue_results,
        "loss_curves": loss_curves, "pareto": pareto,
        "squad_curves": squad_curves}


def expected_figures(summary: dict[str, Any]) -> list[str]:
    """Names of the figures the summary calls for (what make_all draws)."""
    return [f["name"] for f in summary.get("figures", [])]


def make_all(df: pd.DataFrame | None, summary: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw every figure the summary lists; returns the paths written."""
    _style()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fig in summary.get("figures", []):
        name, section = fig["name"], fig.get("section") or FIGURES.get(fig["name"], (None,))[0]
        if name == "squad_curves":
            written.append(squad_curves(summary, out, df))
        elif name in DRAW:
            written.append(DRAW[name](summary, out))
        elif section == "grid":
            written.append(grid_heatmap(summary, out, fig["task"], name))
        elif section == "lora_ranks":
            written.append(lora_ranks(summary, out, name))
        elif section == "fractions":
            written.append(fractions(summary, out, name))
        else:
            raise ValueError(f"plots: no drawing function for figure {name!r} (section {section!r})")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m peftdeck.plots", description="Draw the deck's figures.")
    ap.add_argument("--summary", required=True, help="summary.json written by peftdeck.aggregate")
    ap.add_argument("--cells", help="cells.csv written by peftdeck.aggregate (individual seeds)")
    ap.add_argument("--out-dir", default="slides/demo/figures")
    args = ap.parse_args(argv)
    summary = json.loads(Path(args.summary).read_text())
    df = pd.read_csv(args.cells) if args.cells and Path(args.cells).is_file() else None
    for path in make_all(df, summary, args.out_dir):
        print(f"plots: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
