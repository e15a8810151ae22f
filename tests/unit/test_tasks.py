"""Task registry, loaders (original files and saved Hub copies), encoding, scoring, baselines."""
from __future__ import annotations

import csv
import os
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from peftdeck.tasks import TASKS, get_task

SRC = Path(__file__).resolve().parents[2] / "src"


def tiny_tokenizer():
    """A fast BERT tokenizer over a toy vocabulary: unknown words fall back to characters."""
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += list(string.ascii_lowercase) + ["##" + c for c in string.ascii_lowercase]
    vocab += list(string.digits) + ["##" + c for c in string.digits] + list(string.punctuation)
    vocab += ["the", "a", "cat", "dog", "sat", "on", "mat", "is", "good", "bad", "film", "movie"]
    return BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


# --- registry ------------------------------------------------------------------------------

EXPECTED = {
    "sst2": ("classification", 2, ["accuracy"]),
    "mrpc": ("classification", 2, ["f1", "accuracy"]),
    "rte": ("classification", 2, ["accuracy"]),
    "cola": ("classification", 2, ["matthews"]),
    "stsb": ("regression", 1, ["pearson", "spearman"]),
    "imdb": ("classification", 2, ["accuracy"]),
    "squad": ("qa", None, ["exact_match", "f1"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registry_attributes(name):
    task = get_task(name)
    kind, num_labels, metrics = EXPECTED[name]
    assert TASKS[name] is task
    assert (task.name, task.kind, task.num_labels, task.metrics) == (name, kind, num_labels, metrics)
    assert task.primary_metric == metrics[0]
    assert set(task.default_files) == {"train", "validation"}


def test_registry_is_complete_and_default_files():
    assert set(TASKS) == set(EXPECTED)
    assert get_task("sst2").default_files == {"train": "train.tsv", "validation": "dev.tsv"}
    assert get_task("squad").default_files == {"train": "train-v1.1.json", "validation": "dev-v1.1.json"}
    assert get_task("squad").doc_stride == 128


def test_unknown_task_names_known_ones():
    with pytest.raises(ValueError) as err:
        get_task("mnli")
    message = str(err.value)
    assert "'mnli'" in message
    for name in EXPECTED:
        assert name in message


def test_import_stays_light():
    code = (
        "import sys, peftdeck\n"
        "pre = {m for m in ('torch', 'transformers', 'datasets') if m in sys.modules}\n"
        "import peftdeck.tasks, peftdeck.metrics\n"
        "post = {m for m in ('torch', 'transformers', 'datasets') if m in sys.modules}\n"
        "print(sorted(post - pre))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


# --- tiny originals and Hub copies ---------------------------------------------------------

# Each task: (train rows, validation rows) as (text_a, text_b, label) in the canonical row form.
DATA = {
    "sst2": (
        [('a " quoted good film ', None, 1), ("bad movie ", None, 0), ("good , good ", None, 1)],
        [("the cat is bad ", None, 0), ('so "good" ', None, 1)],
    ),
    "mrpc": (
        [('He said " yes " .', "He agreed .", 1), ("A cat .", "A dog .", 0), ("x", "y", 1)],
        [("The film .", "The movie .", 1), ("One", "Two", 0)],
    ),
    "rte": (
        [("The cat sat on the mat.", "A cat sat.", 0), ("It rained.", "It was sunny.", 1)],
        [("Dogs bark.", "Dogs make noise.", 0), ("A is B.", "B is C.", 1)],
    ),
    "cola": (
        [("The cat sat.", None, 1), ("Cat the sat.", None, 0), ('She said "hi".', None, 1)],
        [("Good film.", None, 1), ("Film good the.", None, 0)],
    ),
    "stsb": (
        [("A man is dancing.", "A man dances.", 4.75), ("A cat.", "A plane.", 0.2), ("x", "y", 3.8)],
        [("A dog runs.", "A dog is running.", 5.0), ("Hi.", "Bye.", 0.6)],
    ),
    "imdb": (
        [('A "great", long film,\nwith a newline.', None, 1), ("Bad, bad movie.", None, 0)],
        [("Good film.", None, 1), ("Terrible; awful.", None, 0)],
    ),
}


def as_rows(triples):
    return [{"text_a": a, "text_b": b, "label": lab} for a, b, lab in triples]


def write_original(name: str, folder: Path, split: str, triples) -> Path:
    """Write one split exactly as the original distribution lays it out."""
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / get_task(name).default_files[split]
    if name == "imdb":
        with open(file, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows([a, lab] for a, _, lab in triples)
        return file
    if name == "sst2":
        lines = ["sentence\tlabel"] + [f"{a}\t{lab}" for a, _, lab in triples]
    elif name == "mrpc":
        lines = ["\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
        lines += [f"{lab}\t{100 + i}\t{200 + i}\t{a}\t{b}" for i, (a, b, lab) in enumerate(triples)]
    elif name == "rte":
        words = {0: "entailment", 1: "not_entailment"}
        lines = ["index\tsentence1\tsentence2\tlabel"]
        lines += [f"{i}\t{a}\t{b}\t{words[lab]}" for i, (a, b, lab) in enumerate(triples)]
    elif name == "cola":
        lines = [f"gj04\t{lab}\t{'' if lab else '*'}\t{a}" for a, _, lab in triples]
    elif name == "stsb":
        lines = ["index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"]
        lines += [
            f"{i}\tmain-captions\tMSRvid\t2012test\t{i:04d}\tnone\tnone\t{a}\t{b}\t{lab:.3f}"
            for i, (a, b, lab) in enumerate(triples)
        ]
    text = "\n".join(lines)
    # CoLA dev ends without a newline in the original; keep that quirk
    if not (name == "cola" and split == "validation"):
        text += "\n"
    file.write_text(text, encoding="utf-8")
    return file


HUB_LAYOUT = {  # task -> (config columns in HF order, label names or None for float)
    "sst2": (["sentence"], ["negative", "positive"]),
    "mrpc": (["sentence1", "sentence2"], ["not_equivalent", "equivalent"]),
    "rte": (["sentence1", "sentence2"], ["entailment", "not_entailment"]),
    "cola": (["sentence"], ["unacceptable", "acceptable"]),
    "stsb": (["sentence1", "sentence2"], None),
    "imdb": (["text"], ["neg", "pos"]),
}


def write_hub(name: str, folder: Path, data=None) -> Path:
    """Save a DatasetDict in the column layout of the Hub's glue/imdb datasets."""
    import datasets

    cols, names = HUB_LAYOUT[name]
    label = datasets.Value("float32") if names is None else datasets.ClassLabel(names=names)
    features = {c: datasets.Value("string") for c in cols}
    features["label"] = label
    if name != "imdb":
        features["idx"] = datasets.Value("int32")
    splits = {"train": "train", "validation": "test" if name == "imdb" else "validation"}
    out = {}
    for split, hub_split in splits.items():
        triples = (data or DATA[name])[0 if split == "train" else 1]
        columns = {cols[0]: [t[0] for t in triples]}
        if len(cols) == 2:
            columns[cols[1]] = [t[1] for t in triples]
        columns["label"] = [t[2] for t in triples]
        if name != "imdb":
            columns["idx"] = list(range(len(triples)))
        out[hub_split] = datasets.Dataset.from_dict(columns, features=datasets.Features(features))
    datasets.DatasetDict(out).save_to_disk(str(folder))
    return folder


@pytest.mark.parametrize("name", sorted(DATA))
def test_local_original_files(name, tmp_path):
    train, dev = DATA[name]
    write_original(name, tmp_path, "train", train)
    write_original(name, tmp_path, "validation", dev)
    for source in ("local", "demo"):
        splits = get_task(name).load(source, tmp_path)
        assert splits == {"train": as_rows(train), "validation": as_rows(dev)}


@pytest.mark.parametrize("name", sorted(DATA))
def test_hub_copy_gives_the_same_rows(name, tmp_path):
    train, dev = DATA[name]
    write_hub(name, tmp_path / "hub")
    splits = get_task(name).load("hub", tmp_path / "hub")
    assert splits == {"train": as_rows(train), "validation": as_rows(dev)}


def test_imdb_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    train, dev = DATA["imdb"]
    for split, triples in (("train", train), ("validation", dev)):
        table = pa.table({"text": [t[0] for t in triples], "label": [t[2] for t in triples]})
        pq.write_table(table, tmp_path / f"{split}.parquet")
    names = {"train": "train.parquet", "validation": "validation.parquet"}
    splits = get_task("imdb").load("local", tmp_path, files=names)
    assert splits == {"train": as_rows(train), "validation": as_rows(dev)}


def test_files_override_keeps_other_defaults(tmp_path):
    write_original("sst2", tmp_path, "validation", DATA["sst2"][1])
    (tmp_path / "small.tsv").write_text("sentence\tlabel\ngood film \t1\n", encoding="utf-8")
    task = get_task("sst2")
    splits = task.load("local", tmp_path, files={"train": "small.tsv"})
    assert splits["train"] == [{"text_a": "good film ", "text_b": None, "label": 1}]
    assert len(splits["validation"]) == 2
    read = task.data_paths("local", tmp_path, {"train": "small.tsv"})
    assert read == sorted([tmp_path / "dev.tsv", tmp_path / "small.tsv"])
    with pytest.raises(ValueError, match="test"):
        task.load("local", tmp_path, files={"test": "x.tsv"})


# --- errors ---------------------------------------------------------------------------------


def test_missing_folder_and_file_say_what_to_do(tmp_path):
    task = get_task("mrpc")
    with pytest.raises(FileNotFoundError) as err:
        task.load("local", tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value)
    assert "download rule" in str(err.value) and "data.mrpc.path" in str(err.value)
    write_original("mrpc", tmp_path, "train", DATA["mrpc"][0])
    with pytest.raises(FileNotFoundError) as err:
        task.load("local", tmp_path)
    assert str(tmp_path / "dev.tsv") in str(err.value)
    with pytest.raises(FileNotFoundError, match="download rule"):
        task.load("hub", tmp_path / "no-hub-copy")
    with pytest.raises(FileNotFoundError, match="not a dataset saved"):
        task.load("hub", tmp_path)  # a folder, but no saved DatasetDict in it


def test_unknown_source(tmp_path):
    with pytest.raises(ValueError, match="unknown data source"):
        get_task("sst2").load("s3", tmp_path)


@pytest.mark.parametrize(
    "name, content, where",
    [
        ("sst2", "sentence\tlabel\ngood\t1\nbad\t0\textra\n", "line 3"),  # wrong field count
        ("sst2", "sentence\tlabel\ngood\t1\nbad\tpositive\n", "line 3"),  # label not a class id
        ("sst2", "sentence\tlabel\ngood\t7\n", "line 2"),  # class id out of range
        ("sst2", "text\tlabel\ngood\t1\n", "line 1"),  # header lacks the sentence column
        ("rte", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tcontradiction\n", "line 2"),
        ("cola", "gj04\t1\t\tfine.\ngj04\t1\tfine.\n", "line 2"),
        ("stsb", "a\tsentence1\tsentence2\tscore\n0\tx\ty\tnan\n", "line 2"),
        ("sst2", "sentence\tlabel\n", "no data rows"),
    ],
)
def test_corrupt_file_names_file_and_line(name, content, where, tmp_path):
    task = get_task(name)
    write_original(name, tmp_path, "validation", DATA[name][1])
    (tmp_path / task.default_files["train"]).write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as err:
        task.load("local", tmp_path)
    assert str(tmp_path / task.default_files["train"]) in str(err.value)
    assert where in str(err.value)


def test_invalid_utf8_names_line(tmp_path):
    task = get_task("sst2")
    write_original("sst2", tmp_path, "validation", DATA["sst2"][1])
    (tmp_path / "train.tsv").write_bytes(b"sentence\tlabel\ngood\t1\nbad \xff\t0\n")
    with pytest.raises(ValueError, match="line 3"):
        task.load("local", tmp_path)


def test_hub_copy_with_wrong_columns(tmp_path):
    write_hub("sst2", tmp_path / "hub")
    with pytest.raises(ValueError, match="sentence1"):
        get_task("mrpc").load("hub", tmp_path / "hub")


def test_fetch_hub_saves_what_load_reads(tmp_path, monkeypatch):
    import datasets

    write_hub("imdb", tmp_path / "fake")
    fake = datasets.load_from_disk(str(tmp_path / "fake"))
    fake["unsupervised"] = fake["train"]  # the real IMDB has it; we do not keep it
    calls = []

    def fake_load_dataset(*args, **kwargs):
        calls.append(args)
        return fake

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    task = get_task("imdb")
    dest = task.fetch_hub(tmp_path / "resources" / "imdb")
    assert calls == [("stanfordnlp/imdb",)]
    assert sorted(datasets.load_from_disk(str(dest))) == ["test", "train"]
    assert task.load("hub", dest)["validation"] == as_rows(DATA["imdb"][1])
    assert not (tmp_path / "resources" / "imdb.partial").exists()

    calls.clear()
    write_hub("sst2", tmp_path / "fake-sst2")
    fake = datasets.load_from_disk(str(tmp_path / "fake-sst2"))
    get_task("sst2").fetch_hub(tmp_path / "resources" / "sst2", hub_id="nyu-mll/glue")
    assert calls == [("nyu-mll/glue", "sst2")]


# --- sub-sampling -------------------------------------------------------------------------


def test_subsample_deterministic_nested_and_ordered():
    task = get_task("sst2")
    rows = [{"text_a": str(i), "text_b": None, "label": i % 2} for i in range(100)]
    a = task.subsample(rows, 10, seed=3)
    assert a == task.subsample(rows, 10, seed=3)
    assert a != task.subsample(rows, 10, seed=4)
    assert len(a) == 10 and len({r["text_a"] for r in a}) == 10
    assert [int(r["text_a"]) for r in a] == sorted(int(r["text_a"]) for r in a)
    bigger = task.subsample(rows, 30, seed=3)
    assert all(r in bigger for r in a)
    assert task.subsample(rows, "all", seed=3) == rows
    assert task.subsample(rows, 100, seed=0) == rows


def test_subsample_errors():
    task = get_task("rte")
    rows = [{"text_a": "x", "text_b": "y", "label": 0}] * 5
    with pytest.raises(ValueError) as err:
        task.subsample(rows, 6, seed=0)
    assert "rte" in str(err.value) and "n=6" in str(err.value) and "5" in str(err.value)
    for bad in (0, -1, 2.5, "some", True):
        with pytest.raises(ValueError):
            task.subsample(rows, bad, seed=0)


# --- encoding ---------------------------------------------------------------------------------


def test_encode_single_and_pair_unpadded():
    tok = tiny_tokenizer()
    rows = as_rows(DATA["sst2"][0])
    enc = get_task("sst2").encode_train(rows, tok, max_length=64)
    assert set(enc) == {"input_ids", "token_type_ids", "labels"}
    assert enc["labels"] == [1, 0, 1]
    lengths = [len(x) for x in enc["input_ids"]]
    assert len(set(lengths)) > 1  # not padded
    assert [len(x) for x in enc["token_type_ids"]] == lengths
    assert all(set(t) == {0} for t in enc["token_type_ids"])
    assert all(x[0] == tok.cls_token_id and x[-1] == tok.sep_token_id for x in enc["input_ids"])

    pair = get_task("mrpc").encode_eval(as_rows(DATA["mrpc"][0]), tok, max_length=64)
    assert pair["labels"] == [1, 0, 1]
    assert all(1 in t for t in pair["token_type_ids"])
    truncated = get_task("mrpc").encode_train(as_rows(DATA["mrpc"][0]), tok, max_length=8)
    assert max(len(x) for x in truncated["input_ids"]) == 8


def test_encode_regression_labels_are_float():
    enc = get_task("stsb").encode_train(as_rows(DATA["stsb"][0]), tiny_tokenizer(), 32)
    assert enc["labels"] == [4.75, 0.2, 3.8] and all(isinstance(v, float) for v in enc["labels"])


# --- scoring, baselines, prediction summaries --------------------------------------------------


def test_score_classification():
    rows = as_rows([("a", "b", 1), ("c", "d", 0), ("e", "f", 1), ("g", "h", 0)])
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    scores = get_task("mrpc").score(rows, None, logits)
    assert list(scores) == ["f1", "accuracy"]
    assert scores["accuracy"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(50.0)  # tp=1 fp=1 fn=1
    with pytest.raises(ValueError, match="shape"):
        get_task("mrpc").score(rows, None, logits[:, :1])
    with pytest.raises(ValueError, match="3 predictions for 4"):
        get_task("mrpc").score(rows, None, logits[:3])


def test_score_regression_accepts_flat_and_column():
    rows = as_rows([("a", "b", 1.0), ("c", "d", 2.0), ("e", "f", 4.0)])
    preds = np.array([1.5, 2.0, 3.5])
    flat = get_task("stsb").score(rows, None, preds)
    col = get_task("stsb").score(rows, None, preds[:, None])
    assert flat == col and list(flat) == ["pearson", "spearman"]
    assert flat["spearman"] == pytest.approx(100.0)
    with pytest.raises(ValueError):
        get_task("stsb").score(rows, None, np.zeros((3, 2)))


def test_baselines():
    train = as_rows([("a", None, 1), ("b", None, 1), ("c", None, 0)])
    dev = as_rows([("d", None, 1), ("e", None, 0), ("f", None, 0), ("g", None, 1)])
    assert get_task("sst2").baseline(train, dev) == {"majority_class": 1, "accuracy": 50.0}
    mrpc = get_task("mrpc").baseline(train, dev)
    assert mrpc == {"majority_class": 1, "f1": pytest.approx(200 * 2 / (4 + 2)), "accuracy": 50.0}
    assert get_task("cola").baseline(train, dev) == {"majority_class": 1, "matthews": 0.0}
    tie = as_rows([("a", None, 1), ("b", None, 0)])
    assert get_task("sst2").baseline(tie, dev)["majority_class"] == 0
    reg_train = as_rows([("a", "b", 1.0), ("c", "d", 4.0)])
    reg = get_task("stsb").baseline(reg_train, as_rows([("e", "f", 0.5), ("g", "h", 5.0)]))
    assert reg == {"train_mean": 2.5, "pearson": 0.0, "spearman": 0.0}
    assert get_task("squad").baseline([], []) is None


def test_prediction_summary():
    task = get_task("sst2")
    logits = np.array([[0.0, 1.0]] * 3 + [[1.0, 0.0]])
    assert task.prediction_summary(logits) == {"class_fractions": {"0": 0.25, "1": 0.75}, "collapsed": False}
    collapsed = task.prediction_summary(np.array([[0.0, 1.0]] * 200))
    assert collapsed == {"class_fractions": {"0": 0.0, "1": 1.0}, "collapsed": True}
    nearly = np.array([[0.0, 1.0]] * 199 + [[1.0, 0.0]])
    assert task.prediction_summary(nearly)["collapsed"] is True  # 99.5% one class
    assert get_task("stsb").prediction_summary(np.zeros(4)) is None
    assert get_task("squad").prediction_summary((np.zeros((1, 4)), np.zeros((1, 4)))) is None


def test_prediction_summary_records_which_rows_were_right():
    task = get_task("rte")
    # Predictions 1, 1, 0, 0 against labels 1, 0, 0, 1: right on the first and third row only.
    logits = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    rows = [{"label": 1}, {"label": 0}, {"label": 0}, {"label": 1}]
    assert task.prediction_summary(logits, rows)["correct"] == "1010"
    assert "correct" not in task.prediction_summary(logits)
    with pytest.raises(ValueError, match="3 evaluation rows"):
        task.prediction_summary(logits, rows[:3])
