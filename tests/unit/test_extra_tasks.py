"""The generated CoLA- and STS-B-shaped demo tasks load with the real task readers."""
from __future__ import annotations

import numpy as np

from peftdeck.demo import data as X
from peftdeck.tasks import get_task


def test_cola_shaped_task(tmp_path):
    folder = X.generate_cola(tmp_path, seed=3, n_train=300, n_dev=80)
    splits = get_task("cola").load("demo", folder)
    assert len(splits["train"]) == 300 and len(splits["validation"]) == 80
    labels = [r["label"] for r in splits["train"]]
    assert set(labels) == {0, 1} and 0.6 < np.mean(labels) < 0.8
    train = {r["text_a"] for r in splits["train"]}
    dev = {r["text_a"] for r in splits["validation"]}
    assert not train & dev
    # Headerless, four fields, the original annotation "*" on unacceptable sentences.
    first = (folder / "train.tsv").read_text().splitlines()[0].split("\t")
    assert len(first) == 4 and first[0] == "demo" and (first[2] == "*") == (first[1] == "0")
    assert 0.6 < X.label_summary("cola", folder)["train"] < 0.8


def test_stsb_shaped_task(tmp_path):
    folder = X.generate_stsb(tmp_path, seed=3, n_train=300, n_dev=80)
    task = get_task("stsb")
    splits = task.load("demo", folder)
    scores = np.array([r["label"] for r in splits["train"]])
    assert scores.min() >= 0.0 and scores.max() <= 5.0 and len(set(np.round(scores))) == 6
    base = task.baseline(splits["train"], splits["validation"])
    assert 1.5 < base["train_mean"] < 3.5


def test_same_seed_same_bytes(tmp_path):
    a = X.generate_stsb(tmp_path / "a", seed=5, n_train=50, n_dev=20)
    b = X.generate_stsb(tmp_path / "b", seed=5, n_train=50, n_dev=20)
    c = X.generate_cola(tmp_path / "c", seed=6, n_train=50, n_dev=20)
    assert (a / "train.tsv").read_bytes() == (b / "train.tsv").read_bytes()
    assert (c / "dev.tsv").read_bytes() != (X.generate_cola(tmp_path / "d", seed=7, n_train=50, n_dev=20) / "dev.tsv").read_bytes()
