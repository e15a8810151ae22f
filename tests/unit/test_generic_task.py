"""Tasks of your own: classification or regression from local CSV/TSV/JSON Lines files, defined in
the config by their columns (peftdeck.tasks.generic), and the config checks around them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from peftdeck import config as pdconfig
from peftdeck.tasks import GenericTask, get_task


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def csv_task(folder: Path, train: str, dev: str) -> Path:
    write(folder, "train.csv", train)
    return write(folder, "dev.csv", dev)


def jsonl_task(folder: Path, train: list[dict], dev: list[dict]) -> Path:
    write(folder, "train.jsonl", "".join(json.dumps(r) + "\n" for r in train))
    return write(folder, "dev.jsonl", "".join(json.dumps(r) + "\n" for r in dev))


PAIR = {"source": "local", "text": ["question", "answer"], "label": "label"}
PAIR_TRAIN = 'question,answer,label\n"is it, really?",yes,pos\nno way,nope,neg\nmaybe,so,pos\n'


# --- loading -----------------------------------------------------------------------------------

def test_csv_pair_with_string_labels_maps_them_sorted_and_scores_binary(tmp_path):
    folder = csv_task(tmp_path / "qa", PAIR_TRAIN, "question,answer,label\nok,fine,neg\nsure,yes,pos\n")
    task = get_task("qa", PAIR)
    assert isinstance(task, GenericTask) and task.kind == "classification"
    splits = task.load("local", folder)
    assert splits["train"][0] == {"text_a": "is it, really?", "text_b": "yes", "label": 1}  # quoted comma kept
    assert [r["label"] for r in splits["validation"]] == [0, 1]
    assert task.label_names == ["neg", "pos"] and task.num_labels == 2
    assert task.metrics == ["accuracy", "f1", "matthews"] and task.primary_metric == "accuracy"
    scores = task.score(splits["validation"], None, np.array([[2.0, 0.0], [0.0, 2.0]]))
    assert scores == {"accuracy": 100.0, "f1": 100.0, "matthews": 100.0}
    summary = task.prediction_summary(np.array([[2.0, 0.0], [0.0, 2.0]]))
    assert summary["labels"] == {"0": "neg", "1": "pos"}  # the mapping the cell records
    assert task.baseline(splits["train"], splits["validation"])["majority_class"] == 1


def test_integer_labels_sort_numerically_and_three_classes_have_no_f1(tmp_path):
    folder = csv_task(tmp_path / "t", "text,y\na,10\nb,2\nc,1\n", "text,y\nd,2\n")
    task = get_task("t", {"source": "local", "text": "text", "label": "y"})
    splits = task.load("local", folder)
    assert task.label_names == [1, 2, 10]
    assert [r["label"] for r in splits["train"]] == [2, 1, 0] and splits["train"][0]["text_b"] is None
    assert task.metrics == ["accuracy", "matthews"]


def test_declared_labels_give_the_order(tmp_path):
    folder = csv_task(tmp_path / "t", "text,y\na,pos\nb,neg\n", "text,y\nc,neg\n")
    task = get_task("t", {"source": "local", "text": "text", "label": "y", "labels": ["pos", "neg"]})
    assert task.num_labels == 2  # known before loading
    assert [r["label"] for r in task.load("local", folder)["train"]] == [0, 1]


def test_jsonl_regression_and_a_json_array(tmp_path):
    folder = jsonl_task(tmp_path / "s", [{"review": "good", "stars": 4.5}, {"review": "bad", "stars": "1"}],
                        [{"review": "fine", "stars": 3}])
    task = get_task("s", {"source": "local", "format": "jsonl", "text": "review", "label": "stars",
                          "problem": "regression"})
    splits = task.load("local", folder)
    assert [r["label"] for r in splits["train"]] == [4.5, 1.0] and splits["validation"][0]["label"] == 3.0
    assert task.metrics == ["pearson", "spearman"] and task.num_labels == 1
    write(folder, "dev.jsonl", json.dumps([{"review": "x", "stars": 2}, {"review": "y", "stars": 5}]))
    assert len(task.load("local", folder)["validation"]) == 2


def test_format_follows_the_file_names_and_tsv_reads(tmp_path):
    folder = write(tmp_path / "t", "a.tsv", "text\tlabel\nx y\t1\nz\t0\n")
    write(folder, "b.tsv", "text\tlabel\nw\t0\n")
    entry = {"source": "local", "text": "text", "label": "label", "files": {"train": "a.tsv", "validation": "b.tsv"}}
    task = get_task("t", entry)
    assert task.format == "tsv"
    assert task.load("local", folder, files=entry["files"])["train"][0] == {"text_a": "x y", "text_b": None, "label": 1}


def test_resolved_cell_carries_the_definition(tmp_path):
    folder = csv_task(tmp_path / "qa", PAIR_TRAIN, "question,answer,label\nok,fine,neg\n")
    cfg = pdconfig.validate(study({"qa": {**PAIR, "path": str(folder)}}, ["qa"]))
    spec = pdconfig.resolve_cell(cfg, pdconfig.all_cells(cfg)[0])
    assert spec["data"]["task"] == {"text": ["question", "answer"], "label": "label", "format": "csv",
                                    "problem": "classification"}
    task = get_task("qa", spec["data"])
    assert len(task.load(spec["data"]["source"], spec["data"]["location"], spec["data"]["files"])["train"]) == 3
    builtin = pdconfig.validate(study({"sst2": {"source": "demo"}}, ["sst2"]))
    assert "task" not in pdconfig.resolve_cell(builtin, pdconfig.all_cells(builtin)[0])["data"]


# --- errors that name the file, the column and the fix ------------------------------------------

def test_missing_file_names_it_and_the_key(tmp_path):
    folder = write(tmp_path / "qa", "train.csv", PAIR_TRAIN)
    with pytest.raises(FileNotFoundError, match=r"qa: validation file not found: .*dev\.csv.*data\.qa\.files\.validation"):
        get_task("qa", PAIR).load("local", folder)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_unknown_column_lists_the_available_ones(tmp_path, fmt):
    if fmt == "csv":
        folder = csv_task(tmp_path / "qa", "question,reply,label\na,b,pos\n", "question,reply,label\na,b,pos\n")
    else:
        folder = jsonl_task(tmp_path / "qa", [{"question": "a", "reply": "b", "label": "pos"}],
                            [{"question": "a", "reply": "b", "label": "pos"}])
    with pytest.raises(ValueError) as err:
        get_task("qa", {**PAIR, "format": fmt}).load("local", folder)
    msg = str(err.value)
    assert f"train.{fmt}" in msg and "unknown column(s) 'answer'" in msg, msg
    assert "'question', 'reply', 'label'" in msg and "data.qa.text" in msg, msg


def test_empty_split_names_the_file(tmp_path):
    folder = csv_task(tmp_path / "qa", PAIR_TRAIN, "question,answer,label\n")
    with pytest.raises(ValueError, match=r"dev\.csv: no data rows .*every split needs examples"):
        get_task("qa", PAIR).load("local", folder)


def test_non_numeric_regression_label_names_line_column_and_fix(tmp_path):
    folder = csv_task(tmp_path / "s", "text,score\na,1.5\nb,high\n", "text,score\nc,2\n")
    task = get_task("s", {"source": "local", "text": "text", "label": "score", "problem": "regression"})
    with pytest.raises(ValueError, match=r"train\.csv, line 3: label 'high' in column 'score' is not a number; .*"
                                         r"problem: classification"):
        task.load("local", folder)


def test_dev_label_not_seen_in_train(tmp_path):
    folder = csv_task(tmp_path / "qa", PAIR_TRAIN, "question,answer,label\nok,fine,neg\nhm,eh,neutral\n")
    with pytest.raises(ValueError, match=r"dev\.csv, line 3: label 'neutral' in column 'label' is not a class of the "
                                         r"train split \('neg', 'pos'\); add training examples of it"):
        get_task("qa", PAIR).load("local", folder)


def test_label_outside_the_declared_ones(tmp_path):
    folder = csv_task(tmp_path / "t", "text,y\na,pos\nb,meh\n", "text,y\nc,neg\n")
    with pytest.raises(ValueError, match=r"train\.csv, line 3: label 'meh' .*declared labels.*data\.t\.labels"):
        get_task("t", {"source": "local", "text": "text", "label": "y", "labels": ["neg", "pos"]}).load("local", folder)


def test_single_class_and_fractional_class_labels(tmp_path):
    folder = csv_task(tmp_path / "t", "text,y\na,1\nb,1\n", "text,y\nc,1\n")
    with pytest.raises(ValueError, match=r"single class 1; a classifier needs at least two"):
        get_task("t", {"source": "local", "text": "text", "label": "y"}).load("local", folder)
    csv_task(tmp_path / "t", "text,y\na,0.5\nb,1\n", "text,y\nc,1\n")
    with pytest.raises(ValueError, match=r"line 2: label '0\.5' .* is a fraction; .*problem: regression"):
        get_task("t", {"source": "local", "text": "text", "label": "y"}).load("local", folder)


def test_rows_of_another_width_and_bad_json(tmp_path):
    folder = csv_task(tmp_path / "qa", "question,answer,label\na,b\n", "question,answer,label\na,b,pos\n")
    with pytest.raises(ValueError, match=r"train\.csv, line 2: expected 3 fields"):
        get_task("qa", PAIR).load("local", folder)
    folder = write(tmp_path / "j", "train.jsonl", '{"text": "a", "label": 1}\n{"text": "b", label: 0}\n')
    write(folder, "dev.jsonl", '{"text": "c", "label": 1}\n')
    with pytest.raises(ValueError, match=r"train\.jsonl, line 2: not valid JSON"):
        get_task("j", {"source": "local", "text": "text", "label": "label", "format": "jsonl"}).load("local", folder)


# --- the config ----------------------------------------------------------------------------------

def study(data: dict, tasks: list[str]) -> dict:
    return {"study": "own", "model": {"source": "demo"}, "data": data,
            "experiments": {"mine": {"tasks": tasks, "methods": ["bitfit"]}}}


def test_config_accepts_a_task_of_your_own():
    cfg = pdconfig.validate(study({"my_task": {**PAIR, "path": "data/qa", "format": "csv"}}, ["my_task"]))
    assert pdconfig.is_generic_task(cfg, "my_task")
    assert [c.task for c in pdconfig.all_cells(cfg)] == ["my_task"]


@pytest.mark.parametrize("data, tasks, pattern", [
    ({"sst2": {"source": "demo", "text": "sentence", "label": "label"}}, ["sst2"],
     r"data\.sst2: text, label define a task of your own, but 'sst2' is a built-in task.*another name"),
    ({"mine": {"source": "local", "path": "d"}}, ["mine"],
     r"data\.mine: 'mine' is not a built-in task \(expected one of sst2, mrpc.*needs `text:` and `label:`"),
    ({"mine": {"source": "demo", "text": "t", "label": "y"}}, ["mine"], r"data\.mine: .*set source: local"),
    ({"mine": {"source": "local", "text": "t", "label": "y"}}, ["mine"], r"data\.mine: source local needs `path:`"),
    ({"mine": {**PAIR, "path": "d", "problem": "regression", "labels": ["a", "b"]}}, ["mine"],
     r"data\.mine\.labels: a regression task has no classes"),
    ({"mine": {**PAIR, "path": "d", "files": {"train": "t.parquet"}}}, ["mine"],
     r"cannot tell the format of 't\.parquet'.*format: csv"),
    ({"mine": {**PAIR, "path": "d", "problem": "ranking"}}, ["mine"], r"key data\.mine\.problem: value 'ranking'"),
    ({"mine": {**PAIR, "path": "d", "text": ["a", "b", "c"]}}, ["mine"], r"key data\.mine\.text"),
    ({"sst2": {"source": "demo"}}, ["sst2", "mrcp"],
     r"experiments\.mine\.tasks\[1\]: task 'mrcp' is not built in \(expected one of sst2, mrpc.*data\.mrcp: "
     r"\{source: local"),
    ({"my/task": {**PAIR, "path": "d"}}, ["sst2"], r"my/task"),
])
def test_config_errors_name_the_key_and_the_fix(data, tasks, pattern):
    with pytest.raises(pdconfig.ConfigError, match=pattern):
        pdconfig.validate(study(data, tasks))


def test_unknown_task_without_a_definition_says_how_to_define_one():
    with pytest.raises(ValueError, match=r"unknown task 'mine'; built-in tasks: sst2.*text: <column>"):
        get_task("mine")
