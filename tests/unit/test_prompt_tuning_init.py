"""Prompt tuning's start: random, vocabulary-token or task-phrase embeddings, read offline."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from peftdeck.demo import data, pretrain  # noqa: E402
from peftdeck.methods import apply_method  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    corpus = data.generate_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt", seed=0, n_units=300)
    out = tmp_path_factory.mktemp("model") / "demo-bert"
    pretrain.pretrain(corpus, out, seed=0, steps=0, batch_size=8, seq_len=32, log=lambda _: None)
    return out


def classifier(model_dir):
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification.from_pretrained(model_dir, num_labels=2, local_files_only=True)


def prompt_rows(model):
    return model.prompt_encoder["default"].embedding.weight.detach()


def test_text_init_copies_the_phrase_embeddings(model_dir):
    import torch
    from transformers import AutoTokenizer

    phrase = "is this review positive or negative ?"
    base = classifier(model_dir)
    words = base.bert.embeddings.word_embeddings.weight.detach().clone()
    model = apply_method(base, "prompt_tuning", "classification",
                         {"num_virtual_tokens": 12, "init": "text", "init_text": phrase})
    ids = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)(phrase)["input_ids"]
    # [CLS] first: the pooled position starts as the token the encoder was pre-trained to pool.
    assert ids[0] == pretrain.CLS_ID
    expected = (ids * 12)[:12]
    assert torch.equal(prompt_rows(model), words[expected])


def test_vocab_init_uses_vocabulary_rows_and_random_does_not(model_dir):
    import torch

    base = classifier(model_dir)
    words = base.bert.embeddings.word_embeddings.weight.detach().clone()
    vocab = prompt_rows(apply_method(base, "prompt_tuning", "classification", {"num_virtual_tokens": 6, "init": "vocab"}))
    assert all(any(torch.equal(row, w) for w in words) for row in vocab)
    rand = prompt_rows(apply_method(classifier(model_dir), "prompt_tuning", "classification", {"num_virtual_tokens": 6}))
    assert not any(torch.equal(row, w) for row in rand for w in words)


@pytest.mark.parametrize("options, message", [
    ({"init": "text"}, "needs init_text"),
    ({"init": "words", "init_text": "x"}, "init must be one of"),
    ({"init": "vocab", "init_text": "x"}, "only used with init: text"),
])
def test_bad_init_options_are_refused(model_dir, options, message):
    with pytest.raises(ValueError, match=message):
        apply_method(classifier(model_dir), "prompt_tuning", "classification", options)


def test_schema_checks_the_init_option():
    from peftdeck.config import ConfigError, validate

    def config(method):
        return {"study": "s", "model": {"source": "demo"}, "data": {"sst2": {"source": "demo"}},
                "methods": {"pt": method},
                "experiments": {"glue": {"tasks": ["sst2"], "methods": ["pt"], "train_sizes": [10],
                                         "schedules": [{"epochs": 1}], "batch_sizes": [4], "seeds": [1]}}}

    ok = validate(config({"kind": "prompt_tuning", "lr": 0.3, "init": "text", "init_text": "a phrase"}))
    assert ok["methods"]["pt"]["init"] == "text"
    with pytest.raises(ConfigError, match="init"):
        validate(config({"kind": "prompt_tuning", "lr": 0.3, "init": "sample"}))
