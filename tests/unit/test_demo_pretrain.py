"""The demo model builder: a loadable, reproducible tiny BERT from a short pre-training run."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from peftdeck.demo import data, pretrain  # noqa: E402

SRC = Path(data.__file__).resolve().parents[2]
# Small enough that a run takes seconds, large enough that the loss clearly falls.
QUICK = {"steps": 30, "batch_size": 16, "seq_len": 64, "threads": 2}


def build(corpus: Path, out: Path, seed: int = 0, **overrides) -> dict:
    logs: list[str] = []
    record = pretrain.pretrain(corpus, out, seed=seed, log=logs.append, **{**QUICK, **overrides})
    assert logs and logs[-1].startswith(f"wrote {out}")
    return record


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return data.generate_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt", seed=0, n_units=1000)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, corpus) -> Path:
    out = tmp_path_factory.mktemp("model") / "demo-bert"
    build(corpus, out)
    return out


def test_folder_holds_a_complete_hugging_face_model(model_dir):
    names = sorted(p.name for p in model_dir.iterdir())
    assert names == ["config.json", "model.safetensors", "pretrain.json", "special_tokens_map.json",
                     "tokenizer_config.json", "vocab.txt"]
    assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".")], "temp folder left behind"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["model_type"] == "bert"
    # 20 prompt-tuning virtual tokens in front of a 128-token input must still have positions.
    assert config["max_position_embeddings"] >= 160
    assert config["hidden_dropout_prob"] == 0.1
    tok_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "BertTokenizer" and tok_config["do_lower_case"] is True
    assert tok_config["model_max_length"] == 128


def test_record_shows_the_loss_falling(model_dir):
    record = json.loads((model_dir / "pretrain.json").read_text())
    assert record["seed"] == 0 and record["steps"] == QUICK["steps"]
    assert sum(p["steps"] for p in record["phases"]) == QUICK["steps"]
    held = record["held_out"]
    assert held["final"]["mlm_loss"] < held["initial"]["mlm_loss"] - 1.0
    curve = [loss for _, loss in record["loss_curve"]]
    assert len(curve) == QUICK["steps"] // 10
    assert curve[-1] < curve[0]
    assert record["final_mlm_loss"] < record["first_mlm_loss"]
    assert record["wall_s"] > 0 and record["corpus"]["lines"] > 0


def test_tokenizer_loads_offline_with_bert_special_tokens(model_dir):
    from transformers import AutoTokenizer, BertTokenizer, BertTokenizerFast

    # transformers 5 takes the vocabulary file as `vocab=`; `vocab_file=` is silently ignored there.
    for tok in (AutoTokenizer.from_pretrained(model_dir, local_files_only=True),
                BertTokenizerFast.from_pretrained(model_dir, local_files_only=True),
                BertTokenizer(vocab=str(model_dir / "vocab.txt"))):
        assert [tok.convert_tokens_to_ids(t) for t in pretrain.SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
        enc = tok("The film was CHARMING .", "Anna lives in Lisbon.")
        tokens = tok.convert_ids_to_tokens(enc["input_ids"])
        assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2
        assert "charming" in tokens and "[UNK]" not in tokens
        assert set(enc["token_type_ids"]) == {0, 1}


def test_heads_for_fine_tuning_are_the_only_new_weights(model_dir):
    import torch
    from transformers import BertForQuestionAnswering, BertForSequenceClassification

    clf, info = BertForSequenceClassification.from_pretrained(model_dir, num_labels=2, local_files_only=True,
                                                              output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    qa, info = BertForQuestionAnswering.from_pretrained(model_dir, local_files_only=True, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["qa_outputs.bias", "qa_outputs.weight"]
    # Prompt tuning feeds 20 virtual tokens plus 128 real ones as embeddings.
    with torch.no_grad():
        out = clf(inputs_embeds=torch.zeros(1, 148, clf.config.hidden_size))
        assert out.logits.shape == (1, 2)
        ids = torch.tensor([[2] + [10] * 126 + [3]])
        start = qa(input_ids=ids).start_logits
        assert start.shape == (1, 128) and torch.isfinite(start).all()


def test_same_seed_same_model_other_seed_other_model(tmp_path, corpus, model_dir):
    # A few steps are enough to see any difference in data order, masks or initialisation.
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        build(corpus, tmp_path / name, seed=seed, steps=6, batch_size=8)
    weights = {name: (tmp_path / name / "model.safetensors").read_bytes() for name in "abc"}
    assert weights["a"] == weights["b"] != weights["c"]
    assert (tmp_path / "a" / "vocab.txt").read_bytes() == (model_dir / "vocab.txt").read_bytes()


def test_vocabulary_training_is_reproducible(tmp_path, corpus):
    # The tokenizers trainer alone breaks frequency ties in hash-map order; three runs must agree.
    vocabs = {pretrain.train_tokenizer(corpus, tmp_path / str(i), vocab_size=600).read_text() for i in range(3)}
    assert len(vocabs) == 1
    tokens = vocabs.pop().split("\n")
    assert tokens[:5] == list(pretrain.SPECIAL_TOKENS) and len(tokens) - 1 == 600


def test_zero_steps_saves_the_initial_model(tmp_path, corpus):
    record = build(corpus, tmp_path / "init", steps=0)
    assert record["final_mlm_loss"] is None
    assert record["held_out"]["final"] == record["held_out"]["initial"]
    assert (tmp_path / "init" / "model.safetensors").is_file()


def test_packing_builds_bert_pairs_within_the_length():
    rng = random.Random(0)
    lines = [[10 + (i % 50)] * rng.randrange(1, 30) for i in range(400)]
    in_order = pretrain.pack_sequences(lines, 32)
    # Without next-sentence negatives every token is kept, in corpus order.
    assert [t for ids, _, _ in in_order for t in ids if t >= 10] == [t for x in lines for t in x]
    assert all(y != pretrain.NOT_NEXT for _, _, y in in_order)
    packed = pretrain.pack_sequences(lines, 32, random.Random(1))
    labels = [label for _, _, label in packed]
    for ids, types, label in packed:
        assert len(ids) == len(types) <= 32 and ids[0] == pretrain.CLS_ID and ids[-1] == pretrain.SEP_ID
        assert ids.count(pretrain.SEP_ID) == (1 if label == pretrain.NO_PAIR else 2)
        assert types == sorted(types) and types[0] == 0
    pairs = [y for y in labels if y != pretrain.NO_PAIR]
    assert 0.35 < pairs.count(pretrain.NOT_NEXT) / len(pairs) < 0.65


def test_a_failed_run_leaves_no_folder(tmp_path):
    # One line: the vocabulary gets written, then the hold-out leaves nothing to train on.
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("just one line of text .\n")
    with pytest.raises(ValueError, match="too small"):
        pretrain.pretrain(tiny, tmp_path / "model", seed=0, **QUICK, log=lambda _: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.txt"]


@pytest.mark.parametrize("args, message", [
    (["--out", "m", "--seed", "0"], "--corpus"),
    (["--corpus", "no-such-file.txt", "--out", "m", "--seed", "0"], "file not found"),
    (["--corpus", "c.txt", "--out", "m", "--seed", "0", "--steps", "-1"], "integer >= 0"),
    (["--corpus", "c.txt", "--out", "m", "--seed", "0", "--hidden-size", "64", "--num-heads", "3"], "divisible"),
])
def test_cli_rejects_bad_arguments(tmp_path, args, message):
    (tmp_path / "c.txt").write_text("some text .\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-m", "peftdeck.demo.pretrain", *args], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "m").exists()
