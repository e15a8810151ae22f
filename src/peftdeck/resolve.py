"""Resolve one cell of a validated configuration: where its model and data are, and everything its
training job needs, as plain JSON-able data.

The names are re-exported by `peftdeck.config`. `ConfigError` and the task checks live there and are
imported when a function runs, so that this module and `peftdeck.config` import each other without a cycle.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from . import paths
from .paths import Cell


def model_location(config: dict[str, Any]) -> str:
    from .config import ConfigError

    model = config["model"]
    src = model["source"]
    if src == "demo":
        return paths.demo_model_dir(config["study"])
    if src == "hub":
        return paths.hub_model_dir(model["id"])
    if src == "package":
        spec = importlib.util.find_spec(model["package"])
        if spec is None or not spec.origin:
            raise ConfigError(
                f"key model.package: package {model['package']!r} is not installed; "
                f"install it (e.g. pip install {model['package'].replace('_', '-')}) or use source local"
            )
        return str(Path(spec.origin).parent / "model")
    return model["path"]


def model_name(config: dict[str, Any]) -> str:
    model = config["model"]
    if model.get("name"):
        return model["name"]
    return model.get("id") or model.get("package") or Path(model.get("path", "demo-bert")).name or "model"


def data_location(config: dict[str, Any], task: str) -> str:
    src = config["data"][task]
    if src["source"] == "demo":
        return f"{paths.demo_data_dir(config['study'])}/{task}"
    if src["source"] == "hub":
        return paths.hub_data_dir(task)
    return src["path"]


def generic_definition(src: dict[str, Any]) -> dict[str, Any]:
    """The defining keys of a task of your own, with its format resolved (from the file names if not given)."""
    from .tasks.generic import definition_of, format_of

    out = definition_of(src)
    out["format"] = format_of("task", src)
    if isinstance(out.get("text"), str):
        out["text"] = [out["text"]]
    out.setdefault("problem", "classification")
    return out


def resolve_cell(config: dict[str, Any], cell: Cell) -> dict[str, Any]:
    """Everything one training job needs, as plain JSON-able data."""
    from .config import ConfigError, is_generic_task

    if cell.task not in config["data"]:
        raise ConfigError(f"task {cell.task!r} has no data source in the config; known: {', '.join(config['data'])}")
    if cell.method not in config["methods"]:
        raise ConfigError(f"method {cell.method!r} is not defined; known: {', '.join(config['methods'])}")
    method = dict(config["methods"][cell.method])
    src = config["data"][cell.task]
    from .tasks import TASKS

    # What a classification head reads; a question-answering head reads every token, so it has none.
    qa = cell.task in TASKS and TASKS[cell.task].kind == "qa"
    pooling = "cls" if qa else config["model"].get("pooling", "cls")
    return {
        "cell": cell.as_dict(),
        "method": {"name": cell.method, "kind": method.pop("kind"), "label": method.pop("label"),
                   "options": {k: v for k, v in method.items() if k != "lr"}},
        "schedule": paths.parse_sched(cell.sched),
        "model": {"source": config["model"]["source"], "location": model_location(config),
                  "name": model_name(config),
                  # Only where it is not the default, so that cells run before the option existed stay current.
                  **({"pooling": pooling} if pooling != "cls" else {})},
        "data": {"source": src["source"], "location": data_location(config, cell.task),
                 "files": src.get("files"), "eval_size": src.get("eval_size"),
                 # A task of your own travels with its definition: `get_task(name, spec["data"])`.
                 **({"task": generic_definition(src)} if is_generic_task(config, cell.task) else {})},
        "training": dict(config["training"]),
    }


# Inputs that no rule of the workflow writes (a model folder of your own or inside an installed
# package, data files of your own) are read where they are. Their timestamps say nothing about their
# contents: a reinstalled package, a copied or remounted data folder gets new ones. The train rule
# reads them as `ancient` and passes their content fingerprints as a parameter instead, so a finished
# cell reruns when what it read has changed, and only then.
STATIC_MODEL_SOURCES = ("local", "package")
STATIC_DATA_SOURCES = ("local",)

_FINGERPRINTS: dict[tuple, str] = {}


def _cached(key: tuple, compute) -> str:
    if key not in _FINGERPRINTS:
        try:
            _FINGERPRINTS[key] = compute()
        except (OSError, ValueError):  # not there (yet): the cell's own checks say so when it runs
            _FINGERPRINTS[key] = "missing"
    return _FINGERPRINTS[key]


def static_input_fingerprints(spec: dict[str, Any]) -> str:
    """The content fingerprints of a resolved cell's static inputs, as `model=...;data=...` (each part
    only where that input is static), the values the cell records under `model.fingerprint` and
    `data.fingerprint`. Computed once per input and process."""
    from .fingerprint import fingerprint, fingerprint_files
    from .tasks import get_task

    parts = []
    model = spec["model"]
    if model["source"] in STATIC_MODEL_SOURCES:
        parts.append("model=" + _cached(("model", model["location"]), lambda: fingerprint(model["location"])))
    data = spec["data"]
    if data["source"] in STATIC_DATA_SOURCES:
        task = get_task(spec["cell"]["task"], data)
        key = ("data", spec["cell"]["task"], data["location"], json.dumps(data.get("files"), sort_keys=True))
        parts.append("data=" + _cached(key, lambda: fingerprint_files(
            task.data_paths(data["source"], data["location"], data.get("files")))))
    return ";".join(parts)
