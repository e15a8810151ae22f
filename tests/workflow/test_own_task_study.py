"""Tasks of your own through the pipeline: a generated CSV sentence-pair classification task with
string labels and a JSON Lines regression task, trained by snakemake on a tiny random BERT, then the deck."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from repo_copy import workdir_copy  # noqa: E402

from peftdeck.config import all_cells, load_config

WORDS = {"pos": ["good", "great", "fine", "lovely", "nice"], "neg": ["bad", "awful", "poor", "grim", "sad"]}
FILLER = ["the", "a", "film", "day", "was", "very", "quite", "food", "trip", "it"]


def _sentence(rng: random.Random, mood: str) -> str:
    words = rng.sample(FILLER, 4) + [rng.choice(WORDS[mood])]
    rng.shuffle(words)
    return " ".join(words)


def write_csv_task(folder: Path, n_train: int, n_dev: int, seed: int = 0) -> Path:
    """question,answer,label with labels "yes"/"no": does the answer keep the question's mood."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.csv", n_train), ("dev.csv", n_dev)):
        lines = ["question,answer,label"]
        for i in range(n):
            mood = rng.choice(["pos", "neg"])
            same = i % 2 == 0
            answer_mood = mood if same else ("neg" if mood == "pos" else "pos")
            # a comma inside a quoted field: standard CSV quoting
            lines.append(f'"{_sentence(rng, mood)}, right?",{_sentence(rng, answer_mood)},{"yes" if same else "no"}')
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def write_jsonl_task(folder: Path, n_train: int, n_dev: int, seed: int = 1) -> Path:
    """{"review": ..., "stars": float}: the share of positive words, times five."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.jsonl", n_train), ("dev.jsonl", n_dev)):
        with open(folder / name, "w", encoding="utf-8") as f:
            for _ in range(n):
                moods = [rng.choice(["pos", "neg"]) for _ in range(3)]
                text = " ".join(rng.choice(WORDS[m]) for m in moods) + " " + " ".join(rng.sample(FILLER, 3))
                f.write(json.dumps({"review": text, "stars": 5 * moods.count("pos") / 3}) + "\n")
    return folder


def vocab_of(*folders: Path) -> list[str]:
    words = set(FILLER) | {w for ws in WORDS.values() for w in ws} | {",", "?", "right"}
    chars = sorted({c for w in words for c in w})
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words), *(f"##{c}" for c in chars)]


def study(tmp_path: Path, model: Path) -> dict:
    return {
        "study": "own",
        "title": "Tasks of your own",
        "model": {"source": "random", "path": str(model), "name": "tiny random BERT"},
        "data": {
            "qa_match": {"source": "local", "path": str(write_csv_task(tmp_path / "data" / "qa_match", 64, 32)),
                         "text": ["question", "answer"], "label": "label"},
            "stars": {"source": "local", "path": str(write_jsonl_task(tmp_path / "data" / "stars", 64, 32)),
                      "format": "jsonl", "text": "review", "label": "stars", "problem": "regression"},
        },
        "methods": {"full_ft": {"lr": 1.0e-3}, "bitfit": {"lr": 1.0e-2}},
        "training": {"max_length": 32, "threads": 1},
        "experiments": {
            "glue": {"tasks": ["qa_match", "stars"], "methods": ["full_ft", "bitfit"],
                     "schedules": [{"epochs": 1}], "batch_sizes": [16]},
        },
    }


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_own_csv_and_jsonl_tasks_train_and_reach_the_deck(tmp_path):
    pytest.importorskip("transformers")
    from bench_inputs import tiny_model

    repo = workdir_copy(tmp_path)
    model = tiny_model(tmp_path / "model", vocab=vocab_of(), hidden=32, layers=1, heads=2)
    config = repo / "own.yaml"
    config.write_text(yaml.safe_dump(study(tmp_path, model), sort_keys=False), encoding="utf-8")
    cells = all_cells(load_config(config))
    assert len(cells) == 4

    proc = snakemake("--cores", "2", "deck", "--configfile", "own.yaml", cwd=repo)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    for cell in cells:
        result = json.loads((repo / cell.path).read_text())
        assert result["status"] == "complete"
        if cell.task == "qa_match":
            assert result["task"]["kind"] == "classification"
            assert result["task"]["metrics"] == ["accuracy", "f1", "matthews"]
            assert result["predictions"]["labels"] == {"0": "no", "1": "yes"}  # string labels, sorted
            assert result["task"]["n_train"] == 64 and result["task"]["n_eval"] == 32
        else:
            assert result["task"]["kind"] == "regression"
            assert result["task"]["metrics"] == ["pearson", "spearman"]
        assert set(result["metrics"]) == set(result["task"]["metrics"])
    deck = (repo / "slides" / "own" / "deck.md").read_text()
    assert deck.startswith("---")
    assert "| qa_match |" in deck and "| stars |" in deck  # the tasks table of part I
