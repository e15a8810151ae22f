"""Collect every cell's result into one tidy table, compute the findings, write the tables.

    python -m peftdeck.aggregate --config config/demo.yaml --out-dir results/demo/tables [--allow-missing]

writes `cells.csv` (one row per experiment and cell), `summary.json` (the deck's whole Jinja
context) and Markdown tables. A cell without a result is an error that lists every missing cell
and the command that runs them, unless missing cells are allowed (`--allow-missing` or
`allow_missing: true` in the config); then they are listed in the summary and marked in the deck.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from . import findings, health
from . import methods as methods_registry
from .cells import choice_sources, load_chosen, tuned_on
from .config import SECTION_KINDS, enabled_experiments, experiment_cells, method_lrs, model_name, sections, slides_kind
from .paths import Cell
from .results import inference_columns, load_cell, memory_columns, write_json_atomic
from .tables import markdown_tables  # noqa: F401  (the Markdown tables live in tables.py; re-exported here)
from .tasks import task_description, task_label

METRICS = list(findings.METRICS)
SUMMARY_SCHEMA = "peftdeck.summary/1"

METRIC_LABELS = {"accuracy": "Accuracy", "f1": "F1", "exact_match": "EM", "matthews": "MCC",
                 "pearson": "Pearson", "spearman": "Spearman"}
METRIC_NAMES = {"accuracy": "Accuracy", "f1": "F1 score", "exact_match": "Exact match (EM)",
                "matthews": "Matthews correlation", "pearson": "Pearson correlation",
                "spearman": "Spearman correlation"}
MEMORY_KINDS = {"training_peak": "training memory (weights, gradients, optimizer state, activations saved for "
                                 "backward; peak of a training step)",
                "cuda_max_allocated": "peak CUDA memory allocated", "cpu_peak_rss": "peak resident memory (CPU)"}


class MissingCellsError(RuntimeError):
    """Some cells have no result file; the message lists them and how to run them."""

    def __init__(self, message: str, paths: Sequence[str]):
        super().__init__(message)
        self.paths = list(paths)


def _row(experiment: str, cell: Cell, data: dict[str, Any], config: dict[str, Any], path: str) -> dict[str, Any]:
    task, metrics, compute, params = data["task"], data["metrics"], data["compute"], data["params"]
    baseline = data.get("baseline") or {}
    predictions = data.get("predictions") or {}
    spec = config["methods"].get(cell.method, {})
    trainable, total = params.get("trainable"), params.get("total")
    pm = task.get("primary_metric")
    row: dict[str, Any] = {
        "experiment": experiment, "task": cell.task, "task_kind": task.get("kind"),
        "method": cell.method, "method_label": spec.get("label", cell.method),
        "method_kind": spec.get("kind") or data["cell"].get("method_kind", cell.method),
        "train_size": cell.train_size, "n_train": task.get("n_train"), "n_eval": task.get("n_eval"),
        "schedule": cell.sched, "lr": cell.lr, "batch_size": cell.batch_size, "seed": cell.seed,
    }
    for m in METRICS:
        row[m] = metrics.get(m, math.nan)
    row["primary_metric"] = pm
    row["primary"] = metrics.get(pm, math.nan) if pm else math.nan
    # Scores on the held-out part of train (experiments with `holdout`): what grid points are chosen on.
    selection = (data.get("selection") or {}).get("metrics") or {}
    row["holdout"] = cell.holdout if cell.holdout else math.nan
    for m in METRICS:
        row[f"selection_{m}"] = selection.get(m, math.nan)
    row["selection_primary"] = selection.get(pm, math.nan) if pm else math.nan
    for m in METRICS:
        row[f"baseline_{m}"] = baseline.get(m, math.nan)
    row["collapsed"] = bool(predictions.get("collapsed", False))
    # Which evaluation examples the run got right ("1"/"0" per example): seeds are tested together
    # on them (peftdeck.health.pooled_accuracy_test). Kept out of cells.csv (see write_tables).
    row["correct"] = predictions.get("correct") if isinstance(predictions.get("correct"), str) else None
    # Run health (peftdeck.health): learned / not_learned / collapsed / diverged, with its evidence.
    verdict = health.run_health(data)
    test, loss = verdict["test"] or {}, verdict["loss"]
    row["status"] = verdict["status"]
    row["not_learned"] = verdict["status"] != "learned"
    row["diverged"] = verdict["status"] == "diverged"
    row["baseline_test"] = test.get("test")
    row["baseline_p"] = test.get("p_value", math.nan)
    row["loss_start"] = math.nan if loss["start"] is None else loss["start"]
    row["loss_end"] = math.nan if loss["end"] is None else loss["end"]
    row["loss_trend"] = loss["trend"]
    row["loss_curve"] = json.dumps(compute.get("train_loss_curve") or [])
    row["trainable_params"] = trainable
    row["total_params"] = total
    row["trainable_pct"] = 100.0 * trainable / total if trainable is not None and total else math.nan
    row.update(memory_columns(compute))  # training memory by kind; older cells: their single peak
    storage = data.get("storage") or {}  # what the task needs beyond the shared base model
    for key in ("task_bytes", "base_model_bytes"):
        row[key] = math.nan if storage.get(key) is None else storage[key]
    for key in ("train_flops", "train_s", "wall_s", "train_examples_per_s",
                "device", "device_name", "precision", "steps", "epochs"):
        value = compute.get(key)
        row[key] = math.nan if value is None else value
    row.update(inference_columns(compute))
    row["model_source"] = data["model"].get("source")
    row["data_source"] = data["data"].get("source")
    row["path"] = path
    return row


def run_command(paths: Sequence[str], config_path: str | None = None) -> str:
    # Targets first: --configfile takes several files, so anything after it would be read as one.
    cfg = f" --configfile {config_path}" if config_path else ""
    return "snakemake --cores N " + " ".join(paths) + cfg


def collect(config: dict[str, Any], allow_missing: bool = False, root: str | Path = ".",
            config_path: str | None = None) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Read every cell of every enabled experiment.

    Returns (df, missing): df has one row per (experiment, cell) with a result; `missing` one dict per
    (experiment, cell) without one. Missing cells raise MissingCellsError unless `allow_missing` or
    the config's `allow_missing`. Corrupt or foreign files raise ResultError.
    """
    allow = bool(allow_missing or config.get("allow_missing")
                 or (config.get("training") or {}).get("allow_missing", False))
    root = Path(root)
    rows, missing, cache = [], [], {}
    for name in enabled_experiments(config):
        for cell in experiment_cells(config, name, root):
            rel = cell.path
            spec = config["methods"].get(cell.method, {})
            if rel not in cache:
                full = root / rel
                cache[rel] = load_cell(full, expect=cell.as_dict(), config_path=config_path) if full.is_file() else None
            data = cache[rel]
            if data is None:
                missing.append({"experiment": name, **cell.as_dict(), "method_label": spec.get("label", cell.method),
                                "method_kind": spec.get("kind", cell.method), "path": rel})
                continue
            rows.append(_row(name, cell, data, config, rel))
    columns = list(_row("x", Cell("s", "t", "m", 1, "ep1", 1.0, 1, 1), _EMPTY, {"methods": {}}, "p"))
    df = pd.DataFrame(rows, columns=columns)
    if missing and not allow:
        paths = list(dict.fromkeys(m["path"] for m in missing))
        total = len({c.path for n in enabled_experiments(config) for c in experiment_cells(config, n, root)})
        listing = "\n  ".join(paths)
        raise MissingCellsError(
            f"{len(paths)} of {total} cells have no result yet:\n  {listing}\n"
            f"Run them with:\n  {run_command(paths, config_path)}\n"
            f"or build everything: snakemake --cores N deck{' --configfile ' + config_path if config_path else ''}\n"
            "To build the deck without them, pass --allow-missing (snakemake: --config allow_missing=true).",
            paths,
        )
    return df, missing


_EMPTY = {"task": {}, "metrics": {}, "compute": {}, "params": {}, "model": {}, "data": {}, "cell": {}}


# --- the summary (Jinja context) ------------------------------------------------------------------

def _missing_frame(missing: list[dict[str, Any]], df: pd.DataFrame) -> pd.DataFrame:
    if not missing:
        return df.assign(missing=False)
    miss = pd.DataFrame(missing).rename(columns={"sched": "schedule"})
    # A missing cell's task metadata comes from other cells of the same task, where there are any.
    for col in ("primary_metric", "task_kind"):
        known = df.dropna(subset=[col]).drop_duplicates("task").set_index("task")[col] if len(df) else pd.Series(dtype=object)
        miss[col] = miss["task"].map(known)
    return pd.concat([df.assign(missing=False), miss.assign(missing=True)], ignore_index=True)


def describe_method(spec: dict[str, Any]) -> str:
    """What trains, in one line, as the method's module declares it (peftdeck/methods/)."""
    return methods_registry.describe(spec)


def _tuned_setup(config: dict[str, Any], name: str, root: str | Path = ".") -> dict[str, Any] | None:
    """For a tuned experiment: the settings its grid chose, per method in task order."""
    exp = config["experiments"][name]
    chosen = load_chosen(config, name, root) if tuned_on(exp) else None
    if not chosen:
        return None
    settings = chosen["settings"]
    return {
        "grid": chosen["grid"], "holdout": chosen.get("holdout"),
        "task_labels": [task_label(t) for t in exp["tasks"]],
        "per_method": [{"label": config["methods"][m].get("label", m),
                        "lrs": [settings[t][m]["lr"] for t in exp["tasks"]],
                        "batch_sizes": [settings[t][m]["batch_size"] for t in exp["tasks"]]}
                       for m in exp["methods"]],
        "batch_sizes": sorted({settings[t][m]["batch_size"] for t in exp["tasks"] for m in exp["methods"]}),
        "borrowed": [{"task": task_label(t), "from": task_label(src)}
                     for t, src in choice_sources(exp).items() if src != t],
    }


def _experiment_setup(config: dict[str, Any], name: str, n_done: int, n_missing: int,
                      root: str | Path = ".") -> dict[str, Any]:
    exp = config["experiments"][name]
    return {
        "name": name, "tasks": list(exp["tasks"]),
        "task_labels": [task_label(t) for t in exp["tasks"]],
        "methods": list(exp["methods"]),
        "method_labels": [config["methods"][m].get("label", m) for m in exp["methods"]],
        "learning_rates": [{"label": config["methods"][m].get("label", m),
                            "lrs": method_lrs(config, exp, m)}
                           for m in exp["methods"]],
        "train_sizes": list(exp["train_sizes"]), "schedules": list(exp["schedules"]),
        "task_schedules": [{"task": task_label(t), "schedules": list(v)}
                           for t, v in (exp.get("task_schedules") or {}).items()],
        "batch_sizes": list(exp["batch_sizes"]), "seeds": list(exp["seeds"]),
        "grid_learning_rates": sorted({lr for m in exp["methods"] for lr in method_lrs(config, exp, m)})
        if exp.get("learning_rates") else None,
        "holdout": exp.get("holdout"), "slides": slides_kind(name, exp),
        "n_cells": n_done + n_missing, "n_done": n_done, "n_missing": n_missing,
        "tuned": _tuned_setup(config, name, root),
    }


def build_summary(df: pd.DataFrame, missing: list[dict[str, Any]], config: dict[str, Any],
                  config_path: str | None = None, tolerance: float = findings.TIE_TOLERANCE) -> dict[str, Any]:
    """The deck's complete Jinja context: raw numbers (formatting is the template's job) and findings."""
    full = _missing_frame(missing, df)
    enabled = list(enabled_experiments(config))

    def part(name):
        if name not in enabled:
            return full.iloc[0:0]
        sub = full[full["experiment"] == name]
        exp = config["experiments"][name]
        tpos = {t: i for i, t in enumerate(exp["tasks"])}
        mpos = {m: i for i, m in enumerate(exp["methods"])}
        key = sub["task"].map(tpos).fillna(999) * 1000 + sub["method"].map(mpos).fillna(999)
        return sub.iloc[key.to_numpy().argsort(kind="stable")]

    # Which experiment feeds which deck section (its `slides` key; by default glue/squad/squad_epochs by name).
    owner = sections(config)
    glue = findings.methods_summary(part(owner["glue"])) if "glue" in owner else None
    squad = findings.size_sweep(part(owner["squad"]), tolerance) if "squad" in owner else None
    epochs = findings.schedule_comparison(part(owner["squad"]), part(owner["squad_epochs"])) if (
        "squad" in owner and "squad_epochs" in owner) else None
    grid = findings.grid_selection(part(owner["grid"]), tolerance) if "grid" in owner else None
    ranks = None
    if "lora_ranks" in owner:
        exp = config["experiments"][owner["lora_ranks"]]
        rank_of = _rank_of(config, exp["methods"])
        ranks = findings.rank_sweep(part(owner["lora_ranks"]), rank_of, tolerance)
    fractions = findings.fraction_sweep(part(owner["fractions"]), tolerance) if "fractions" in owner else None
    extra = []
    for name in enabled:
        kind = slides_kind(name, config["experiments"][name])
        if kind in SECTION_KINDS or kind == "none":
            continue
        sub = part(name)
        if sub["train_size"].astype(str).nunique() > 1:
            extra.append({"name": name, "kind": "sizes", "data": findings.size_sweep(sub, tolerance)})
        else:
            extra.append({"name": name, "kind": "methods", "data": findings.methods_summary(sub)})

    methods = {}
    palette = method_palette(config, enabled)
    for name in dict.fromkeys(m for e in enabled for m in config["experiments"][e]["methods"]):
        spec = config["methods"][name]
        methods[name] = {"name": name, "label": spec.get("label", name), "kind": spec["kind"], "lr": spec["lr"],
                         "description": describe_method(spec), "color": palette[spec.get("label", name)],
                         "options": {k: v for k, v in spec.items() if k not in ("kind", "lr", "label")}}
    tasks_used = list(dict.fromkeys(t for e in enabled for t in config["experiments"][e]["tasks"]))
    tasks = {}
    for t in tasks_used:
        rows = df[df["task"] == t]
        metric_list = [m for m in METRICS if m in rows.columns and rows[m].notna().any()]
        pm = rows["primary_metric"].dropna()
        primary = str(pm.iloc[0]) if len(pm) else None
        tasks[t] = {"task": t, "label": task_label(t), "description": task_description(t),
                    "primary_metric": primary,
                    "secondary_metrics": [m for m in metric_list if m != primary],
                    "n_eval": int(rows["n_eval"].dropna().max()) if "n_eval" in rows and rows["n_eval"].notna().any() else None,
                    "eval_subset": bool(config["data"][t].get("eval_size")),
                    "data_source": config["data"][t]["source"]}
    sources = {config["data"][t]["source"] for t in tasks_used}
    demo = "demo" in sources or config["model"]["source"] == "demo"

    def uniq(col):
        return [str(v) for v in dict.fromkeys(df[col].dropna())] if col in df.columns else []

    miss_paths = list(dict.fromkeys(m["path"] for m in missing))
    per_path: dict[str, dict[str, Any]] = {}
    for m in missing:
        entry = per_path.setdefault(m["path"], {**{k: v for k, v in m.items() if k != "experiment"}, "experiments": []})
        entry["experiments"].append(m["experiment"])
    present = {"glue": glue, "squad": squad, "grid": grid, "lora_ranks": ranks, "fractions": fractions}
    figures = [f for f in findings.figure_specs(config) if present.get(f["section"])]
    summary = {
        "schema": SUMMARY_SCHEMA,
        "meta": {
            "title": config.get("title"), "study": config["study"], "config_file": config_path,
            "model_name": model_name(config), "model_source": config["model"]["source"],
            "data_sources": sorted(sources), "demo": demo,
            "devices": uniq("device_name"), "device_kinds": uniq("device"), "precisions": uniq("precision"),
            "memory_kinds": uniq("memory_kind"),
            "memory_kind_labels": [MEMORY_KINDS.get(k, k) for k in uniq("memory_kind")],
            "generated_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "n_cells": len(df["path"].unique()) + len(miss_paths), "n_done": len(df["path"].unique()),
            "n_missing": len(miss_paths),
        },
        "tasks": tasks, "task_order": tasks_used,
        "metric_labels": METRIC_LABELS, "metric_names": METRIC_NAMES,
        "methods": methods, "palette": palette,
        "experiments": {n: _experiment_setup(config, n, int((df["experiment"] == n).sum()),
                                             sum(1 for m in missing if m["experiment"] == n)) for n in enabled},
        "sections": owner,
        "glue": glue, "squad": squad, "squad_epochs": epochs,
        "squad_epochs_configured": any(slides_kind(n, e) == "squad_epochs" for n, e in config["experiments"].items()),
        "grid": grid, "lora_ranks": ranks, "fractions": fractions,
        "extra": extra,
        "conclusions": findings.conclusions(glue, squad, grid, ranks, fractions),
        "figures": figures,
        "missing": {"count": len(miss_paths), "cells": list(per_path.values()),
                    "command": run_command(miss_paths, config_path) if miss_paths else None},
        "tolerance": tolerance,
    }
    return findings.clean(summary)


# Colours per method kind, as each method's module declares them; a second method of the same kind
# gets the next shade.
KIND_COLORS = {kind: list(spec.colors) for kind, spec in methods_registry.method_specs().items()}
EXTRA_COLORS = ["#666666", "#17becf", "#bcbd22", "#8c564b", "#9467bd", "#2ca02c"]


def _rank_of(config: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """{method: rank} for the rank sweep: the methods of the experiment's first kind that has a rank option."""
    kinds = [config["methods"][m]["kind"] for m in names]
    ranked = [k for k in kinds if methods_registry.rank_option(k)]
    if not ranked:
        return {}
    kind = ranked[0]
    option = methods_registry.rank_option(kind)
    default = methods_registry.get_spec(kind).defaults.get(option)
    return {m: config["methods"][m].get(option, default) for m in names if config["methods"][m]["kind"] == kind}


def method_palette(config: dict[str, Any], experiments: Sequence[str]) -> dict[str, str]:
    """One colour per method label, the same in every figure: keyed by kind, shaded within a kind."""
    used: dict[str, int] = {}
    palette: dict[str, str] = {}
    extra = iter(EXTRA_COLORS * 4)
    for name in dict.fromkeys(m for e in experiments for m in config["experiments"][e]["methods"]):
        spec = config["methods"][name]
        label = spec.get("label", name)
        if label in palette:
            continue
        shades = KIND_COLORS.get(spec["kind"])
        i = used.get(spec["kind"], 0)
        palette[label] = shades[i] if shades and i < len(shades) else next(extra)
        used[spec["kind"]] = i + 1
    return palette


# --- writing ---------------------------------------------------------------------------------

def write_tables(df: pd.DataFrame, missing: list[dict[str, Any]], config: dict[str, Any], out_dir: str | Path,
                 config_path: str | None = None) -> dict[str, Any]:
    """Write cells.csv, summary.json and Markdown tables under out_dir; returns the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = build_summary(df, missing, config, config_path=config_path)
    tmp = out / ".cells.csv.tmp"
    # Per-example correctness stays in the cells' own JSON: as a CSV field it is a number to a spreadsheet.
    df.drop(columns=["correct"], errors="ignore").to_csv(tmp, index=False)
    tmp.replace(out / "cells.csv")
    write_json_atomic(out / "summary.json", summary)
    for name, text in markdown_tables(summary).items():
        (out / name).write_text(text)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    from .config import ConfigError, load_config
    from .results import ResultError

    ap = argparse.ArgumentParser(prog="python -m peftdeck.aggregate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="study config YAML (e.g. config/demo.yaml)")
    ap.add_argument("--out-dir", required=True, help="folder for cells.csv, summary.json and the tables")
    ap.add_argument("--allow-missing", action="store_true", help="list missing cells instead of failing")
    ap.add_argument("--config-label", help="config file name to show on the title slide (default: --config)")
    args = ap.parse_args(argv)
    label = args.config_label or args.config
    try:
        config = load_config(args.config)
        df, missing = collect(config, allow_missing=args.allow_missing, config_path=label)
        write_tables(df, missing, config, args.out_dir, config_path=label)
    except (ConfigError, ResultError, MissingCellsError) as exc:
        print(f"aggregate: {exc}", file=sys.stderr)
        return 1
    n = len(df["path"].unique())
    print(f"aggregate: {n} cells read, {len({m['path'] for m in missing})} missing -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
