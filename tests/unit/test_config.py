"""Configs are validated at parse time with errors that name the key, the value and the fix."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from peftdeck import paths
from peftdeck.config import ConfigError, all_cells, experiment_cells, load_config, resolve_cell, validate

REPO = Path(__file__).resolve().parents[2]


def demo() -> dict:
    return yaml.safe_load((REPO / "config/demo.yaml").read_text())


def test_reference_config_lists_every_cell_of_the_reference_deck():
    cfg = load_config(REPO / "config/config.yaml")
    assert len(experiment_cells(cfg, "glue")) == 15
    assert len(experiment_cells(cfg, "squad")) == 20
    assert len(all_cells(cfg)) == 35  # the epochs-schedule comparison is off by default
    sizes = [c.train_size for c in experiment_cells(cfg, "squad") if c.method == "bitfit_qa"]
    assert sizes == [500, 1000, 2000, 3000, 5000, 7000, 10000, 15000, 20000, "all"]


def test_defaults_are_filled():
    cfg = validate({"study": "x", "model": {"source": "demo"}, "data": {"sst2": {"source": "demo"}},
                    "experiments": {"g": {"tasks": ["sst2"], "methods": ["bitfit"]}}})
    exp = cfg["experiments"]["g"]
    assert exp["seeds"] == [42] and exp["train_sizes"] == ["all"] and exp["batch_sizes"] == [16]
    assert cfg["training"]["max_length"] == 128 and cfg["allow_missing"] is False
    assert cfg["methods"]["lora"]["r"] == 8  # built-in method defaults


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c.update(studdy="x"), r"unknown key\(s\) 'studdy'"),
        (lambda c: c["experiments"]["glue"].update(tasks=["sst3"]), r"experiments\.glue\.tasks\[0\].*'sst3'.*sst2"),
        (lambda c: c["experiments"]["glue"].update(methods=["lorra"]), r"experiments\.glue\.methods\[0\].*'lorra'.*full_ft"),
        (lambda c: c["experiments"]["glue"].update(train_sizes=[0]), r"train_sizes\[0\].*0"),
        (lambda c: c["model"].update(source="ftp"), r"model\.source.*'ftp'.*hub, local"),
        (lambda c: c["methods"].update(lora={"lr": -1}), r"methods\.lora\.lr.*-1"),
        (lambda c: c["methods"].update(mine={"kind": "magic", "lr": 1e-3}), r"methods\.mine\.kind.*'magic'.*bitfit"),
        (lambda c: c["data"].update(sst2={"source": "local"}), r"data\.sst2.*needs `path:`"),
        (lambda c: c["training"].update(precision="fp8"), r"training\.precision.*'fp8'.*bf16"),
    ],
)
def test_bad_values_are_named(mutate, expected):
    cfg = demo()
    mutate(cfg)
    with pytest.raises(ConfigError, match=expected):
        validate(cfg, source="demo.yaml")


def test_cli_booleans_are_read():
    cfg = demo()
    cfg["allow_missing"] = "true"
    assert validate(cfg)["allow_missing"] is True


def test_cell_paths_round_trip():
    cfg = load_config(REPO / "config/demo.yaml")
    for cell in all_cells(cfg):
        assert paths.parse_cell_path(cell.path) == cell
        spec = resolve_cell(cfg, cell)
        assert spec["cell"]["lr"] == cell.lr and spec["schedule"] == paths.parse_sched(cell.sched)
    with pytest.raises(ValueError, match="not a cell address"):
        paths.parse_cell_path("results/demo/runs/sst2/bitfit/metrics.json")


def test_learning_rate_grid_expands_cells():
    cfg = demo()
    cfg["experiments"]["glue"]["learning_rates"] = [1e-4, 1e-3]
    cfg["experiments"]["glue"]["seeds"] = [1, 2]
    cells = experiment_cells(validate(cfg), "glue")
    assert len(cells) == 3 * 5 * 2 * 2
    assert len({c.path for c in cells}) == len(cells)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("config/nope.yaml")


def test_resolved_config_round_trips_through_json(tmp_path):
    """The aggregate rule reads the resolved config back from JSON; 5e-05 must stay a number."""
    import json

    cfg = demo()
    cfg["methods"]["full_ft"]["lr"] = 5e-05
    resolved = validate(cfg)
    path = tmp_path / "config.resolved.json"
    path.write_text(json.dumps(resolved))
    again = load_config(path)
    assert again["methods"]["full_ft"]["lr"] == 5e-05
    assert all_cells(again) == all_cells(resolved)


def test_learning_rates_per_method_mapping():
    from peftdeck.config import ConfigError, experiment_cells, validate

    raw = {"study": "t", "model": {"source": "random", "path": "m"},
           "data": {"sst2": {"source": "demo"}},
           "methods": {"full_ft": {"lr": 1e-4}, "bitfit": {"lr": 5e-3}},
           "experiments": {"glue": {"tasks": ["sst2"], "methods": ["full_ft", "bitfit"],
                                    "learning_rates": {"bitfit": 3e-2}}}}
    config = validate(raw)
    lrs = {(c.method, c.lr) for c in experiment_cells(config, "glue")}
    assert lrs == {("full_ft", 1e-4), ("bitfit", 3e-2)}
    raw["experiments"]["glue"]["learning_rates"] = {"bitfit": [1e-3, 1e-2]}
    assert sorted(c.lr for c in experiment_cells(validate(raw), "glue") if c.method == "bitfit") == [1e-3, 1e-2]
    raw["experiments"]["glue"]["learning_rates"] = {"lora": 1e-3}
    with pytest.raises(ConfigError, match="lora not among this experiment's methods"):
        validate(raw)


def test_a_step_budget_that_cannot_bind_shares_the_epoch_cell():
    """max(60, ceil(2 * 800 / 16) = 100) = 100 steps: the step-budget run at 800 is the 2-epoch run."""
    import copy

    from synthetic_cells import SMALL_CONFIG

    from peftdeck.cells import effective_schedule

    raw = copy.deepcopy(SMALL_CONFIG)
    for name in ("squad", "squad_epochs"):
        raw["experiments"][name]["train_sizes"] = [100, 480, 800]
        raw["experiments"][name]["batch_sizes"] = [16]
    raw["experiments"]["squad"]["schedules"] = [{"steps": 60, "epochs": 2}]
    cfg = validate(raw)
    steps = {(c.train_size, c.sched) for c in experiment_cells(cfg, "squad") if c.method == "full_ft"}
    # 100: 13 epoch steps < 60, the budget binds; 480: exactly 60; 800: 100 > 60.
    assert steps == {(100, "st60x2"), (480, "ep2"), (800, "ep2")}
    squad_paths = {c.path for c in experiment_cells(cfg, "squad")}
    epoch_paths = {c.path for c in experiment_cells(cfg, "squad_epochs")}
    assert len(squad_paths & epoch_paths) == 2 * 2  # 480 and 800, both methods
    assert len(all_cells(cfg)) == 15 + 6 + 6 - 4
    # Without a plain-epoch experiment the schedule keeps its own address; `all` is never resolved here.
    del raw["experiments"]["squad_epochs"]
    alone = validate(raw)
    assert {c.sched for c in experiment_cells(alone, "squad")} == {"st60x2"}
    assert effective_schedule(cfg, {"steps": 60, "epochs": 2}, "all", 16) == {"steps": 60, "epochs": 2}


def test_the_demo_wider_study_asks_for_no_more_examples_than_its_generated_tasks_hold():
    """Every experiment of config/demo.yaml, switched on or not, fits the generated training split
    (minus the held-out share where a grid carves one)."""
    from pathlib import Path

    from peftdeck.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "config" / "demo.yaml")
    demo = config["demo"]
    for name, exp in config["experiments"].items():
        for task in exp["tasks"]:
            available = demo["qa_train"] if task == "squad" else demo["classification_train"]
            available -= round((exp.get("holdout") or 0) * available)
            for size in exp["train_sizes"]:
                if isinstance(size, int):
                    assert size <= available, (name, task, size, available)
