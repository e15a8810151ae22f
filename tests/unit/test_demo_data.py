"""The demo data generator: real file formats, determinism, label balance and a learnable signal."""
from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from peftdeck.demo import data

SMALL = {"classification_train": 300, "classification_eval": 80, "qa_train": 200, "qa_eval": 60}
SRC = Path(data.__file__).resolve().parents[2]


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    # Exactly how GLUE files must be read: tab-separated, quoting off.
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[0], rows[1:]


def all_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "peftdeck.demo.data", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    """The default-size data set, generated once for the module."""
    out = tmp_path_factory.mktemp("demo") / "data"
    data.generate_all(out, seed=0)
    return out


# --- determinism and layout -----------------------------------------------------------------------

def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    data.generate_all(tmp_path / "a", seed=3, sizes=SMALL, corpus_units=300)
    data.generate_all(tmp_path / "b", seed=3, sizes=SMALL, corpus_units=300)
    data.generate_all(tmp_path / "c", seed=4, sizes=SMALL, corpus_units=300)
    a, b, c = (all_files(tmp_path / x) for x in "abc")
    assert a == b
    assert a.keys() == c.keys()
    for name in a:
        if name != "manifest.json":
            assert a[name] != c[name], f"{name} does not depend on the seed"


def test_layout_matches_the_real_distributions(full):
    expected = {"sst2/train.tsv", "sst2/dev.tsv", "mrpc/train.tsv", "mrpc/dev.tsv", "rte/train.tsv", "rte/dev.tsv",
                "cola/train.tsv", "cola/dev.tsv", "stsb/train.tsv", "stsb/dev.tsv",
                "squad/train-v1.1.json", "squad/dev-v1.1.json", "corpus.txt", "manifest.json"}
    assert set(all_files(full)) == expected
    assert not [p.name for p in full.parent.iterdir() if p.name.startswith(".")], "temp folder left behind"
    manifest = json.loads((full / "manifest.json").read_text())
    assert manifest["seed"] == 0
    assert manifest["tasks"]["squad"] == {"train": 3000, "dev": 500, "files": ["dev-v1.1.json", "train-v1.1.json"],
                                          "positive_rate": None}
    # CoLA: share of acceptable sentences; STS-B: mean similarity score (0-5).
    assert 0.6 < manifest["tasks"]["cola"]["positive_rate"]["train"] < 0.8
    assert 2.0 < manifest["tasks"]["stsb"]["positive_rate"]["dev"] < 3.0


def test_sizes_follow_config_keys_and_task_overrides():
    sizes = data.resolve_sizes({"classification_train": 50, "qa_eval": 7, "rte": (20, 10)})
    assert sizes == {"sst2": (50, 400), "mrpc": (50, 400), "rte": (20, 10), "squad": (3000, 7),
                     "cola": (50, 400), "stsb": (50, 400)}
    with pytest.raises(ValueError, match="unknown size key"):
        data.resolve_sizes({"classification_dev": 10})
    with pytest.raises(ValueError, match="positive integers"):
        data.resolve_sizes({"sst2": (0, 10)})


# --- formats --------------------------------------------------------------------------------------

def test_sst2_format_and_balance(full):
    for split, n in (("train", 2000), ("dev", 400)):
        header, rows = read_tsv(full / "sst2" / f"{split}.tsv")
        assert header == ["sentence", "label"]
        assert len(rows) == n
        assert all(len(r) == 2 and r[1] in ("0", "1") and r[0] for r in rows)
        assert 0.4 < sum(r[1] == "1" for r in rows) / n < 0.6


def test_mrpc_format_and_positive_rate_like_mrpc(full):
    for split, n in (("train", 2000), ("dev", 400)):
        header, rows = read_tsv(full / "mrpc" / f"{split}.tsv")
        assert header == ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
        assert len(rows) == n
        assert all(len(r) == 5 and r[0] in ("0", "1") and r[1].isdigit() and r[2].isdigit() for r in rows)
        # The real MRPC is 68% paraphrases, which makes the majority baseline a real bar to clear.
        assert 0.6 < sum(r[0] == "1" for r in rows) / n < 0.76


def test_rte_format_and_balance(full):
    for split, n in (("train", 2000), ("dev", 400)):
        header, rows = read_tsv(full / "rte" / f"{split}.tsv")
        assert header == ["index", "sentence1", "sentence2", "label"]
        assert [r[0] for r in rows] == [str(i) for i in range(n)]
        assert {r[3] for r in rows} == {"entailment", "not_entailment"}
        assert 0.42 < sum(r[3] == "entailment" for r in rows) / n < 0.58


def test_squad_is_official_v11_json_with_exact_spans(full):
    seen_ids: set[str] = set()
    for split, n in (("train", 3000), ("dev", 500)):
        obj = json.loads((full / "squad" / f"{split}-v1.1.json").read_text(encoding="utf-8"))
        assert obj["version"] == "1.1"
        answers_per_question = []
        for article in obj["data"]:
            assert set(article) == {"title", "paragraphs"}
            for paragraph in article["paragraphs"]:
                assert set(paragraph) == {"context", "qas"}
                context = paragraph["context"]
                for qa in paragraph["qas"]:
                    assert set(qa) == {"id", "question", "answers"}
                    assert qa["id"] not in seen_ids
                    seen_ids.add(qa["id"])
                    assert qa["question"].endswith("?")
                    answers_per_question.append(len(qa["answers"]))
                    for answer in qa["answers"]:
                        start, text = answer["answer_start"], answer["text"]
                        assert context[start:start + len(text)] == text
        assert len(answers_per_question) == n
        if split == "train":
            assert set(answers_per_question) == {1}
        else:
            assert set(answers_per_question) == {1, 2, 3}


def test_check_squad_rejects_a_shifted_answer():
    good = {"data": [{"title": "t", "paragraphs": [{"context": "Anna was born in Lisbon.", "qas": [
        {"id": "x", "question": "Where?", "answers": [{"text": "Lisbon", "answer_start": 17}]}]}]}], "version": "1.1"}
    assert data.check_squad(good) == 1
    good["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 16
    with pytest.raises(ValueError, match="not at offset 16"):
        data.check_squad(good)


def test_no_dev_example_repeats_a_training_example(full):
    for task, key in (("sst2", lambda r: r[0]), ("mrpc", lambda r: (r[3], r[4])), ("rte", lambda r: (r[1], r[2]))):
        train = {key(r) for r in read_tsv(full / task / "train.tsv")[1]}
        dev = [key(r) for r in read_tsv(full / task / "dev.tsv")[1]]
        assert not train.intersection(dev), task
    contexts = {}
    for split in ("train", "dev"):
        obj = json.loads((full / "squad" / f"{split}-v1.1.json").read_text(encoding="utf-8"))
        contexts[split] = {p["context"] for a in obj["data"] for p in a["paragraphs"]}
    assert not contexts["train"] & contexts["dev"]


def test_corpus_is_plain_text_from_the_same_grammar(full):
    lines = (full / "corpus.txt").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and all(lines[:-1])
    assert len(lines) > 12000
    text = "\n".join(lines)
    assert "\t" not in text
    assert " is a city in " in text and " was born in " in text
    # Exactly the main grammar's lines: generating CoLA/STS-B as well leaves the corpus unchanged.
    assert lines[:-1] == data.corpus_lines(0, data.DEFAULT_CORPUS_UNITS)


def test_cola_and_stsb_load_through_the_glue_readers(full):
    from peftdeck.tasks import get_task
    cola = get_task("cola").load("demo", full / "cola")
    stsb = get_task("stsb").load("demo", full / "stsb")
    assert len(cola["train"]) == 2000 and len(stsb["validation"]) == 400


# --- the signal -----------------------------------------------------------------------------------

def naive_bayes_accuracy(train: list[tuple[list[str], str]], dev: list[tuple[list[str], str]]) -> float:
    counts: dict[str, Counter] = {}
    prior: Counter = Counter()
    for feats, y in train:
        prior[y] += 1
        counts.setdefault(y, Counter()).update(feats)
    vocab = {f for c in counts.values() for f in c}
    totals = {y: sum(c.values()) for y, c in counts.items()}

    def score(feats: list[str], y: str) -> float:
        return math.log(prior[y]) + sum(math.log((counts[y][f] + 1) / (totals[y] + len(vocab))) for f in feats)

    return sum(max(prior, key=lambda y: score(feats, y)) == gold for feats, gold in dev) / len(dev)


def ngrams(text: str) -> list[str]:
    words = text.split()
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:])]


def test_sst2_signal_is_learnable_by_word_counts(full):
    train = [(ngrams(s), y) for s, y in read_tsv(full / "sst2" / "train.tsv")[1]]
    dev = [(ngrams(s), y) for s, y in read_tsv(full / "sst2" / "dev.tsv")[1]]
    majority = Counter(y for _, y in train).most_common(1)[0][0]
    baseline = sum(y == majority for _, y in dev) / len(dev)
    accuracy = naive_bayes_accuracy(train, dev)
    assert accuracy > baseline + 0.2, (accuracy, baseline)
    # Negation and "but" clauses keep word counts well below what a fine-tuned encoder can reach.
    assert accuracy < 0.92


def test_rte_hypothesis_alone_does_not_give_the_label_away(full):
    train = [(ngrams(r[2]), r[3]) for r in read_tsv(full / "rte" / "train.tsv")[1]]
    dev = [(ngrams(r[2]), r[3]) for r in read_tsv(full / "rte" / "dev.tsv")[1]]
    assert naive_bayes_accuracy(train, dev) < 0.62


# --- command line and atomic output ---------------------------------------------------------------

def test_generator_does_not_import_torch_or_numpy():
    code = "import sys, peftdeck.demo.data; bad = {'torch', 'numpy'} & set(sys.modules); assert not bad, bad"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_cli_writes_the_folder(tmp_path):
    out = tmp_path / "demo_data"
    result = run_cli("--out", str(out), "--seed", "5", "--classification-train", "40", "--classification-eval", "20",
                     "--qa-train", "30", "--qa-eval", "10", "--corpus-units", "50", "--tasks", "sst2,squad")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["corpus.txt", "manifest.json", "squad", "sst2"]
    assert len(read_tsv(out / "sst2" / "dev.tsv")[1]) == 20
    assert "sst2: 40 train / 20 dev" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--seed", "1"], "--out"),
    (["--out", "x", "--seed", "1", "--qa-train", "0"], "positive integer"),
    (["--out", "x", "--seed", "one"], "invalid int"),
    (["--out", "x", "--seed", "1", "--tasks", "sst2,qnli"], "unknown task"),
])
def test_cli_rejects_bad_arguments(tmp_path, args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_output_replaces_an_old_folder_and_a_failure_leaves_none(tmp_path, monkeypatch):
    out = tmp_path / "data"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    data.generate_all(out, seed=1, sizes=SMALL, corpus_units=50, tasks=("sst2",))
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]

    def boom(*args, **kwargs):
        raise RuntimeError("killed half-way")

    monkeypatch.setattr(data, "generate_corpus", boom)
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError, match="killed half-way"):
        data.generate_all(fresh, seed=1, sizes=SMALL, tasks=("sst2",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
