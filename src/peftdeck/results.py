"""Reading and writing one cell's result file.

A result is written to a temporary file in the same folder, flushed to disk, then renamed over the
target, so a job killed at any moment leaves either no `metrics.json` or a complete one.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

SCHEMA = "peftdeck.cell/1"
_REQUIRED = {
    "cell": dict,
    "task": dict,
    "metrics": dict,
    "params": dict,
    "compute": dict,
    "hparams": dict,
    "model": dict,
    "data": dict,
    "versions": dict,
}

# compute.training_memory (see peftdeck.memory): bytes by kind on the first step, and their peak.
TRAINING_MEMORY_KEYS = ("weights", "gradients", "optimizer_state", "activations", "other", "peak")

MEMORY_COLUMNS = ("peak_memory_bytes", "memory_kind", *(f"mem_{k}_bytes" for k in TRAINING_MEMORY_KEYS[:-1]),
                  "cuda_max_allocated_bytes", "cpu_peak_rss_bytes")


def memory_columns(compute: dict[str, Any]) -> dict[str, Any]:
    """A cell's memory figures as table columns (NaN where the cell has none).

    `peak_memory_bytes` is the figure the deck compares and `memory_kind` says what it is: the
    training-memory peak (`training_peak`) for cells that measured memory by kind, else the single
    figure older cells recorded (`cuda_max_allocated` or `cpu_peak_rss`). `mem_<kind>_bytes`: the
    breakdown; `cuda_max_allocated_bytes`, `cpu_peak_rss_bytes`: the allocator's and the process's peaks.
    """
    nan = math.nan
    memory = compute.get("training_memory") or {}
    legacy_kind = compute.get("memory_kind")
    legacy = compute.get("peak_memory_bytes")
    out: dict[str, Any] = {f"mem_{k}_bytes": memory.get(k, nan) for k in TRAINING_MEMORY_KEYS[:-1]}
    if memory:
        out["peak_memory_bytes"], out["memory_kind"] = memory["peak"], "training_peak"
    else:
        out["peak_memory_bytes"] = nan if legacy is None else legacy
        out["memory_kind"] = legacy_kind if legacy_kind else nan
    cuda = compute.get("cuda_max_allocated_bytes", legacy if legacy_kind == "cuda_max_allocated" else None)
    rss = compute.get("cpu_peak_rss_bytes", legacy if legacy_kind == "cpu_peak_rss" else None)
    out["cuda_max_allocated_bytes"] = nan if cuda is None else cuda
    out["cpu_peak_rss_bytes"] = nan if rss is None else rss
    return {k: out[k] for k in MEMORY_COLUMNS}


INFERENCE_COLUMNS = {  # column: (figure of compute.inference, of its `merged` block)
    "infer_throughput": ("throughput_examples_per_s", False),
    "infer_latency_ms": ("latency_ms_batch1", False),
    "infer_throughput_merged": ("throughput_examples_per_s", True),
    "infer_latency_ms_merged": ("latency_ms_batch1", True),
    "infer_method": ("method", False),  # how it was measured, in words (the deck's note)
}


def inference_columns(compute: dict[str, Any]) -> dict[str, Any]:
    """A cell's serving cost (peftdeck.inference) as table columns: examples/s at the evaluation batch
    size and milliseconds per example at batch 1, as trained and (LoRA-type methods) merged.

    NaN where the cell has no such figure: cells written before serving was measured, cells with
    `training.measure_inference: false`, and the merged columns of methods that do not merge.
    """
    inference = compute.get("inference") or {}
    merged = inference.get("merged") or {}
    out = {}
    for column, (key, of_merged) in INFERENCE_COLUMNS.items():
        value = (merged if of_merged else inference).get(key)
        out[column] = math.nan if value is None else value
    return out


class ResultError(ValueError):
    """A result file that cannot be used; the message names the file, the cell and the fix."""


def write_json_atomic(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False, allow_nan=False, default=_jsonable)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def load_cell(path: str | Path, expect: dict[str, Any] | None = None,
              config_path: str | None = None) -> dict[str, Any]:
    """Load and check one result file; `expect` (a Cell.as_dict()) must match its `cell` block.
    `config_path` (the study's config file) goes into the rerun command the messages print."""
    path = Path(path)
    cfg = f" --configfile {config_path}" if config_path else ""
    fix = f"delete it and rerun that cell: snakemake --cores 1 {path}{cfg}"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultError(f"{path}: result file is missing; run the cell: snakemake --cores 1 {path}{cfg}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); the file is corrupt, {fix}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ResultError(f"{path}: not a peftdeck cell result (schema {found!r}, expected {SCHEMA!r}); {fix}")
    if data.get("status") != "complete":
        raise ResultError(f"{path}: result status is {data.get('status')!r}, not 'complete'; {fix}")
    for key, typ in _REQUIRED.items():
        if not isinstance(data.get(key), typ):
            raise ResultError(f"{path}: field {key!r} is missing or not a {typ.__name__}; {fix}")
    for name in data["task"].get("metrics", []):
        value = data["metrics"].get(name)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ResultError(f"{path}: metric {name!r} is missing or not a finite number ({value!r}); {fix}")
    memory = data["compute"].get("training_memory")
    if memory is not None:  # absent in cells written before memory was measured by kind
        bad = [k for k in TRAINING_MEMORY_KEYS
               if not isinstance(memory, dict) or not isinstance(memory.get(k), (int, float)) or memory[k] < 0]
        if bad:
            raise ResultError(f"{path}: compute.training_memory lacks a byte count for {', '.join(bad)}; {fix}")
    inference = data["compute"].get("inference")
    if inference is not None and not isinstance(inference, dict):  # absent in older cells, null when switched off
        raise ResultError(f"{path}: compute.inference is a {type(inference).__name__}, not a mapping or null; {fix}")
    if expect is not None:
        got = data["cell"]
        diff = {k: (got.get(k), v) for k, v in expect.items() if got.get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: file has {a!r}, path means {b!r}" for k, (a, b) in diff.items())
            raise ResultError(f"{path}: belongs to another cell ({detail}); {fix}")
    return data
