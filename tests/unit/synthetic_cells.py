"""Synthetic but valid cell results for every cell of a config, for tests of the reporting side.

The numbers follow a simple made-up pattern: Full FT best on average, LoRA ahead on SST-2, the
second method of a size sweep ahead below a chosen crossover size and behind above it. For the
wider study: held-out (selection) scores that peak at a per-method learning rate and at batch size
16, LoRA scores that grow with the rank, and Full FT losing more than BitFit on small fractions of
the training set. Each (method, seed) adds its own small fixed noise, so paired differences between
methods vary from seed to seed.
"""
from __future__ import annotations

import copy
import math
import zlib
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
# Grid studies: the learning rate where each kind's held-out score peaks.
BEST_LR = {"full_ft": 3e-5, "bitfit": 1e-3, "lora": 5e-4}
# Fraction sweeps: points lost per decade of less data.
FRACTION_DROP = {"full_ft": 6.0, "bitfit": 2.0}
# Serving (compute.inference): examples/s at the evaluation batch size and ms at batch 1, as trained;
# LoRA-type methods also merged into the weights, where they serve like Full FT.
SERVING = {"full_ft": (1000.0, 5.0), "lora": (800.0, 6.0), "prompt_tuning": (900.0, 5.5),
           "adapter_houlsby": (950.0, 5.4)}
MERGED = {"lora": (1000.0, 5.0)}

SMALL_CONFIG: dict[str, Any] = {
    "study": "synthetic",
    "title": "Synthetic study",
    "model": {"source": "hub", "id": "google-bert/bert-base-uncased", "name": "BERT-base-uncased"},
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


def n_train(cell: Cell) -> int:
    """Training examples of a cell: its count, all of N_ALL, or a percentage of it."""
    full = N_ALL.get(cell.task, 2000)
    if cell.train_size == "all":
        return full
    if isinstance(cell.train_size, str) and cell.train_size.endswith("%"):
        return max(1, round(float(cell.train_size[:-1]) / 100 * full))
    return int(cell.train_size)


def method_noise(method: str, seed: int) -> float:
    """-0.15 .. +0.15, fixed per (method, seed)."""
    return (zlib.crc32(f"{method}:{seed}".encode()) % 7 - 3) / 20.0


def grid_penalty(kind: str, lr: float, batch_size: int) -> float:
    """Points lost away from the kind's best learning rate and from batch size 16."""
    best = BEST_LR.get(kind, 1e-3)
    return 2.0 * abs(math.log10(lr) - math.log10(best)) + 0.5 * abs(math.log2(batch_size / 16))


def default_metrics(config: dict[str, Any], cell: Cell, crossover_n: float = 700.0) -> dict[str, float]:
    spec = config["methods"][cell.method]
    kind = spec["kind"]
    noise = ((cell.seed * 7919) % 13 - 6) / 20.0  # -0.3 .. +0.3, fixed per seed
    noise += method_noise(cell.method, cell.seed)
    n = n_train(cell)
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
    if kind == "lora":  # rank 8 is the reference point; each doubling of the rank adds half a point
        score += 0.5 * (math.log2(int(spec.get("r", 8))) - 3)
    if isinstance(cell.train_size, str) and cell.train_size.endswith("%"):
        score -= FRACTION_DROP.get(kind, 4.0) * math.log10(100.0 / float(cell.train_size[:-1]))
    if cell.holdout:
        score -= grid_penalty(kind, cell.lr, cell.batch_size)
    out = {TASK_METRICS[cell.task][0]: score}
    for extra in TASK_METRICS[cell.task][1:]:
        out[extra] = score - 3.0
    return out


def default_selection(config: dict[str, Any], cell: Cell) -> dict[str, float] | None:
    """Held-out scores of a grid cell: the dev pattern, one point higher, with its own seed noise."""
    if not cell.holdout:
        return None
    dev = default_metrics(config, cell)
    shift = 1.0 + method_noise(cell.method, cell.seed + 1000) - method_noise(cell.method, cell.seed)
    return {k: v + shift for k, v in dev.items()}


def training_memory(trainable: int, kind: str) -> dict[str, Any]:
    """compute.training_memory as peftdeck.memory measures it: fp32 weights, gradients, AdamW moments."""
    kinds = {"weights": 4 * TOTAL, "gradients": 4 * trainable, "optimizer_state": 8 * trainable,
             "activations": int(6.0e8 if kind == "full_ft" else 5.0e8 + 1e7 * len(kind)), "other": 4096}
    moving = max(kinds["activations"], kinds["gradients"]) + min(kinds["activations"], kinds["gradients"]) // 2
    peak = kinds["weights"] + kinds["other"] + kinds["optimizer_state"] + moving
    return {**kinds, "peak": peak, "method": "synthetic"}


def loss_curve(steps: int, stalled: bool = False) -> list[list[float]]:
    """A training-loss curve in the cells' format: falling from ln 2, or flat where the run collapsed."""
    bins = min(20, steps)
    edges = [round((i + 1) * steps / bins) for i in range(bins)]
    return [[e, 0.693 if stalled else 0.693 * (0.3 + 0.7 * math.exp(-4.0 * e / steps))] for e in edges]


def trainable_params(spec: dict[str, Any]) -> int:
    if spec["kind"] == "lora":  # query and value of 12 layers at rank r, plus the head
        return 12 * 2 * 2 * 768 * int(spec.get("r", 8)) + 1_538
    return TRAINABLE.get(spec["kind"], 1000)


def inference(kind: str, batch_size: int) -> dict[str, Any]:
    """compute.inference as peftdeck.inference records it (kinds not in SERVING serve like Full FT)."""
    throughput, latency = SERVING.get(kind, SERVING["full_ft"])
    merged = None
    if kind in MERGED:
        merged = {"throughput_examples_per_s": MERGED[kind][0], "latency_ms_batch1": MERGED[kind][1],
                  "max_abs_logit_diff": 1e-6}
    return {"batch_size": batch_size, "n_examples": 128, "throughput_examples_per_s": throughput,
            "latency_ms_batch1": latency, "latency_examples": 32, "merged": merged, "seconds": 1.0,
            "method": "synthetic timings"}


def cell_result(config: dict[str, Any], cell: Cell, metrics: dict[str, float] | None = None,
                collapsed: bool = False, selection: dict[str, float] | None = None) -> dict[str, Any]:
    spec = config["methods"][cell.method]
    kind = spec["kind"]
    metrics = metrics if metrics is not None else default_metrics(config, cell)
    selection = selection if selection is not None else default_selection(config, cell)
    n = n_train(cell)
    qa = cell.task == "squad"
    regression = cell.task == "stsb"
    steps = max(int(cell.sched[2:].split("x")[0]), math.ceil(2 * n / cell.batch_size)) if cell.sched.startswith("st") \
        else math.ceil(float(cell.sched[2:]) * n / cell.batch_size)
    memory = training_memory(trainable_params(spec), kind)
    flops = (3.0 if kind == "full_ft" else 2.0) * 1e12 * n
    result = {
        "schema": SCHEMA, "status": "complete",
        "cell": {**cell.as_dict(), "method_kind": kind},
        "task": {"name": cell.task, "kind": "qa" if qa else ("regression" if regression else "classification"),
                 "primary_metric": TASK_METRICS[cell.task][0], "metrics": TASK_METRICS[cell.task],
                 "n_train": n, "n_train_features": n, "n_eval": 400},
        "metrics": metrics,
        "params": {"trainable": trainable_params(spec), "total": TOTAL},
        "compute": {"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "precision": "bf16",
                    "train_flops": flops, "flops_method": "synthetic", "training_memory": memory,
                    "cuda_max_allocated_bytes": int(memory["peak"] * 1.1), "cpu_peak_rss_bytes": 3_000_000_000,
                    "wall_s": 60.0, "startup_s": 2.0, "train_s": 50.0,
                    "eval_s": 8.0, "train_examples_per_s": 100.0, "steps": steps, "epochs": 3.0,
                    "micro_batch_size": cell.batch_size, "grad_accum_steps": 1, "attempt": 1,
                    "train_loss_curve": loss_curve(steps, collapsed), "inference": inference(kind, cell.batch_size)},
        "storage": {"task_bytes": 4 * trainable_params(spec) + 1024, "base_model_bytes": 4 * TOTAL,
                    "format": "safetensors", "saved": None},
        "hparams": {"lr": cell.lr, "batch_size": cell.batch_size},
        "model": {"source": config["model"]["source"], "name_or_path": "x", "fingerprint": "0"},
        "data": {"source": config["data"][cell.task]["source"], "location": "x", "fingerprint": "0"},
        "versions": {"python": "3", "peftdeck": "0.1.0"},
        "created_utc": "2026-01-01T00:00:00Z",
    }
    if selection is not None:
        result["selection"] = {"split": "held-out part of train", "fraction": cell.holdout,
                               "n": round(cell.holdout * N_ALL.get(cell.task, 2000)), "metrics": selection}
    if regression:
        result["baseline"] = {"train_mean": 2.5, **{m: 0.0 for m in TASK_METRICS[cell.task]}}
    elif not qa:
        pm = TASK_METRICS[cell.task][0]
        result["baseline"] = {"majority_class": 1, **{m: MAJORITY.get(cell.task, 50.0) for m in TASK_METRICS[cell.task]}}
        if cell.task == "mrpc":  # always "paraphrase": F1 81.2 but accuracy 68.4, as on the real dev set
            result["baseline"]["accuracy"] = 68.4
        result["predictions"] = {"class_fractions": {"0": 0.995 if collapsed else 0.5, "1": 0.005 if collapsed else 0.5},
                                 "collapsed": collapsed}
        if collapsed:
            result["metrics"] = {m: MAJORITY.get(cell.task, 50.0) for m in TASK_METRICS[cell.task]}
            result["metrics"][pm] = MAJORITY.get(cell.task, 50.0)
    return result


def write_results(config: dict[str, Any], root: str | Path, skip: Callable[[Cell], bool] = lambda c: False,
                  collapsed: Callable[[Cell], bool] = lambda c: False,
                  metrics: Callable[[Cell], dict[str, float] | None] = lambda c: None,
                  selection: Callable[[Cell], dict[str, float] | None] = lambda c: None) -> list[Cell]:
    """Write a result for every cell of `config` under `root` (except the skipped); returns the cells."""
    written = []
    for cell in all_cells(config):
        if skip(cell):
            continue
        write_json_atomic(Path(root) / cell.path,
                          cell_result(config, cell, metrics(cell), collapsed(cell), selection(cell)))
        written.append(cell)
    return written


# --- the wider study ----------------------------------------------------------------------------

STUDIES: dict[str, dict[str, Any]] = {
    "grid": {"slides": "grid", "tasks": ["sst2", "mrpc"], "methods": ["full_ft", "bitfit"],
             "learning_rates": [1e-5, 1e-4, 1e-3], "batch_sizes": [16, 32], "seeds": [1, 2, 3], "holdout": 0.1},
    "ranks": {"slides": "lora_ranks", "tasks": ["sst2", "mrpc"],
              "methods": ["full_ft", "lora_r1", "lora_r4", "lora_r8", "lora_r16"], "seeds": [1, 2, 3]},
    "fractions": {"slides": "fractions", "tasks": ["cola", "stsb", "mrpc"],
                  "methods": ["full_ft", "bitfit", "adapter_houlsby"],
                  "train_sizes": ["10%", "30%", "100%"], "seeds": [1, 2, 3]},
}


def wider_config(*studies: str, core: bool = True, demo: bool = False, **changes: Any) -> dict[str, Any]:
    """SMALL_CONFIG (or nothing but the studies, core=False) plus the named studies of STUDIES."""
    raw = copy.deepcopy(SMALL_CONFIG)
    if not core:
        raw["experiments"] = {}
    for name in studies:
        raw["experiments"][name] = copy.deepcopy(STUDIES[name])
    raw["data"].update({"cola": {"source": "hub"}, "stsb": {"source": "hub"}})
    if demo:
        raw["study"] = "demo"
        raw["model"] = {"source": "demo", "name": "demo BERT"}
        raw["data"] = {t: {"source": "demo"} for t in raw["data"]}
    raw.update(changes)
    return validate(raw)
