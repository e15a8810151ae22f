"""A tuned experiment (`tuned_on: <grid>`): the grid's held-out scores, and only they, choose each
task's and method's learning rate and batch size; its cells exist once that choice is written."""
from __future__ import annotations

import copy
import json

import pytest
from synthetic_cells import SMALL_CONFIG, cell_result

from peftdeck import aggregate, choose, paths
from peftdeck.config import ConfigError, all_cells, experiment_cells, validate
from peftdeck.results import write_json_atomic
from peftdeck.train import cpu_has_native_bf16, pick_precision

GRID = {"slides": "grid", "tasks": ["sst2", "mrpc"], "methods": ["full_ft", "bitfit"],
        "learning_rates": {"full_ft": [1e-5, 1e-4], "bitfit": [1e-3, 1e-2]}, "batch_sizes": [16, 32],
        "seeds": [1, 2], "holdout": 0.1}
TUNED = {"tuned_on": "grid", "tasks": ["sst2", "mrpc"], "methods": ["full_ft", "bitfit"], "seeds": [1, 2, 3]}


def raw_config(**tuned_changes):
    raw = copy.deepcopy(SMALL_CONFIG)
    raw["experiments"] = {"grid": copy.deepcopy(GRID), "glue": {**copy.deepcopy(TUNED), **tuned_changes}}
    return raw


def test_a_tuned_experiment_has_no_cells_until_its_grid_is_chosen_on(tmp_path):
    config = validate(raw_config())
    assert experiment_cells(config, "glue", tmp_path) == []
    # 2 tasks x 2 methods x 2 rates x 2 batch sizes x 2 seeds
    assert len(all_cells(config, tmp_path)) == 32


# Held-out scores per (task, method, lr, batch size), one per seed; dev scores deliberately favour
# another point, so a choice that looked at dev would differ.
HELDOUT = {
    ("sst2", "full_ft", 1e-4, 32): (80.0, 84.0),   # mean 82: best for sst2/full_ft
    ("sst2", "full_ft", 1e-5, 16): (85.0, 75.0),   # mean 80, the best single seed
    ("mrpc", "bitfit", 1e-2, 16): (70.0, 72.0),    # mean 71: best for mrpc/bitfit
}
DEV_BEST = {("sst2", "full_ft", 1e-5, 32): 99.0, ("mrpc", "bitfit", 1e-3, 32): 99.0}


def write_grid(config, root, skip=lambda c: False, heldout_value=None):
    for cell in experiment_cells(config, "grid", root):
        if skip(cell):
            continue
        key = (cell.task, cell.method, cell.lr, cell.batch_size)
        pm = "accuracy" if cell.task == "sst2" else "f1"
        held = HELDOUT.get(key, (60.0, 60.0))[cell.seed - 1]
        if heldout_value is not None:
            held = heldout_value(cell, held)
        dev = DEV_BEST.get(key, 70.0)
        metrics = {"accuracy": dev} if cell.task == "sst2" else {"f1": dev, "accuracy": dev}
        write_json_atomic(root / cell.path, cell_result(config, cell, metrics=metrics, selection={pm: held}))


def test_choose_takes_the_best_mean_heldout_score_and_never_dev(tmp_path):
    config = validate(raw_config())
    write_grid(config, tmp_path)
    chosen = choose.choose(config, "glue", tmp_path)
    s = chosen["settings"]
    assert (s["sst2"]["full_ft"]["lr"], s["sst2"]["full_ft"]["batch_size"]) == (1e-4, 32)
    assert s["sst2"]["full_ft"]["heldout"] == pytest.approx(82.0)
    assert (s["mrpc"]["bitfit"]["lr"], s["mrpc"]["bitfit"]["batch_size"]) == (1e-2, 16)
    # Everywhere else every point ties at 60: the first point in grid order wins.
    assert (s["mrpc"]["full_ft"]["lr"], s["mrpc"]["full_ft"]["batch_size"]) == (1e-5, 16)
    assert len(s["sst2"]["full_ft"]["points"]) == 4
    assert chosen["grid"] == "grid" and chosen["holdout"] == 0.1


def test_the_choice_becomes_the_tuned_cells_and_the_deck_setup(tmp_path):
    config = validate(raw_config())
    write_grid(config, tmp_path)
    assert choose.main(["--config", str(write_config(tmp_path, config)), "--experiment", "glue",
                        "--root", str(tmp_path)]) == 0
    out = tmp_path / paths.chosen_json("synthetic", "glue")
    assert json.loads(out.read_text())["schema"] == choose.SCHEMA
    cells = experiment_cells(config, "glue", tmp_path)
    assert len(cells) == 2 * 2 * 3
    picked = {(c.task, c.method): (c.lr, c.batch_size) for c in cells}
    assert picked[("sst2", "full_ft")] == (1e-4, 32) and picked[("mrpc", "bitfit")] == (1e-2, 16)
    assert {c.seed for c in cells} == {1, 2, 3} and all(c.holdout is None for c in cells)
    setup = aggregate._tuned_setup(config, "glue", tmp_path)
    assert setup["grid"] == "grid" and setup["task_labels"] == ["SST-2", "MRPC"]
    full = next(x for x in setup["per_method"] if x["label"] == "Full FT")
    assert full["lrs"] == [1e-4, 1e-5] and full["batch_sizes"] == [32, 16]


def write_config(root, config):
    path = root / "config.resolved.json"
    path.write_text(json.dumps(config))
    return path


def test_missing_grid_cells_stop_the_choice_and_are_listed(tmp_path):
    config = validate(raw_config())
    write_grid(config, tmp_path, skip=lambda c: c.task == "mrpc" and c.method == "bitfit" and c.seed == 2)
    with pytest.raises(choose.ChoiceError, match=r"4 cells of grid experiment 'grid' have no result") as err:
        choose.choose(config, "glue", tmp_path)
    assert "runs/mrpc/bitfit/" in str(err.value)


def test_a_method_whose_every_grid_point_failed_is_named(tmp_path, capsys):
    config = validate(raw_config())
    write_grid(config, tmp_path, heldout_value=lambda c, v: None if c.task == "mrpc" and c.method == "full_ft" else v)
    with pytest.raises(choose.ChoiceError, match=r"no finite held-out score for mrpc/full_ft"):
        choose.choose(config, "glue", tmp_path)
    assert choose.main(["--config", str(write_config(tmp_path, config)), "--experiment", "glue",
                        "--root", str(tmp_path)]) == 2
    assert "widen the grid's learning_rates" in capsys.readouterr().err
    assert not (tmp_path / paths.chosen_json("synthetic", "glue")).exists()


@pytest.mark.parametrize("change, message", [
    (lambda r: r["experiments"]["glue"].update(tuned_on="nope"), r"tuned_on: 'nope' is not another experiment.*grid"),
    (lambda r: r["experiments"]["grid"].update(holdout=None, slides="none"), r"'grid' has no `holdout`"),
    (lambda r: r["experiments"]["grid"].update(enabled=False), r"'grid' is switched off"),
    (lambda r: r["experiments"]["glue"].update(tasks=["sst2", "rte"]), r"glue\.tasks: rte not in the tasks of 'grid'"),
    (lambda r: r["experiments"]["glue"].update(learning_rates=[1e-4]), r"glue\.learning_rates: a tuned experiment"),
    (lambda r: r["experiments"]["glue"].update(batch_sizes=[32]), r"glue\.batch_sizes: a tuned experiment"),
])
def test_bad_tuned_on_settings_name_the_key_and_the_fix(change, message):
    raw = raw_config()
    change(raw)
    with pytest.raises(ConfigError, match=message):
        validate(raw)


CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f {extra}\nbogomips\t: 4000\n"


def test_native_bf16_is_read_from_the_cpu_flags():
    assert cpu_has_native_bf16(CPUINFO.format(extra="avx512_bf16 avx512_vnni"))
    assert cpu_has_native_bf16(CPUINFO.format(extra="amx_bf16 amx_tile"))
    assert not cpu_has_native_bf16(CPUINFO.format(extra="avx512_vnni"))
    assert not cpu_has_native_bf16("")


def test_bf16_on_a_cpu_without_it_is_refused_with_the_fix(monkeypatch):
    import torch

    from peftdeck import train

    cpu = torch.device("cpu")
    monkeypatch.setattr(train, "cpu_has_native_bf16", lambda cpuinfo=None: False)
    with pytest.raises(ValueError, match=r"no native bf16 instructions.*precision: auto.*bf16_native"):
        pick_precision("bf16", cpu)
    assert pick_precision("auto", cpu) == "fp32"
    assert pick_precision("bf16_native", cpu) == "fp32"
    monkeypatch.setattr(train, "cpu_has_native_bf16", lambda cpuinfo=None: True)
    assert pick_precision("bf16", cpu) == "bf16"
    assert pick_precision("bf16_native", cpu) == "bf16"
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        pick_precision("fp16", cpu)


def test_choose_from_runs_a_task_at_another_tasks_choice(tmp_path):
    raw = raw_config(tasks=["sst2", "mrpc", "rte"], choose_from={"rte": "mrpc"})
    config = validate(raw)
    write_grid(config, tmp_path)
    chosen = choose.choose(config, "glue", tmp_path)
    s = chosen["settings"]
    # RTE is not in the grid: it takes MRPC's choice, point for point, and says so.
    assert s["rte"]["bitfit"]["lr"] == s["mrpc"]["bitfit"]["lr"] == 1e-2
    assert s["rte"]["bitfit"]["heldout"] == pytest.approx(71.0)
    assert s["rte"]["bitfit"]["chosen_on"] == "mrpc" and "chosen_on" not in s["mrpc"]["bitfit"]
    write_json_atomic(tmp_path / paths.chosen_json("synthetic", "glue"), chosen)
    cells = experiment_cells(config, "glue", tmp_path)
    assert {(c.task, c.method, c.lr) for c in cells if c.task == "rte"} == {
        ("rte", "full_ft", s["mrpc"]["full_ft"]["lr"]), ("rte", "bitfit", 1e-2)}
    setup = aggregate._tuned_setup(config, "glue", tmp_path)
    assert setup["borrowed"] == [{"task": "RTE", "from": "MRPC"}]


@pytest.mark.parametrize("borrow, message", [
    ({"cola": "mrpc"}, r"choose_from: 'cola' is not among this experiment's tasks"),
    ({"rte": "qnli"}, r"choose_from\.rte: 'qnli' is not in the tasks of 'grid'"),
    ({"stsb": "mrpc"}, r"choose_from\.stsb: stsb is a regression task and mrpc a classification one"),
])
def test_bad_choose_from_names_the_key_and_the_fix(borrow, message):
    tasks = ["sst2", "mrpc"] + [t for t in borrow if t in ("rte", "stsb")]
    raw = raw_config(tasks=tasks, choose_from=borrow)
    raw["data"]["stsb"] = {"source": "hub"}
    with pytest.raises(ConfigError, match=message):
        validate(raw)


def test_without_choose_from_a_task_outside_the_grid_is_still_refused():
    with pytest.raises(ConfigError, match=r"glue\.tasks: rte not in the tasks of 'grid'"):
        validate(raw_config(tasks=["sst2", "mrpc", "rte"]))


def test_task_schedules_give_one_task_its_own_budget_for_every_method(tmp_path):
    rte_budget = {"steps": 50, "epochs": 0.01}
    raw = raw_config(tasks=["sst2", "mrpc", "rte"], choose_from={"rte": "mrpc"}, task_schedules={"rte": [rte_budget]})
    config = validate(raw)
    write_grid(config, tmp_path)
    write_json_atomic(tmp_path / paths.chosen_json("synthetic", "glue"), choose.choose(config, "glue", tmp_path))
    cells = experiment_cells(config, "glue", tmp_path)
    scheds = {task: {c.sched for c in cells if c.task == task} for task in ("sst2", "mrpc", "rte")}
    assert scheds["rte"] == {paths.sched_tag(rte_budget)}
    assert scheds["sst2"] == scheds["mrpc"] == {paths.sched_tag(config["experiments"]["glue"]["schedules"][0])}
    assert len(cells) == 3 * 2 * 3  # one schedule per task: RTE's replaces the default, it is not added
    setup = aggregate._experiment_setup(config, "glue", len(cells), 0, tmp_path)
    assert setup["task_schedules"] == [{"task": "RTE", "schedules": [rte_budget]}]


def test_task_schedules_for_a_task_outside_the_experiment_are_refused():
    with pytest.raises(ConfigError, match=r"glue\.task_schedules: rte not among this experiment's tasks "
                                          r"\(sst2, mrpc\); add the task or remove its schedules"):
        validate(raw_config(task_schedules={"rte": [{"epochs": 1}]}))
