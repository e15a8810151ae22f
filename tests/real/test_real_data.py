"""The loaders and SQuAD pipeline on the real GLUE / SQuAD files (skipped when they are absent)."""
from __future__ import annotations

import numpy as np
import pytest

from peftdeck.tasks import get_task

pytestmark = pytest.mark.real

GLUE = {  # task -> (folder, train rows, dev rows)
    "sst2": ("SST-2", 67_349, 872),
    "mrpc": ("MRPC", 3_668, 408),
    "rte": ("RTE", 2_490, 277),
    "cola": ("CoLA", 8_551, 1_043),
    "stsb": ("STS-B", 5_749, 1_500),
}


@pytest.fixture(scope="module")
def glue(shared_data):
    return {name: get_task(name).load("local", shared_data / "glue" / folder) for name, (folder, _, _) in GLUE.items()}


@pytest.fixture(scope="module")
def squad(shared_data):
    return get_task("squad").load("local", shared_data / "squad", files={"train": "train-subset-v1.1.json"})


@pytest.fixture(scope="module")
def bert_tokenizer(shared_data):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(shared_data / "models" / "no-weights" / "bert-base-uncased"))


@pytest.mark.parametrize("name", sorted(GLUE))
def test_glue_row_counts(glue, name):
    _, n_train, n_dev = GLUE[name]
    assert (len(glue[name]["train"]), len(glue[name]["validation"])) == (n_train, n_dev)


def test_glue_label_balance(glue):
    def positives(name, label=1):
        return sum(r["label"] == label for r in glue[name]["train"])

    assert positives("sst2") == 37_569
    assert positives("mrpc") == 2_474
    assert positives("rte", label=0) == 1_249  # entailment
    assert positives("cola") == 6_023
    scores = [r["label"] for r in glue["stsb"]["train"]]
    assert min(scores) >= 0.0 and max(scores) <= 5.0
    assert all(r["text_b"] is None for r in glue["sst2"]["validation"] + glue["cola"]["validation"])
    # QUOTE_NONE keeps quote characters inside sentences instead of merging rows
    assert any('"' in r["text_a"] for r in glue["mrpc"]["train"])


def test_majority_baselines(glue):
    def baseline(name):
        return get_task(name).baseline(glue[name]["train"], glue[name]["validation"])

    mrpc = baseline("mrpc")
    assert mrpc["majority_class"] == 1
    assert mrpc["accuracy"] == pytest.approx(68.4, abs=0.05)
    assert mrpc["f1"] == pytest.approx(81.2, abs=0.05)
    assert baseline("sst2") == {"majority_class": 1, "accuracy": pytest.approx(50.9, abs=0.05)}
    assert baseline("rte") == {"majority_class": 0, "accuracy": pytest.approx(52.7, abs=0.05)}
    assert baseline("cola") == {"majority_class": 1, "matthews": 0.0}
    stsb = baseline("stsb")
    assert stsb["pearson"] == 0.0 and stsb["spearman"] == 0.0 and 2.0 < stsb["train_mean"] < 3.5


def test_squad_counts_and_answer_offsets(squad):
    assert (len(squad["train"]), len(squad["validation"])) == (11_877, 10_570)
    assert sum(len(r["answers"]["text"]) for r in squad["validation"]) == 34_726
    for rows in squad.values():
        for r in rows:
            for text, start in zip(r["answers"]["text"], r["answers"]["answer_start"]):
                assert r["context"][start : start + len(text)] == text


def _window_holding(offsets, first, last):
    spans = [o for o in offsets if o is not None]
    return spans[0][0] <= first and last <= spans[-1][1]


def test_squad_dev_oracle_logits_score_perfectly(squad, bert_tokenizer):
    task = get_task("squad")
    dev = squad["validation"][:400]
    ev = task.encode_eval(dev, bert_tokenizer, 384)
    assert max(map(len, ev["input_ids"])) <= 384
    by_id = {r["id"]: r for r in dev}
    width = max(map(len, ev["input_ids"])) + 7
    start = np.full((len(ev["input_ids"]), width), -np.inf)
    end = start.copy()
    aligned = set()
    for i, ids in enumerate(ev["input_ids"]):
        start[i, : len(ids)] = 0.0
        end[i, : len(ids)] = 0.0
        row = by_id[ev["example_id"][i]]
        offsets = ev["offset_mapping"][i]
        first = row["answers"]["answer_start"][0]
        last = first + len(row["answers"]["text"][0])
        if not _window_holding(offsets, first, last):
            continue
        in_context = [k for k, o in enumerate(offsets) if o is not None]
        s = max(k for k in in_context if offsets[k][0] <= first)
        e = min(k for k in in_context if offsets[k][1] >= last)
        start[i, s] = end[i, e] = 1.0
        if offsets[s][0] == first and offsets[e][1] == last:
            aligned.add(row["id"])
    # A few gold answers begin or end inside a word piece ("4" of "49ers"); no token span can
    # reproduce those, so the exact check runs on the answers that sit on token boundaries.
    assert len(aligned) >= 380
    subset = [r for r in dev if r["id"] in aligned]
    keep = [i for i, qid in enumerate(ev["example_id"]) if qid in aligned]
    ev_subset = {key: [values[i] for i in keep] for key, values in ev.items()}
    assert task.score(subset, ev_subset, (start[keep], end[keep])) == {"exact_match": 100.0, "f1": 100.0}
    overall = task.score(dev, ev, (start, end))
    assert overall["exact_match"] >= 96.0 and overall["f1"] >= 96.0


def test_squad_train_spans_map_back_to_answers(squad, bert_tokenizer):
    task = get_task("squad")
    train = squad["train"][:600]
    enc = task.encode_train(train, bert_tokenizer, 384)
    ev = task.encode_eval(train, bert_tokenizer, 384)
    assert enc["input_ids"] == ev["input_ids"]
    by_id = {r["id"]: r for r in train}
    labelled, windows, exact = set(), 0, 0
    for i, (s, e) in enumerate(zip(enc["start_positions"], enc["end_positions"])):
        row = by_id[ev["example_id"][i]]
        answer = row["answers"]["text"][0]
        first = row["answers"]["answer_start"][0]
        last = first + len(answer)
        offsets = ev["offset_mapping"][i]
        if not _window_holding(offsets, first, last):
            assert (s, e) == (0, 0)
            continue
        recovered = row["context"][offsets[s][0] : offsets[e][1]]
        on_boundaries = any(o and o[0] == first for o in offsets) and any(o and o[1] == last for o in offsets)
        if on_boundaries:
            assert recovered == answer
        else:  # the answer starts or ends inside a word piece: the smallest covering span
            assert answer in recovered
        windows += 1
        exact += recovered == answer
        labelled.add(row["id"])
    assert labelled == set(by_id)  # at 384 tokens every answer fits some window
    assert exact >= 0.99 * windows
