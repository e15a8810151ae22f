"""Synthetic but valid cell results for every cell of a config, for tests of the reporting side.

The numbers follow a simple made-up pattern: Full FT best on average, LoRA ahead on SST-2, the
second method of a size sweep ahead below a chosen crossover size and behind above it.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Callable

from peftdeck.config import all_cells, validate
from peftdeck.paths import Cell
from peftdeck.results import SCHEMA, write_json_atomic

TOTAL = 109_483_778
TRAINABLE = {"full_ft": TOTAL, "bitfit": 104_450, "bitfit_subset": 47_618, "lora": 296_450, "prompt_tuning": 16_898}
OFFSET = {"full_ft": 0.0, "lora": -2.5, "bitfit": -3.2, "bitfit_subset": -6.0, "prompt_tuning": -7.5}
BASE = {"sst2": 91.0, "mrpc": 88.0, "rte": 66.0, "cola": 55.0, "stsb": 86.0, "imdb": 90.0}
MAJORITY = {"sst2": 50.9, "mrpc": 81.2, "rte": 52.7, "cola": 0.0, "imdb": 50.0}
TASK_METRICS = {"sst2": ["accuracy"], "mrpc": ["f1", "accuracy"], "rte": ["accuracy"], "cola": ["matthews"],
                "stsb": ["pearson", "spearman"], "imdb": ["accuracy"], "squad": ["exact_match", "f1"]}
N_ALL = {"sst2": 2000, "mrpc": 2000, "rte": 2000, "squad": 2000}

SMALL_CONFIG: dict[str, Any] = {
    "study": "synthetic",
    "title": "Synthetic study",
    "model": {"source": "hub", "id": "bert-base-uncased", "name": "BERT-base-uncased"},
    "data": {"sst2": {"source": "hub"}, "mrpc": {"source": "hub"}, "rte": {"source": "hub"},
             "squad": {"source": "hub"}},
    "experiments": {
        "glue": {"tasks": ["sst2", "mrpc", "rte"],
                 "methods": ["full_ft", "bitfit", "bitfit_subset", "lora", "prompt_tuning"],
                 "train_sizes": ["all"], "schedules": [{"epochs": 3}], "seeds": [42]},
        "squad": {"tasks": ["squad"], "methods": ["full_ft", "bitfit"],
                  "train_sizes": [100, 300, 1000, "all"], "schedules": [{"steps": 150, "epochs": 2}], "seeds": [42]},
        "squad_epochs": {"tasks": ["squad"], "methods": ["full_ft", "bitfit"],
                         "train_sizes": [100, 300, 1000, "all"], "schedules": [{"epochs": 2}], "seeds": [42]},
    },
}


def small_config(demo: bool = False, seeds: list[int] | None = None, **changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(SMALL_CONFIG)
    if demo:
        raw["study"] = "demo"
        raw["model"] = {"source": "demo", "name": "demo BERT"}
        raw["data"] = {t: {"source": "demo"} for t in raw["data"]}
    if seeds:
        for exp in raw["experiments"].values():
            exp["seeds"] = list(seeds)
    for key, value in changes.items():
        raw[key] = value
    return validate(raw)


def default_metrics(config: dict[str, Any], cell: Cell, crossover_n: float = 700.0) -> dict[str, float]:
    kind = config["methods"][cell.method]["kind"]
    noise = ((cell.seed * 7919) % 13 - 6) / 20.0  # -0.3 .. +0.3, fixed per seed
    n = N_ALL.get(cell.task, 2000) if cell.train_size == "all" else int(cell.train_size)
    if cell.task == "squad":
        f1 = 30.0 + 12.0 * math.log10(n / 100.0)
        if kind != "full_ft":
            f1 += 8.0 * (math.log10(crossover_n) - math.log10(n))
            if cell.sched.startswith("ep") and n < 2000:
                f1 -= 12.0  # too few steps under a fixed epoch count
        return {"exact_match": f1 - 10.0 + noise, "f1": f1 + noise}
    score = BASE[cell.task] + OFFSET.get(kind, -4.0) + noise
    if cell.task == "sst2" and kind == "lora":
        score = BASE["sst2"] + 0.4 + noise
    out = {TASK_METRICS[cell.task][0]: score}
    for extra in TASK_METRICS[cell.task][1:]:
        out[extra] = score - 3.0
    return out


def cell_result(config: dict[str, Any], cell: Cell, metrics: dict[str, float] | None = None,
                collapsed: bool = False) -> dict[str, Any]:
    spec = config["methods"][cell.method]
    kind = spec["kind"]
    metrics = metrics if metrics is not None else default_metrics(config, cell)
    n = N_ALL.get(cell.task, 2000) if cell.train_size == "all" else int(cell.train_size)
    qa = cell.task == "squad"
    steps = max(int(cell.sched[2:].split("x")[0]), math.ceil(2 * n / cell.batch_size)) if cell.sched.startswith("st") \
        else math.ceil(float(cell.sched[2:]) * n / cell.batch_size)
    peak = 2.2e9 if kind == "full_ft" else 1.05e9 + 1e7 * len(kind)
    flops = (3.0 if kind == "full_ft" else 2.0) * 1e12 * n
    result = {
        "schema": SCHEMA, "status": "complete",
        "cell": {**cell.as_dict(), "method_kind": kind},
        "task": {"name": cell.task, "kind": "qa" if qa else "classification",
                 "primary_metric": TASK_METRICS[cell.task][0], "metrics": TASK_METRICS[cell.task],
                 "n_train": n, "n_train_features": n, "n_eval": 400},
        "metrics": metrics,
        "params": {"trainable": TRAINABLE.get(kind, 1000), "total": TOTAL},
        "compute": {"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "precision": "bf16",
                    "train_flops": flops, "flops_method": "synthetic", "peak_memory_bytes": peak,
                    "memory_kind": "cuda_max_allocated", "wall_s": 60.0, "startup_s": 2.0, "train_s": 50.0,
                    "eval_s": 8.0, "train_examples_per_s": 100.0, "steps": steps, "epochs": 3.0,
                    "micro_batch_size": cell.batch_size, "grad_accum_steps": 1, "attempt": 1},
        "hparams": {"lr": cell.lr, "batch_size": cell.batch_size},
        "model": {"source": config["model"]["source"], "name_or_path": "x", "fingerprint": "0"},
        "data": {"source": config["data"][cell.task]["source"], "location": "x", "fingerprint": "0"},
        "versions": {"python": "3", "peftdeck": "0.1.0"},
        "created_utc": "2026-01-01T00:00:00Z",
    }
    if not qa:
        pm = TASK_METRICS[cell.task][0]
        result["baseline"] = {"majority_class": 1, **{m: MAJORITY.get(cell.task, 50.0) for m in TASK_METRICS[cell.task]}}
        result["predictions"] = {"class_fractions": {"0": 0.995 if collapsed else 0.5, "1": 0.005 if collapsed else 0.5},
                                 "collapsed": collapsed}
        if collapsed:
            result["metrics"] = {m: MAJORITY.get(cell.task, 50.0) for m in TASK_METRICS[cell.task]}
            result["metrics"][pm] = MAJORITY.get(cell.task, 50.0)
    return result


def write_results(config: dict[str, Any], root: str | Path, skip: Callable[[Cell], bool] = lambda c: False,
                  collapsed: Callable[[Cell], bool] = lambda c: False,
                  metrics: Callable[[Cell], dict[str, float] | None] = lambda c: None) -> list[Cell]:
    """Write a result for every cell of `config` under `root` (except the skipped); returns the cells."""
    written = []
    for cell in all_cells(config):
        if skip(cell):
            continue
        write_json_atomic(Path(root) / cell.path, cell_result(config, cell, metrics(cell), collapsed(cell)))
        written.append(cell)
    return written
