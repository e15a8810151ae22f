"""Messages a user acts on: bounds in config errors, rerun commands that name the study's config."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from peftdeck import config as pdconfig
from peftdeck.paths import Cell
from peftdeck.results import ResultError, load_cell

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("change, expected", [
    (lambda c: c["methods"]["full_ft"].update(lr=-1), "key methods.full_ft.lr: value -1 is not allowed; must be a number > 0"),
    (lambda c: c["methods"]["bitfit"].update(lr=0), "key methods.bitfit.lr: value 0 is not allowed; must be a number > 0"),
    (lambda c: c["training"].update(warmup_ratio=0.9), "key training.warmup_ratio: value 0.9 is not allowed; must be a number <= 0.5"),
    (lambda c: c["training"].update(max_length=4), "key training.max_length: value 4 is not allowed; must be an integer >= 8"),
])
def test_bounds_say_what_the_value_must_be(change, expected):
    raw = yaml.safe_load((REPO / "config/config.yaml").read_text())
    change(raw)
    with pytest.raises(pdconfig.ConfigError) as err:
        pdconfig.validate(raw, source="config/config.yaml")
    assert expected in str(err.value), str(err.value)


def test_corrupt_result_names_the_rerun_command_with_the_config(tmp_path):
    cell = Cell("demo", "sst2", "bitfit", "all", "ep1", 0.01, 16, 42)
    path = tmp_path / cell.path
    path.parent.mkdir(parents=True)
    path.write_text('{"schema": "peftdeck.cell/1", "trunc')
    with pytest.raises(ResultError) as err:
        load_cell(path, expect=cell.as_dict(), config_path="config/demo.yaml")
    assert f"rerun that cell: snakemake --cores 1 {path} --configfile config/demo.yaml" in str(err.value)
    assert json.loads(json.dumps(str(err.value)))  # one plain line of text


def test_missing_cells_command_puts_targets_before_the_configfile():
    from peftdeck.aggregate import run_command

    cmd = run_command(["results/demo/runs/a/metrics.json", "results/demo/runs/b/metrics.json"], "config/demo.yaml")
    assert cmd == ("snakemake --cores N results/demo/runs/a/metrics.json results/demo/runs/b/metrics.json"
                   " --configfile config/demo.yaml")
