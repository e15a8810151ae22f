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


def load_cell(path: str | Path, expect: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load and check one result file; `expect` (a Cell.as_dict()) must match its `cell` block."""
    path = Path(path)
    fix = f"delete it and rerun that cell: snakemake --cores 1 {path}"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultError(f"{path}: result file is missing; run the cell: snakemake --cores 1 {path}") from None
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
    if expect is not None:
        got = data["cell"]
        diff = {k: (got.get(k), v) for k, v in expect.items() if got.get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: file has {a!r}, path means {b!r}" for k, (a, b) in diff.items())
            raise ResultError(f"{path}: belongs to another cell ({detail}); {fix}")
    return data
