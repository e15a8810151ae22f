"""collect() and write_tables() on synthetic cell files."""
from __future__ import annotations

import json
import math

import pytest

from peftdeck import aggregate
from peftdeck.config import all_cells
from peftdeck.results import ResultError
from synthetic_cells import small_config, write_results


@pytest.fixture(scope="module")
def config():
    return small_config()


@pytest.fixture()
def complete(tmp_path, config):
    write_results(config, tmp_path, collapsed=lambda c: c.task == "rte" and c.method == "prompt_tuning")
    return tmp_path


def test_collect_reads_every_cell_of_every_experiment(config, complete):
    df, missing = aggregate.collect(config, root=complete)
    assert missing == []
    # glue 3 x 5, squad 2 x 4, squad_epochs 2 x 4 (rows per experiment, even where cells are shared)
    assert len(df) == 15 + 8 + 8
    assert set(df["experiment"]) == {"glue", "squad", "squad_epochs"}
    for col in ["experiment", "task", "method", "method_label", "method_kind", "train_size", "n_train", "schedule",
                "lr", "batch_size", "seed", *aggregate.METRICS, "primary_metric", "primary", "baseline_accuracy",
                "collapsed", "trainable_params", "total_params", "trainable_pct", "peak_memory_bytes", "memory_kind",
                "train_flops", "train_s", "wall_s", "train_examples_per_s", "device", "precision", "path"]:
        assert col in df.columns, col
    row = df[(df["experiment"] == "glue") & (df["task"] == "mrpc") & (df["method"] == "lora")].iloc[0]
    assert row["method_label"] == "LoRA (r=8)" and row["method_kind"] == "lora"
    assert row["primary_metric"] == "f1" and row["primary"] == row["f1"]
    assert math.isnan(row["exact_match"])  # absent metric -> NaN
    assert row["trainable_pct"] == pytest.approx(100 * 296_450 / 109_483_778)
    assert row["train_size"] == "all" and row["n_train"] == 2000
    squad = df[(df["experiment"] == "squad") & (df["train_size"] == 100)]
    assert set(squad["method"]) == {"full_ft", "bitfit"} and not squad["collapsed"].any()
    assert df[(df["task"] == "rte") & (df["method"] == "prompt_tuning")]["collapsed"].all()


def test_missing_cells_raise_listing_every_path_and_the_command(tmp_path, config):
    skipped = lambda c: c.task == "squad" and c.train_size == 100  # noqa: E731
    write_results(config, tmp_path, skip=skipped)
    with pytest.raises(aggregate.MissingCellsError) as err:
        aggregate.collect(config, root=tmp_path, config_path="config/x.yaml")
    expected = sorted({c.path for c in all_cells(config) if skipped(c)})
    assert len(expected) == 4  # 2 methods x 2 schedules
    assert sorted(err.value.paths) == expected
    msg = str(err.value)
    for path in expected:
        assert path in msg
    # Targets before --configfile (it takes several files).
    assert "snakemake --cores N " + " ".join(err.value.paths) + " --configfile config/x.yaml" in msg
    assert "--allow-missing" in msg


def test_allow_missing_returns_them(tmp_path, config):
    write_results(config, tmp_path, skip=lambda c: c.task == "mrpc" and c.method == "lora")
    df, missing = aggregate.collect(config, allow_missing=True, root=tmp_path)
    assert len(missing) == 1 and missing[0]["experiment"] == "glue" and missing[0]["method_label"] == "LoRA (r=8)"
    assert len(df) == 30
    # The config flag does the same.
    cfg = small_config(allow_missing=True)
    df2, missing2 = aggregate.collect(cfg, root=tmp_path)
    assert len(missing2) == 1
    summary = aggregate.build_summary(df, missing, config)
    lora = next(m for m in summary["glue"]["methods"] if m["method"] == "lora")
    assert lora["scores"]["mrpc"]["missing"] and lora["missing_tasks"] == ["mrpc"]
    assert summary["missing"]["count"] == 1 and summary["meta"]["n_missing"] == 1


def test_corrupt_json_names_the_file(complete, config):
    cell = next(c for c in all_cells(config) if c.task == "rte")
    (complete / cell.path).write_text('{"schema": "peftdeck.cell/1", "status": ')
    with pytest.raises(ResultError) as err:
        aggregate.collect(config, root=complete)
    assert cell.path in str(err.value) and "not valid JSON" in str(err.value)


def test_foreign_json_names_the_file(complete, config):
    cell = next(c for c in all_cells(config) if c.task == "squad")
    (complete / cell.path).write_text(json.dumps({"accuracy": 0.9}))
    with pytest.raises(ResultError) as err:
        aggregate.collect(config, root=complete)
    assert cell.path in str(err.value) and "not a peftdeck cell result" in str(err.value)


def test_result_of_another_cell_is_rejected(complete, config):
    cells = [c for c in all_cells(config) if c.task == "sst2"]
    (complete / cells[0].path).write_text((complete / cells[1].path).read_text())
    with pytest.raises(ResultError) as err:
        aggregate.collect(config, root=complete)
    assert cells[0].path in str(err.value) and "belongs to another cell" in str(err.value)


def test_write_tables(complete, config, tmp_path):
    df, missing = aggregate.collect(config, root=complete)
    out = tmp_path / "tables"
    summary = aggregate.write_tables(df, missing, config, out, config_path="config/x.yaml")
    assert (out / "cells.csv").is_file() and (out / "glue.md").is_file()
    text = (out / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text)
    assert loaded == json.loads(json.dumps(summary))
    assert set(loaded) >= {"meta", "tasks", "methods", "palette", "experiments", "glue", "squad", "squad_epochs",
                           "conclusions", "figures", "missing"}
    assert loaded["meta"]["config_file"] == "config/x.yaml" and not loaded["meta"]["demo"]
    assert [f["name"] for f in loaded["figures"]] == ["parameter_efficiency", "flops", "glue_results", "loss_curves", "pareto", "squad_curves"]
    # One colour per method label, the same for every figure.
    assert len(set(loaded["palette"].values())) == len(loaded["palette"])
    glue_md = (out / "glue.md").read_text()
    assert "(collapsed)" in glue_md and "Full FT" in glue_md
    import pandas as pd
    assert len(pd.read_csv(out / "cells.csv")) == len(df)


def test_disabled_experiment_is_left_out(tmp_path):
    cfg = small_config()
    cfg["experiments"]["squad_epochs"]["enabled"] = False
    write_results(cfg, tmp_path)
    df, missing = aggregate.collect(cfg, root=tmp_path)
    assert "squad_epochs" not in set(df["experiment"])
    summary = aggregate.build_summary(df, missing, cfg)
    assert summary["squad_epochs"] is None and summary["squad_epochs_configured"]


def test_cli(tmp_path, complete, config, monkeypatch, capsys):
    import yaml

    cfg_file = complete / "study.yaml"
    from synthetic_cells import SMALL_CONFIG
    cfg_file.write_text(yaml.safe_dump(SMALL_CONFIG))
    monkeypatch.chdir(complete)
    assert aggregate.main(["--config", "study.yaml", "--out-dir", "out"]) == 0
    assert (complete / "out" / "summary.json").is_file()
    (complete / next(iter(all_cells(config))).path).unlink()
    assert aggregate.main(["--config", "study.yaml", "--out-dir", "out"]) == 1
    assert "have no result yet" in capsys.readouterr().err
    assert aggregate.main(["--config", "study.yaml", "--out-dir", "out", "--allow-missing"]) == 0
