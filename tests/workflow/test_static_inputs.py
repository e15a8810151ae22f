"""Finished cells survive new timestamps on what they read, and rerun when its contents change.

A model folder of your own (or inside an installed package) and data files of your own are read
where they are: no rule writes them. Reinstalling the package, copying or remounting the data gives
them new timestamps with the same contents; that must not retrain a study's finished cells (by
Snakemake's timestamps alone it would retrain all of them). A change of their contents must.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from repo_copy import workdir_copy  # noqa: E402
from test_encoders import write_encoder  # noqa: E402
from test_pipeline import snakemake  # noqa: E402

from peftdeck.config import all_cells, load_config, resolve_cell, static_input_fingerprints

pytestmark = pytest.mark.slow

CONFIG = "static.yaml"
WORDS = {1: ["good", "great", "fine", "nice"], 0: ["bad", "awful", "poor", "sad"]}


def write_sst2(folder: Path) -> None:
    folder.mkdir(parents=True)
    for split, n in (("train", 32), ("dev", 16)):
        rows = [f"a {WORDS[i % 2][i % 4]} film\t{i % 2}" for i in range(n)]
        (folder / f"{split}.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")


def bump_timestamps(folder: Path) -> None:
    """Every file and folder below `folder` an hour newer, contents untouched."""
    later = time.time() + 3600
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (later, later))


def dry_run(repo: Path) -> str:
    proc = snakemake("-n", "cells", "--configfile", CONFIG, cwd=repo)
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    repo = workdir_copy(tmp_path_factory.mktemp("static"))
    write_encoder(repo / "resources/own-encoder", "roberta")
    write_sst2(repo / "resources/own-sst2")
    cfg = {
        "study": "static", "title": "Static inputs",
        "model": {"source": "local", "path": "resources/own-encoder", "name": "own encoder"},
        "data": {"sst2": {"source": "local", "path": "resources/own-sst2"}},
        "methods": {"bitfit": {"lr": 1.0e-2}},
        "training": {"max_length": 16, "threads": 1},
        "experiments": {"glue": {"tasks": ["sst2"], "methods": ["bitfit"], "schedules": [{"epochs": 1}],
                                 "batch_sizes": [16], "seeds": [1]}},
    }
    (repo / CONFIG).write_text(yaml.safe_dump(cfg))
    snakemake("--cores", "1", "cells", "--configfile", CONFIG, cwd=repo)
    (cell,) = all_cells(load_config(repo / CONFIG))
    return repo, repo / cell.path


def test_the_parameter_is_what_the_cell_recorded(study, monkeypatch):
    repo, metrics = study
    monkeypatch.chdir(repo)
    cfg = load_config(repo / CONFIG)
    (cell,) = all_cells(cfg)
    recorded = json.loads(metrics.read_text())
    expected = f"model={recorded['model']['fingerprint']};data={recorded['data']['fingerprint']}"
    assert static_input_fingerprints(resolve_cell(cfg, cell)) == expected


def test_new_timestamps_on_the_model_and_data_rerun_nothing(study):
    repo, metrics = study
    before = metrics.stat().st_mtime_ns
    bump_timestamps(repo / "resources")
    out = dry_run(repo)
    assert "Nothing to be done" in out, out[-3000:]
    snakemake("--cores", "1", "cells", "--configfile", CONFIG, cwd=repo)
    assert metrics.stat().st_mtime_ns == before, "a finished cell was retrained for a timestamp alone"


def test_changed_data_contents_rerun_the_cell(study):
    repo, _ = study
    train = repo / "resources/own-sst2/train.tsv"
    original = train.read_text()
    try:
        train.write_text(original + "a fine film\t1\n")
        out = dry_run(repo)
        assert "train_cell" in out and "Params have changed" in out and "data=sha256:" in out, out[-3000:]
    finally:
        train.write_text(original)
    assert "Nothing to be done" in dry_run(repo), "restoring the data did not restore the finished state"


def test_changed_model_weights_rerun_the_cell(study):
    repo, _ = study
    folder = repo / "resources/own-encoder"
    weights = folder / "model.safetensors"
    original = weights.read_bytes()
    try:
        import torch
        from safetensors.torch import load_file, save_file

        tensors = load_file(str(weights))
        name = next(k for k in sorted(tensors) if k.endswith("weight"))
        tensors[name] = tensors[name] + torch.ones_like(tensors[name])
        save_file(tensors, str(weights), metadata={"format": "pt"})
        out = dry_run(repo)
        assert "train_cell" in out and "Params have changed" in out and "model=sha256:" in out, out[-3000:]
    finally:
        weights.write_bytes(original)
    assert "Nothing to be done" in dry_run(repo)
