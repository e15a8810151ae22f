"""Beyond BERT: the whole pipeline on tiny RoBERTa- and DeBERTa-v2-style encoders with the newer methods.

Each study (tests/workflow/configs/tiny-roberta.yaml, tiny-deberta.yaml) trains Full FT, IA3, DoRA,
LoRA on every linear layer and prefix tuning on one generated task, then builds the deck. The
encoders are built here from their configs (random weights, saved as safetensors: model source
`local`), with a character-level WordPiece vocabulary, so nothing is downloaded.

Prefix tuning needs an encoder that takes a key/value cache: RoBERTa does, DeBERTa-v2 does not. On
DeBERTa the prefix-tuning cell must fail with the message that says so, the other cells must
finish (--keep-going), and the deck is built from them (allow_missing).
"""
from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from repo_copy import workdir_copy  # noqa: E402
from test_pipeline import snakemake  # noqa: E402

from peftdeck.config import all_cells, load_config

transformers = pytest.importorskip("transformers")

H, LAYERS, HEADS, INTERMEDIATE = 32, 2, 2, 64
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CHARS = list(string.ascii_lowercase + string.digits + string.punctuation)
VOCAB = SPECIAL + CHARS + ["##" + c for c in string.ascii_lowercase + string.digits]
METHODS = ("full_ft", "ia3", "dora", "lora_all", "prefix_tuning")
PREFIX_ERROR = "takes no key/value cache, which prefix tuning needs"


def encoder_config(model_type: str):
    """A tiny encoder of the given type whose special ids are the vocabulary's ([PAD]=0, [CLS]=2, [SEP]=3)."""
    common = {"vocab_size": len(VOCAB), "hidden_size": H, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
              "intermediate_size": INTERMEDIATE, "max_position_embeddings": 128, "pad_token_id": 0}
    if model_type == "roberta":  # two segment embeddings: the WordPiece tokenizer writes token type ids
        return transformers.RobertaConfig(type_vocab_size=2, bos_token_id=2, eos_token_id=3, **common)
    # DeBERTa-v3-shaped: shared relative-position keys, no absolute positions.
    return transformers.DebertaV2Config(relative_attention=True, pos_att_type=["p2c", "c2p"], share_att_key=True,
                                        norm_rel_ebd="layer_norm", position_buckets=16, max_relative_positions=-1,
                                        position_biased_input=False, **common)


def write_encoder(folder: Path, model_type: str) -> None:
    """A model folder as the pipeline reads it: config.json, model.safetensors and a tokenizer."""
    import torch

    torch.manual_seed(0)
    model = transformers.AutoModel.from_config(encoder_config(model_type))
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "vocab.txt").write_text("".join(tok + "\n" for tok in VOCAB))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 128,
         "pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
         "mask_token": "[MASK]"}))


def study(tmp_path: Path, model_type: str, config: str) -> tuple[Path, dict]:
    repo = workdir_copy(tmp_path)
    cfg = load_config(repo / config)
    write_encoder(repo / cfg["model"]["path"], model_type)
    return repo, cfg


def results_rows(deck: str) -> list[str]:
    """The rows of the deck's Part I results table."""
    part = deck.split("# Part I — results", 1)[1].split("\n---", 1)[0]
    return [line for line in part.splitlines() if line.startswith("| ") and not line.startswith("| Method")]


def trainable(repo: Path, cfg: dict) -> dict[str, int]:
    return {c.method: json.loads((repo / c.path).read_text())["params"]["trainable"]
            for c in all_cells(cfg) if (repo / c.path).is_file()}


def check_counts(params: dict[str, int], total: int) -> None:
    """What each method trains, relative to the others (the head trains in every method)."""
    assert params["full_ft"] == total
    # IA3 scales a few vectors; LoRA on every linear layer adds rank-8 matrices to all of them.
    assert params["ia3"] < params["lora_all"] < params["full_ft"]
    # DoRA adapts query and value only (and a magnitude vector each): fewer than LoRA on every linear layer.
    assert params["ia3"] < params["dora"] < params["lora_all"]
    assert len(set(params.values())) == len(params), params


@pytest.mark.slow
def test_roberta_study_trains_every_method_and_builds_the_deck(tmp_path):
    repo, cfg = study(tmp_path, "roberta", "tests/workflow/configs/tiny-roberta.yaml")
    snakemake("--cores", "2", "deck", "--configfile", "tests/workflow/configs/tiny-roberta.yaml", cwd=repo)
    cells = all_cells(cfg)
    assert sorted(c.method for c in cells) == sorted(METHODS)
    results = {c.method: json.loads((repo / c.path).read_text()) for c in cells}
    assert all(r["status"] == "complete" for r in results.values())
    params = trainable(repo, cfg)
    total = results["full_ft"]["params"]["total"]
    check_counts(params, total)
    # Prefix tuning: a key and a value of the hidden size per layer and virtual token (4), plus the
    # RoBERTa head (classifier.dense and classifier.out_proj).
    assert params["prefix_tuning"] == 2 * LAYERS * H * 4 + (H * H + H) + (H * 2 + 2)
    deck = (repo / "slides/tinyroberta/deck.md").read_text()
    rows = results_rows(deck)
    for method in METHODS:
        label = cfg["methods"][method]["label"]
        assert any(row.startswith(f"| {label} |") or row.startswith(f"| **{label}** |") for row in rows), (label, rows)
    # Serving: every method timed; the LoRA-type ones (DoRA, LoRA all-linear) also merged.
    serving = deck.split("# Serving cost per method", 1)[1].split("\n---", 1)[0]
    for method in METHODS:
        label = cfg["methods"][method]["label"]
        row = next(line for line in serving.splitlines() if line.startswith(f"| {label} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 7 and all(c != "—" for c in cells[1:5]), row
        assert (cells[5] != "—") == (method in ("dora", "lora_all")), row
    assert "forward passes only" in serving


@pytest.mark.slow
def test_deberta_study_trains_every_method_but_prefix_tuning(tmp_path):
    repo, cfg = study(tmp_path, "deberta-v2", "tests/workflow/configs/tiny-deberta.yaml")
    config = "tests/workflow/configs/tiny-deberta.yaml"
    proc = snakemake("--cores", "2", "cells", "--keep-going", "--configfile", config, cwd=repo, check=False)
    assert proc.returncode != 0
    cells = {c.method: c for c in all_cells(cfg)}
    assert not (repo / cells["prefix_tuning"].path).exists()
    logs = {p.relative_to(repo / "results/tinydeberta/logs/runs").parts[1]: p.read_text()
            for p in (repo / "results/tinydeberta/logs/runs").rglob("*.log")}
    assert PREFIX_ERROR in logs["prefix_tuning"] and "deberta-v2" in logs["prefix_tuning"], logs["prefix_tuning"][-2000:]
    for method in set(METHODS) - {"prefix_tuning"}:
        assert json.loads((repo / cells[method].path).read_text())["status"] == "complete", method
    snakemake("--cores", "2", "deck", "--configfile", config, "--config", "allow_missing=true", cwd=repo)
    params = trainable(repo, cfg)
    total = json.loads((repo / cells["full_ft"].path).read_text())["params"]["total"]
    check_counts(params, total)
    deck = (repo / "slides/tinydeberta/deck.md").read_text()
    rows = results_rows(deck)
    for method in METHODS:
        label = cfg["methods"][method]["label"]
        assert any(row.startswith(f"| {label} |") or row.startswith(f"| **{label}** |") for row in rows), (label, rows)
