"""Load and validate a study configuration (its expansion into cells is in `cells.py`, the
resolution of one cell in `resolve.py`; both are re-exported here).

The YAML is checked against `workflow/schemas/config.schema.yaml` (defaults filled in), then against
the things a schema cannot say (an experiment naming a method that is not defined, a method kind
that is not registered). Every error names the key, the value and what is allowed.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

# Expansion into cells and resolution of one cell live in cells.py and resolve.py; their names are
# re-exported here, so `from peftdeck.config import all_cells, resolve_cell` keeps working.
from .cells import (SECTION_KINDS, all_cells, choice_sources, enabled_experiments,  # noqa: F401
                    experiment_cells, method_lrs, sections, slides_kind, task_schedules, tuned_experiments,
                    tuned_on)
from .methods import default_methods
from .resolve import (STATIC_DATA_SOURCES, STATIC_MODEL_SOURCES, data_location, generic_definition,  # noqa: F401
                      model_location, model_name, resolve_cell, static_input_fingerprints)

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# The built-in method instances, declared by the method modules (peftdeck/methods/*.py): one per
# kind plus each kind's extras (the LoRA rank sweep); a config may override any field or add instances.
DEFAULT_METHODS: dict[str, dict[str, Any]] = default_methods()

# The Hub's current ids of repositories once known by a one-part (legacy) name. The datasets client
# rejects one-part ids, so the config check names the id to use instead.
LEGACY_HUB_IDS = {
    "model": {
        "bert-base-uncased": "google-bert/bert-base-uncased",
        "bert-base-cased": "google-bert/bert-base-cased",
        "bert-large-uncased": "google-bert/bert-large-uncased",
        "bert-large-cased": "google-bert/bert-large-cased",
        "bert-base-multilingual-cased": "google-bert/bert-base-multilingual-cased",
        "roberta-base": "FacebookAI/roberta-base",
        "roberta-large": "FacebookAI/roberta-large",
        "distilbert-base-uncased": "distilbert/distilbert-base-uncased",
        "distilroberta-base": "distilbert/distilroberta-base",
        "albert-base-v2": "albert/albert-base-v2",
        "xlm-roberta-base": "FacebookAI/xlm-roberta-base",
    },
    # Datasets of no built-in task; each task declares its own (`Task.legacy_hub_ids`).
    "dataset": {
        "super_glue": "aps/super_glue",
    },
}


def _legacy_hub_id(kind: str, name: str) -> str | None:
    known = dict(LEGACY_HUB_IDS.get(kind, {}))
    if kind == "dataset":
        from .tasks import legacy_hub_ids

        known.update(legacy_hub_ids())
    return known.get(name)


class ConfigError(ValueError):
    """A configuration that cannot be run; the message says which key and how to fix it."""


def check_hub_id(repo_id: str, kind: str, key: str, source: str | None = None) -> None:
    """Raise ConfigError unless `repo_id` is a two-part Hub id (owner/name); `kind` is model or dataset."""
    text = str(repo_id).strip()
    parts = text.split("/")
    if len(parts) == 2 and all(parts):
        return
    where = f"{source}: key {key}" if source else f"key {key}"
    full = _legacy_hub_id(kind, text)
    if full:
        hint = f"use the full id {full!r}"
    else:
        hint = ("use the full id owner/name as the Hub shows it (e.g. "
                + ("'google-bert/bert-base-uncased')" if kind == "model" else "'nyu-mll/glue')"))
    raise ConfigError(f"{where}: Hub {kind} id {text!r} is not of the form owner/name; {hint}")


def _schema() -> dict[str, Any]:
    with open(SCHEMA_PATH) as f:
        return yaml.safe_load(f)


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _allowed(error) -> str:
    schema = error.schema
    bounds = {"exclusiveMinimum": ">", "minimum": ">=", "exclusiveMaximum": "<", "maximum": "<="}
    if error.validator in bounds:
        kind = "an integer" if schema.get("type") == "integer" else "a number"
        return f"{kind} {bounds[error.validator]} {error.validator_value}"
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "const" in schema:
        return repr(schema["const"])
    if error.validator == "additionalProperties":
        props = sorted(error.schema.get("properties", {}))
        return "known keys: " + ", ".join(props) if props else "no extra keys"
    if error.validator == "propertyNames":
        sub = schema["propertyNames"]
        return "names " + (", ".join(sub["enum"]) if "enum" in sub else f"matching {sub.get('pattern')}")
    if error.validator in ("oneOf", "anyOf"):
        return " or ".join(s.get("description", str(s)) if "type" not in s else f"type {s['type']}"
                           for s in schema[error.validator])
    if "type" in schema:
        return f"type {schema['type']}"
    return f"{error.validator} {error.validator_value!r}"


def _fill_defaults(instance: Any, schema: dict[str, Any], root: dict[str, Any]) -> None:
    """Fill `default:` values of the schema into the instance, recursively (objects only)."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    if not isinstance(instance, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(value, extra, root)


def _coerce_cli_values(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`snakemake --config allow_missing=true` passes text; read booleans and numbers as such."""
    out = dict(config)
    for key, value in config.items():
        typ = schema.get("properties", {}).get(key, {}).get("type")
        if isinstance(value, str) and typ == "boolean" and value.lower() in ("true", "false"):
            out[key] = value.lower() == "true"
    # Switching a study on from the command line: --config 'experiments={grid: {enabled: true}}'
    # (merged into the config file's experiments) arrives with the boolean as text.
    if isinstance(out.get("experiments"), dict):
        exps = {}
        for name, exp in out["experiments"].items():
            flag = exp.get("enabled") if isinstance(exp, dict) else None
            if isinstance(flag, str) and flag.lower() in ("true", "false"):
                exp = {**exp, "enabled": flag.lower() == "true"}
            exps[name] = exp
        out["experiments"] = exps
    return out


def validate(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Return a validated copy of `config` with defaults filled in; raise ConfigError otherwise."""
    import jsonschema

    if not isinstance(config, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(config).__name__}")
    schema = _schema()
    config = _coerce_cli_values(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        lines = []
        for e in errors[:10]:
            if e.validator == "additionalProperties":
                known = set(e.schema.get("properties", {}))
                bad = [k for k in e.instance if k not in known]
                where = _key(e.absolute_path)
                lines.append(f"unknown key(s) {', '.join(map(repr, bad))} under {where}; {_allowed(e)}")
            elif e.validator == "required":
                lines.append(f"{_key(e.absolute_path)}: {e.message}")
            else:
                value = e.instance if not isinstance(e.instance, (dict, list)) else "…"
                verb = "must be" if e.validator in ("exclusiveMinimum", "minimum", "exclusiveMaximum", "maximum") else "expected"
                lines.append(f"key {_key(e.absolute_path)}: value {value!r} is not allowed; {verb} {_allowed(e)}")
        raise ConfigError(f"{source} is invalid:\n  - " + "\n  - ".join(lines))
    config = copy.deepcopy(config)
    _fill_defaults(config, schema, schema)

    # Methods: built-in defaults, overridden field by field by the config.
    from .methods import METHOD_KINDS, get_spec

    methods = copy.deepcopy(DEFAULT_METHODS)
    for name, spec in (config.get("methods") or {}).items():
        merged = {**methods.get(name, {"kind": name}), **spec}
        methods[name] = merged
    for name, spec in methods.items():
        if spec["kind"] not in METHOD_KINDS:
            raise ConfigError(
                f"{source}: key methods.{name}.kind: value {spec['kind']!r} is not a registered method kind; "
                f"allowed: {', '.join(sorted(METHOD_KINDS))}"
            )
        kind_spec = get_spec(spec["kind"])
        unknown = sorted(set(spec) - {"kind", "lr", "label"} - kind_spec.allowed_options())
        if unknown:
            allowed = sorted(kind_spec.allowed_options())
            raise ConfigError(
                f"{source}: key methods.{name}: unknown option(s) {', '.join(map(repr, unknown))} for method kind "
                f"{spec['kind']!r}; allowed: {', '.join(allowed) if allowed else 'none'} (and kind, lr, label)"
            )
        spec.setdefault("label", name)
    config["methods"] = methods

    for exp_name, exp in config["experiments"].items():
        for i, method in enumerate(exp["methods"]):
            if method not in methods:
                raise ConfigError(
                    f"{source}: key experiments.{exp_name}.methods[{i}]: value {method!r} is not a defined method; "
                    f"allowed: {', '.join(sorted(methods))} (or define it under `methods:`)"
                )
        for i, task in enumerate(exp["tasks"]):
            if task in config["data"]:
                continue
            if task in builtin_tasks():
                from .tasks import TASKS

                choices = "|".join(s for s in ("hub", "local", "demo") if s in TASKS[task].sources)
                raise ConfigError(
                    f"{source}: key experiments.{exp_name}.tasks[{i}]: task {task!r} has no data source; "
                    f"add `data.{task}: {{source: {choices}, ...}}`"
                )
            raise ConfigError(
                f"{source}: key experiments.{exp_name}.tasks[{i}]: task {task!r} is not built in (expected one of "
                f"{', '.join(builtin_tasks())}) and has no data entry; for a task of your own add "
                f"`data.{task}: {{source: local, path: <folder>, text: <column>, label: <column>}}`"
            )
    _check_sections(config, source)
    for task, src in config["data"].items():
        _check_task_entry(task, src, source)
        if src["source"] == "local" and not src.get("path"):
            raise ConfigError(f"{source}: key data.{task}: source local needs `path:` (the folder with the original files)")
    model = config["model"]
    need = {"hub": "id", "local": "path", "random": "path", "package": "package"}.get(model["source"])
    if need and not model.get(need):
        raise ConfigError(f"{source}: key model: source {model['source']} needs `{need}:`")
    if model["source"] == "hub":
        check_hub_id(model["id"], "model", "model.id", source)
    for task, src in config["data"].items():
        if src["source"] == "hub" and "hub_id" in src:
            check_hub_id(src["hub_id"], "dataset", f"data.{task}.hub_id", source)
    return config


def builtin_tasks() -> tuple[str, ...]:
    """Names of the built-in tasks (any other task name is a task of your own, defined by its data entry)."""
    from .tasks import TASKS

    return tuple(TASKS)


def is_generic_task(config: dict[str, Any], task: str) -> bool:
    """Whether `task` is a task of your own (defined by its columns in `data:`), not a built-in one."""
    from .tasks import is_generic

    return task not in builtin_tasks() and is_generic(config["data"].get(task))


def _check_task_entry(task: str, src: dict[str, Any], source: str) -> None:
    """A built-in task takes no column keys; any other name must define a task of your own by its columns."""
    from .tasks.generic import DEFINITION_KEYS, generic_task

    where = f"{source}: key data.{task}"
    given = [k for k in DEFINITION_KEYS if k in src]
    if task in builtin_tasks():
        if given:
            raise ConfigError(
                f"{where}: {', '.join(given)} define a task of your own, but {task!r} is a built-in task that reads "
                f"its own files; give your task another name (e.g. my_{task})")
        from .tasks import TASKS

        allowed = TASKS[task].sources
        if src["source"] not in allowed:
            why = " (it has no generated demo data)" if src["source"] == "demo" else ""
            raise ConfigError(f"{where}: source {src['source']!r} is not available for task {task!r}{why}; "
                              f"expected one of {', '.join(allowed)}")
        return
    if "text" not in src or "label" not in src:
        missing = " and ".join(f"`{k}:`" for k in ("text", "label") if k not in src)
        raise ConfigError(
            f"{where}: {task!r} is not a built-in task (expected one of {', '.join(builtin_tasks())}); a task of your "
            f"own needs {missing}: the text column(s) and the label column of its files, e.g. "
            f"`data.{task}: {{source: local, path: <folder>, text: sentence, label: label}}`")
    if src["source"] != "local":
        raise ConfigError(f"{where}: a task of your own reads local files; set source: local (got {src['source']!r})")
    try:
        generic_task(task, src)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _check_sections(config: dict[str, Any], source: str) -> None:
    """What the deck sections of the wider study need from their experiments."""
    owner: dict[str, str] = {}
    for name, exp in config["experiments"].items():
        kind = slides_kind(name, exp)
        where = f"{source}: key experiments.{name}"
        lrs = exp.get("learning_rates")
        if isinstance(lrs, dict) and set(lrs) - set(exp["methods"]):
            stray = sorted(set(lrs) - set(exp["methods"]))
            raise ConfigError(f"{where}.learning_rates: {', '.join(stray)} not among this experiment's methods "
                              f"({', '.join(exp['methods'])}); add it to `methods` or remove its rate")
        stray = [t for t in exp.get("task_schedules") or {} if t not in exp["tasks"]]
        if stray:
            raise ConfigError(f"{where}.task_schedules: {', '.join(stray)} not among this experiment's tasks "
                              f"({', '.join(exp['tasks'])}); add the task or remove its schedules")
        if exp.get("tuned_on"):
            _check_tuned(config, name, exp, where)
        if kind == "grid":
            if not exp.get("holdout"):
                raise ConfigError(
                    f"{where}: slides grid needs `holdout: <fraction>` (e.g. 0.1): the grid point is chosen "
                    "on a held-out part of train, and the dev split scores only the chosen point")
            n_scheds = max(len(task_schedules(exp, t)) for t in exp["tasks"])
            if len(exp["train_sizes"]) > 1 or n_scheds > 1:
                raise ConfigError(
                    f"{where}: slides grid sweeps learning_rates x batch_sizes only; give one train size and "
                    f"one schedule (got {len(exp['train_sizes'])} and {n_scheds})")
        if kind == "fractions":
            bad = [s for s in exp["train_sizes"] if not (s == "all" or (isinstance(s, str) and s.endswith("%")))]
            if bad:
                raise ConfigError(
                    f"{where}.train_sizes: value {bad[0]!r} is not allowed with slides fractions; "
                    'expected percentages of the train split such as "10%", or all')
        if kind == "lora_ranks":
            from .methods import method_specs, rank_option

            if not any(rank_option(config["methods"][m]["kind"]) for m in exp["methods"]):
                ranked = [k for k, s in method_specs().items() if s.rank_option]
                examples = [n for n, m in DEFAULT_METHODS.items() if rank_option(m["kind"]) and n not in ranked]
                kinds = " or ".join([", ".join(ranked[:-1]), ranked[-1]] if len(ranked) > 1 else ranked)
                raise ConfigError(f"{where}.methods: slides lora_ranks needs at least one method of kind {kinds} "
                                  f"(a kind with a rank option), e.g. {', '.join(examples)}")
        if kind in SECTION_KINDS and exp.get("enabled", True):
            if kind in owner:
                raise ConfigError(
                    f"{where}: experiments {owner[kind]!r} and {name!r} are both enabled for the {kind} slides; "
                    f"the deck has one {kind} section (set `slides: none` or `enabled: false` on one of them)")
            owner[kind] = name


def _check_tuned(config: dict[str, Any], name: str, exp: dict[str, Any], where: str) -> None:
    """`tuned_on` names an enabled grid experiment (held-out split) that covers this one's tasks and methods."""
    grid_name = exp["tuned_on"]
    grid = config["experiments"].get(grid_name)
    if grid is None or grid_name == name:
        others = [n for n, e in config["experiments"].items() if e.get("holdout") and n != name]
        raise ConfigError(f"{where}.tuned_on: {grid_name!r} is not another experiment of this config"
                          + (f"; experiments with a held-out split: {', '.join(others)}" if others else
                             "; add a grid experiment (slides: grid, holdout: 0.1) to choose the settings on"))
    if not grid.get("holdout"):
        raise ConfigError(f"{where}.tuned_on: experiment {grid_name!r} has no `holdout`, so it has nothing to "
                          "choose on without looking at the dev split; give it `holdout: 0.1`")
    if exp.get("enabled", True) and not grid.get("enabled", True):
        raise ConfigError(f"{where}.tuned_on: experiment {grid_name!r} is switched off (enabled: false), but "
                          f"{name!r} takes its settings from it; enable both or neither")
    if grid.get("tuned_on"):
        raise ConfigError(f"{where}.tuned_on: experiment {grid_name!r} is itself tuned on another; "
                          "a grid must run at the settings it sweeps")
    borrow = exp.get("choose_from") or {}
    for task, source in borrow.items():
        if task not in exp["tasks"]:
            raise ConfigError(f"{where}.choose_from: {task!r} is not among this experiment's tasks "
                              f"({', '.join(exp['tasks'])}); remove it or add the task")
        if source not in grid["tasks"]:
            raise ConfigError(f"{where}.choose_from.{task}: {source!r} is not in the tasks of {grid_name!r}; "
                              f"name a task its grid runs ({', '.join(grid['tasks'])})")
        kinds = {t: _task_kind(config, t) for t in (task, source)}
        if kinds[task] != kinds[source]:
            raise ConfigError(f"{where}.choose_from.{task}: {task} is a {kinds[task]} task and {source} a "
                              f"{kinds[source]} one; a setting can only be taken from a task of the same kind")
    for key in ("tasks", "methods"):
        needed = choice_sources(exp).values() if key == "tasks" else exp[key]
        absent = [x for x in dict.fromkeys(needed) if x not in grid[key]]
        if absent:
            raise ConfigError(f"{where}.{key}: {', '.join(absent)} not in the {key} of {grid_name!r}, which "
                              f"chooses this experiment's settings; add them there or remove them here")
    for key, default in (("learning_rates", None), ("batch_sizes", [16])):
        if exp.get(key) != default:
            raise ConfigError(f"{where}.{key}: a tuned experiment runs at the {key.replace('_', ' ')} its grid "
                              f"{grid_name!r} chose; remove `{key}` here (sweep it in {grid_name!r})")


def _task_kind(config: dict[str, Any], task: str) -> str:
    from .tasks import get_task
    return get_task(task, (config.get("data") or {}).get(task)).kind


def load_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass e.g. --configfile config/demo.yaml")
    with open(path) as f:
        if path.suffix == ".json":
            # YAML 1.1 would read JSON's 5e-05 as a string; resolved configs are JSON, read them as such.
            try:
                raw = json.load(f)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
        else:
            try:
                raw = yaml.safe_load(f)
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    return validate(raw or {}, source=str(path))
