"""Derived numbers (ratios, utilisation, targets) and the benchmark's Markdown report."""
from __future__ import annotations

import math
from typing import Any

TARGETS = {"vs_ref": 2.5, "vs_best": 1.2, "bitfit": 1.3, "fixed_cost_s": 3.0, "metric_points": 1.0}
VARIANT_LABELS = {
    "ours": "ours (peftdeck.run_cell)",
    "trainer_ref": "Trainer, reference-style",
    "trainer_best": "Trainer, at its best",
}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _fmt(x: Any, spec: str = ".1f", missing: str = "n/a") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return missing
    return format(x, spec)


MEMORY_ROWS = (("weights", "weights"), ("gradients", "gradients"), ("optimizer_state", "optimizer state (AdamW)"),
               ("activations", "activations saved for backward"), ("other", "other (buffers)"),
               ("peak", "peak of a step"))


def memory_table(runs: dict[str, dict[str, Any]], labels: dict[str, str] | None = None) -> list[str]:
    """Measured bytes by kind per method (MiB), each next to its analytic count where there is one."""
    ok = {m: r for m, r in runs.items() if r and "error" not in r and r.get("training_memory")}
    lines = [f"{labels.get(m, m) if labels else m}: failed ({r.get('error', 'no measurement')})"
             for m, r in runs.items() if m not in ok]
    if not ok:
        return lines
    names = [labels.get(m, m) if labels else m for m in ok]
    lines.append("| MiB | " + " | ".join(f"{n} measured | {n} analytic" for n in names) + " |")
    lines.append("|---|" + "---:|---:|" * len(ok))
    for key, label in MEMORY_ROWS:
        cells = []
        for r in ok.values():
            got = r["training_memory"].get(key)
            expect = (r.get("analytic") or {}).get(key)
            cells += [_fmt(got / 2**20 if got is not None else None, ".2f"),
                      _fmt(expect / 2**20 if expect is not None else None, ".2f", missing="–")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def render_memory(report: dict[str, Any]) -> str:
    if report.get("skipped"):
        return f"training memory: skipped: {report['skipped']}"
    runs = report["methods"]
    first = next((r for r in runs.values() if "error" not in r), {})
    lines = [f"mode: memory | model: {report['model']} | batch: {report['batch']} | device {first.get('device', '?')} "
             f"({first.get('device_name', '?')}), {first.get('precision', '?')}", ""]
    lines += memory_table(runs, {"full_ft": "Full FT", "bitfit": "BitFit", "lora": "LoRA r=8"})
    lines.append("")
    lines.append("analytic: weights = parameters x 4 bytes; gradients = trainable x 4; AdamW state = 2 x trainable x 4 "
                 "(measured state also holds one 4-byte step counter per trainable tensor)")
    full = runs.get("full_ft", {}).get("training_memory")
    for m, r in runs.items():
        if "error" in r:
            continue
        tm = r["training_memory"]
        extra = (f"; {tm['peak'] / full['peak']:.2f}x Full FT's peak" if full and m != "full_ft" else "")
        gpu = r.get("cuda_max_allocated_step2_bytes")
        gpu_text = f"; CUDA allocator peak of a second step {gpu / 2**20:.1f} MiB" if gpu else ""
        lines.append(f"- {m}: {r['params_trainable']:,} of {r['params_total']:,} parameters trainable; measured step "
                     f"{r['measured_step_s']:.1f} s{extra}{gpu_text}")
    return "\n".join(lines)


def _derive(report: dict[str, Any]) -> None:
    peak = report.get("peak", {}).get("peak_flops")
    v = report["variants"]
    ours = v.get("ours", {})
    for r in list(v.values()) + [report.get("bitfit", {})]:
        if "error" in r or not r:
            continue
        r["flops_per_s"] = r["train_flops"] / r["train_s"] if r.get("train_s") else None
        r["utilisation_pct"] = 100 * r["flops_per_s"] / peak if peak and r.get("flops_per_s") else None
    paired = report.get("paired") or {}
    for name in ("trainer_ref", "trainer_best"):
        r = v.get(name, {})
        r["ours_over_this"] = _ratio(ours.get("examples_per_s"), r.get("examples_per_s"))
        if name == "trainer_best" and paired.get("ours_over_trainer_best"):
            r["ours_over_this"] = paired["ours_over_trainer_best"]["median"]
        if ours.get("metric") is not None and r.get("metric") is not None:
            r["metric_diff_points"] = ours["metric"] - r["metric"]
    b = report.get("bitfit", {})
    report["bitfit_speedup"] = (paired["bitfit_over_ours"]["median"] if paired.get("bitfit_over_ours")
                                else _ratio(b.get("examples_per_s"), ours.get("examples_per_s")))
    if b.get("train_flops") and ours.get("train_flops"):
        report["bitfit_flops_fraction"] = b["train_flops"] / ours["train_flops"]
    fc = report.get("fixed_cost", {}).get("median", {})
    t = TARGETS
    report["targets"] = {
        f"ours >= {t['vs_ref']}x reference-style Trainer": _check(v.get("trainer_ref", {}).get("ours_over_this"), t["vs_ref"]),
        f"ours >= {t['vs_best']}x best Trainer": _check(v.get("trainer_best", {}).get("ours_over_this"), t["vs_best"]),
        f"final metric within {t['metric_points']:g} point of both Trainer runs": _check_metric(v, t["metric_points"]),
        f"BitFit >= {t['bitfit']}x Full FT examples/s": _check(report["bitfit_speedup"], t["bitfit"]),
        f"fixed cost (process start to first step) <= {t['fixed_cost_s']:g} s": _check(
            fc.get("startup_s"), t["fixed_cost_s"], lower_is_better=True),
    }


def _check(value: float | None, target: float, lower_is_better: bool = False) -> str:
    if value is None:
        return "not measured"
    ok = value <= target if lower_is_better else value >= target
    return f"{'met' if ok else 'missed'} ({value:.2f}{' s' if lower_is_better else 'x'})"


def _check_metric(v: dict[str, Any], points: float) -> str:
    diffs = [v[n].get("metric_diff_points") for n in ("trainer_ref", "trainer_best") if v.get(n)]
    if not diffs or any(d is None for d in diffs):
        return "not measured"
    worst = max(abs(d) for d in diffs)
    return f"{'met' if worst <= points else 'missed'} (largest gap {worst:.2f} points)"


def render(report: dict[str, Any]) -> str:
    """The report as Markdown: the side-by-side table, then BitFit, fixed cost, imports, targets."""
    lines = []
    peak = report.get("peak", {})
    ours = report["variants"].get("ours", {})
    lines.append(f"mode: {report['mode']} | model: {report['model']} | data: {report['data']}")
    c = report["cell"]
    lines.append(f"cell: Full FT, lr {c['lr']:g}, batch {c['batch_size']}, {c['epochs']:g} epoch(s), seed {c['seed']}, "
                 f"max_length {c['max_length']}, device {ours.get('device', '?')} ({ours.get('device_name', '?')}), "
                 f"threads {ours.get('threads', '?')}, attention {ours.get('attn_implementation', '?')}")
    if "error" in peak:
        lines.append(f"machine peak: failed ({peak['error']})")
    else:
        lines.append(f"machine peak: {peak['peak_flops'] / 1e9:.1f} GFLOP/s ({peak['dtype']} {peak['n']}x{peak['n']} matmul, "
                     f"{peak['threads']} threads)")
    lines.append("")
    metric = ours.get("metric_name") or "metric"
    reps = report.get("repeats", 1)
    if reps > 1:
        pr = (report.get("paired") or {}).get("ours_over_trainer_best") or {}
        lines.append(f"examples/s: median of {reps} interleaved rounds (ours, best Trainer, BitFit); the reference-style "
                     "Trainer runs once. ours / best Trainer and BitFit / Full FT are medians of the per-round ratios"
                     + (f" (ours / best per round: {', '.join(f'{x:.2f}' for x in pr.get('per_round', []))})" if pr else ""))
    lines.append(f"| variant | examples/s | train s | process wall s | peak RSS MiB | {metric} | ours / this "
                 "| tokens run | GFLOP/s | util % | padding | optimizer | eval in training |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
    for name in ("ours", "trainer_ref", "trainer_best"):
        r = report["variants"].get(name)
        if r is None:
            continue
        label = VARIANT_LABELS.get(name, name)
        if "error" in r:
            lines.append(f"| {label} | failed: {r['error']} | | | | | | | | | | | |")
            continue
        ratio = "1.00" if name == "ours" else _fmt(r.get("ours_over_this"), ".2f")
        lines.append(
            f"| {label} | {_fmt(r.get('examples_per_s'))} | {_fmt(r.get('train_s'))} | {_fmt(r.get('process_wall_s'))} "
            f"| {_fmt(r['peak_rss_bytes'] / 2**20, '.0f')} | {_fmt(r.get('metric'), '.2f')} | {ratio} "
            f"| {_fmt(r.get('train_tokens_padded'), ',')} "
            f"| {_fmt((r.get('flops_per_s') or 0) / 1e9 or None)} | {_fmt(r.get('utilisation_pct'))} "
            f"| {r.get('padding', '')} | {r.get('optimizer', '')} | {'yes' if r.get('eval_in_training') else 'no'} |")
    lines.append("")
    b = report.get("bitfit", {})
    if "error" in b:
        lines.append(f"BitFit vs Full FT: BitFit run failed ({b['error']})")
    elif b:
        lines.append("| ours, same model and data | trainable params | examples/s | train s | counted GFLOP | "
                     f"{metric} | speedup |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for label, r, s in (("Full FT", ours, 1.0), ("BitFit", b, report.get("bitfit_speedup"))):
            lines.append(f"| {label} | {r.get('params_trainable', 0):,} | {_fmt(r.get('examples_per_s'))} | "
                         f"{_fmt(r.get('train_s'))} | {_fmt((r.get('train_flops') or 0) / 1e9 or None)} | "
                         f"{_fmt(r.get('metric'), '.2f')} | {_fmt(s, '.2f')} |")
        if report.get("bitfit_flops_fraction"):
            lines.append(f"BitFit does {100 * report['bitfit_flops_fraction']:.0f}% of Full FT's counted training FLOPs "
                         "(frozen weights get no weight-gradient matmul).")
    lines.append("")
    if report.get("training_memory"):
        lines.append("training memory by kind (first step of each cell, peftdeck.memory; analytic: fp32 weights, "
                     "gradients of trainable parameters, two AdamW moments):")
        lines += memory_table(report["training_memory"], {"full_ft": "Full FT", "bitfit": "BitFit"})
        lines.append("")
    fc = report.get("fixed_cost", {})
    if "error" in fc:
        lines.append(f"fixed cost: failed ({fc['error']})")
    elif fc:
        m = fc["median"]
        lines.append(f"fixed cost (tiny cell via python -m peftdeck.run_cell, median of {len(fc['runs'])}): "
                     f"process start to first training step {m['startup_s']:.2f} s wall, "
                     f"{_fmt(m.get('startup_cpu_s'), '.2f')} s CPU; whole process {m['process_wall_s']:.2f} s wall, "
                     f"{m['process_cpu_s']:.2f} s CPU")
    imports = report.get("imports") or {}
    if imports:
        lines.append("imports in a fresh process: " + "; ".join(
            f"{k} {v['wall_s']:.2f} s wall / {v['cpu_s']:.2f} s CPU" if "wall_s" in v else f"{k}: {v.get('error')}"
            for k, v in imports.items()))
    if report.get("makespan"):
        m = report["makespan"]
        if "error" in m:
            lines.append(f"makespan: failed ({m['error']})")
        else:
            lines.append(f"makespan of {m['cells']} small cells: one after another {m['sequential_s']:.1f} s, "
                         f"all at once {m['concurrent_s']:.1f} s ({_fmt(m.get('speedup'), '.2f')}x)")
    lines.append("")
    lines.append("targets" + (" (quick mode: timings are not meaningful)" if report["mode"] == "quick" else "") + ":")
    for k, val in report["targets"].items():
        lines.append(f"- {k}: {val}")
    return "\n".join(lines)
