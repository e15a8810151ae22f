"""The frozen-feature probe script: the classifier it fits, its end-to-end run and its input checks."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "probe_features.py"
spec = importlib.util.spec_from_file_location("probe_features", SCRIPT)
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)


def test_probe_separates_informative_features_and_not_noise():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (400,), generator=g)
    noise = torch.randn(400, 16, generator=g)
    informative = noise.clone()
    informative[:, 0] += 4.0 * (2 * y - 1)  # one dimension carries the label
    labels = y.tolist()
    assert probe.probe_accuracy(informative[:300], labels[:300], informative[300:], labels[300:]) > 95
    assert probe.probe_accuracy(noise[:300], labels[:300], noise[300:], labels[300:]) < 70


def tiny_model(tmp_path: Path, words: list[str]) -> Path:
    """A one-layer BERT with a tokenizer over `words`, saved as a model folder."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    model_dir = tmp_path / "model"
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(model_dir)
    BertModel(BertConfig(vocab_size=5 + len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(model_dir)
    return model_dir


def test_runs_on_a_tiny_model_and_prints_every_view(tmp_path):
    model_dir = tiny_model(tmp_path, ["good", "bad", "film", "plot", "great", "dull"])
    data = tmp_path / "sst2"
    data.mkdir()
    for split, n in (("train", 40), ("dev", 20)):
        rows = [f"{'good great' if i % 2 else 'bad dull'} film\t{i % 2}" for i in range(n)]
        (data / f"{split}.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    out = subprocess.run([sys.executable, str(SCRIPT), "--model", str(model_dir), "--data", str(data),
                          "--train-size", "40"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "40 train / 20 dev sentences; majority-class baseline 50.0%" in out.stdout
    for view in ("cls", "pooler", "mean"):
        assert any(line.startswith(view) and "probe accuracy" in line for line in out.stdout.splitlines())


def test_a_pair_task_adds_the_pair_views(tmp_path):
    model_dir = tiny_model(tmp_path, ["ann", "bob", "paid", "sold", "car", "boat"])
    data = tmp_path / "mrpc"
    data.mkdir()
    for split, n in (("train", 30), ("dev", 10)):
        rows = [f"{i % 2}\t{i}\t{i + 100}\tann sold car\t{'ann sold car' if i % 2 else 'bob paid boat'}"
                for i in range(n)]
        (data / f"{split}.tsv").write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "\n".join(rows) + "\n")
    out = subprocess.run([sys.executable, str(SCRIPT), "--model", str(model_dir), "--data", str(data),
                          "--task", "mrpc", "--train-size", "30"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "30 train / 10 dev pairs; majority-class baseline 50.0%" in out.stdout
    printed = {line.split()[0] for line in out.stdout.splitlines()[1:]}
    assert printed == {"cls", "pooler", "mean", "pair", "apart"}


@pytest.mark.parametrize("what", ["data", "model"])
def test_missing_inputs_are_named(tmp_path, what):
    data, model = tmp_path / "data", tmp_path / "model"
    data.mkdir()
    model.mkdir()
    if what == "model":
        (data / "train.tsv").write_text("sentence\tlabel\n")
        (data / "dev.tsv").write_text("sentence\tlabel\n")
    out = subprocess.run([sys.executable, str(SCRIPT), "--model", str(model), "--data", str(data)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert f"--{what}:" in out.stderr and "not found" in out.stderr
