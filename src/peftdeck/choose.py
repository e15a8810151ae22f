"""Choose a tuned experiment's settings from its grid's held-out scores (the `choose_settings` checkpoint).

    python -m peftdeck.choose --config results/<study>/config.resolved.json --experiment <name>

An experiment with `tuned_on: <grid>` runs each task and method at the learning rate and batch size
whose mean held-out score (over the grid's seeds) is highest. Only the held-out part of the train
split is read here: the dev split of a grid cell plays no part in the choice. The result goes to
`results/<study>/chosen/<name>.json`, which `peftdeck.cells` turns into the experiment's cells.
"""
from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import paths
from .cells import choice_sources, experiment_cells, tuned_on
from .config import ConfigError, load_config
from .findings.grid import choose_grid_point
from .results import load_cell, write_json_atomic

SCHEMA = "peftdeck.chosen/1"


class ChoiceError(RuntimeError):
    """The grid cannot choose a setting for some task and method."""


def _heldout_score(data: dict[str, Any]) -> float | None:
    metric = (data.get("task") or {}).get("primary_metric")
    value = ((data.get("selection") or {}).get("metrics") or {}).get(metric)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def choose(config: dict[str, Any], name: str, root: str | Path = ".") -> dict[str, Any]:
    """{task: {method: chosen setting and every grid point's held-out mean}} for a tuned experiment."""
    exp = config["experiments"][name]
    grid = tuned_on(exp)
    if not grid:
        raise ConfigError(f"experiment {name!r} has no `tuned_on`: nothing to choose")
    root = Path(root)
    scores: dict[tuple[str, str, float, int], list[float]] = {}
    seeds: dict[tuple[str, str, float, int], int] = {}
    missing = []
    source = choice_sources(exp)  # `choose_from: {task: other}` runs `task` at the grid's choice on `other`
    for cell in experiment_cells(config, grid, root):
        if cell.task not in source.values() or cell.method not in exp["methods"]:
            continue
        key = (cell.task, cell.method, cell.lr, cell.batch_size)
        seeds[key] = seeds.get(key, 0) + 1
        full = root / cell.path
        if not full.is_file():
            missing.append(cell.path)
            continue
        score = _heldout_score(load_cell(full, expect=cell.as_dict()))
        if score is not None:
            scores.setdefault(key, []).append(score)
    if missing:
        raise ChoiceError(f"{len(missing)} cells of grid experiment {grid!r} have no result yet:\n  "
                          + "\n  ".join(missing) + "\nRun the grid first (snakemake --cores N deck runs it).")
    settings: dict[str, dict[str, Any]] = {}
    unscored = []
    for task in exp["tasks"]:
        settings[task] = {}
        for method in exp["methods"]:
            keys = [k for k in seeds if k[0] == source[task] and k[1] == method]
            points = [{"lr": k[2], "batch_size": k[3], "n_seeds": seeds[k], "n_scored": len(scores.get(k, [])),
                       "heldout": (sum(scores[k]) / len(scores[k])) if scores.get(k) else None} for k in keys]
            pick = choose_grid_point([p["heldout"] for p in points])
            if pick is None:
                unscored.append(f"{task}/{method}")
                continue
            settings[task][method] = {"lr": points[pick]["lr"], "batch_size": points[pick]["batch_size"],
                                      "heldout": points[pick]["heldout"], "points": points}
            if source[task] != task:
                settings[task][method]["chosen_on"] = source[task]
    if unscored:
        raise ChoiceError(
            f"grid experiment {grid!r} has no finite held-out score for {', '.join(unscored)}: every grid point "
            "failed or diverged. Look at those cells' logs (results/<study>/logs/runs/...), widen the grid's "
            "learning_rates, and run again.")
    return {"schema": SCHEMA, "experiment": name, "grid": grid,
            "holdout": config["experiments"][grid].get("holdout"), "settings": settings}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="the study's resolved config (JSON) or a config YAML")
    ap.add_argument("--experiment", required=True, help="the tuned experiment (it has `tuned_on:`)")
    ap.add_argument("--root", default=".", help="the folder results/ is in")
    ap.add_argument("--out", help="where to write (default results/<study>/chosen/<experiment>.json)")
    args = ap.parse_args(argv)
    try:
        config = load_config(args.config)
        chosen = choose(config, args.experiment, args.root)
    except (ConfigError, ChoiceError) as exc:
        print(f"peftdeck.choose: {exc}", file=sys.stderr)
        return 2
    out = args.out or str(Path(args.root) / paths.chosen_json(config["study"], args.experiment))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, chosen)
    for task, per in chosen["settings"].items():
        for method, s in per.items():
            on = f" on {s['chosen_on']}" if s.get("chosen_on") else ""
            print(f"{task} {method}: lr {s['lr']:g}, batch size {s['batch_size']} (held-out{on} {s['heldout']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
