"""SQuAD: JSON and Hub loading, windowed encoding, and the model-free answer post-processing."""
from __future__ import annotations

import json
import string

import numpy as np
import pytest

from peftdeck.tasks import get_task, squad_postprocess

TASK = get_task("squad")


def tiny_tokenizer():
    """A fast BERT tokenizer over a toy vocabulary: unknown words fall back to characters."""
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += list(string.ascii_lowercase) + ["##" + c for c in string.ascii_lowercase]
    vocab += list(string.digits) + ["##" + c for c in string.digits] + list(string.punctuation)
    vocab += ["the", "a", "cat", "dog", "sat", "on", "mat", "is", "of", "in", "what", "where", "when", "who"]
    return BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


CONTEXT_1 = (
    "The cat sat on the mat in 1999. Paris is the capital of France. The dog is good, "
    "and the dog sleeps under the old oak tree near the river bank every single afternoon."
)
CONTEXT_2 = "Marie Curie won two Nobel prizes: physics in 1903 and chemistry in 1911."


def qa(qid, question, context, *answers):
    return {
        "id": qid,
        "question": question,
        "answers": [{"answer_start": context.index(a), "text": a} for a in answers],
    }


OFFICIAL = {
    "version": "1.1",
    "data": [
        {
            "title": "Animals",
            "paragraphs": [
                {
                    "context": CONTEXT_1,
                    "qas": [
                        qa("q1", "Where did the cat sit?", CONTEXT_1, "the mat", "mat"),
                        qa("q2", "   When did the cat sit?", CONTEXT_1, "1999"),
                        qa("q3", "What is the capital of France?", CONTEXT_1, "Paris"),
                        qa("q4", "Where does the dog sleep?", CONTEXT_1, "under the old oak tree"),
                        qa("q5", "When does the dog sleep?", CONTEXT_1, "afternoon"),
                    ],
                }
            ],
        },
        {
            "title": "Marie_Curie",
            "paragraphs": [
                {
                    "context": CONTEXT_2,
                    "qas": [
                        qa("q6", "When did she win in chemistry?", CONTEXT_2, "1911"),
                        qa("q7", "How many prizes?", CONTEXT_2, "two", "two Nobel prizes"),
                    ],
                }
            ],
        },
    ],
}


def rows():
    out = []
    for article in OFFICIAL["data"]:
        for paragraph in article["paragraphs"]:
            for q in paragraph["qas"]:
                out.append(
                    {
                        "id": q["id"],
                        "title": article["title"],
                        "context": paragraph["context"],
                        "question": q["question"],
                        "answers": {
                            "text": [a["text"] for a in q["answers"]],
                            "answer_start": [a["answer_start"] for a in q["answers"]],
                        },
                    }
                )
    return out


@pytest.fixture
def squad_folder(tmp_path):
    for name in ("train-v1.1.json", "dev-v1.1.json"):
        (tmp_path / name).write_text(json.dumps(OFFICIAL), encoding="utf-8")
    return tmp_path


# --- loading ----------------------------------------------------------------------------------


def test_load_official_json(squad_folder):
    splits = TASK.load("local", squad_folder)
    assert splits["train"] == rows() and splits["validation"] == rows()
    assert splits["train"][0]["answers"] == {"text": ["the mat", "mat"], "answer_start": [15, 19]}


def test_load_hub_copy(tmp_path):
    import datasets

    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "title": datasets.Value("string"),
            "context": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answers": datasets.Sequence({"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}),
        }
    )
    table = {key: [r[key] for r in rows()] for key in ("id", "title", "context", "question", "answers")}
    split = datasets.Dataset.from_dict(table, features=features)
    datasets.DatasetDict({"train": split, "validation": split}).save_to_disk(str(tmp_path / "hub"))
    assert TASK.load("hub", tmp_path / "hub") == {"train": rows(), "validation": rows()}


def test_files_override_and_subsample_by_questions(squad_folder):
    (squad_folder / "train-subset-v1.1.json").write_text(
        json.dumps({"version": "1.1", "data": OFFICIAL["data"][1:]}), encoding="utf-8"
    )
    splits = TASK.load("local", squad_folder, files={"train": "train-subset-v1.1.json"})
    assert [r["id"] for r in splits["train"]] == ["q6", "q7"]
    assert len(splits["validation"]) == 7
    picked = TASK.subsample(splits["validation"], 3, seed=0)
    assert len(picked) == 3 and len({r["id"] for r in picked}) == 3
    with pytest.raises(ValueError, match="n=8 .*questions.* 7"):
        TASK.subsample(splits["validation"], 8, seed=0)


def test_corrupt_json_names_file_and_line(squad_folder):
    bad = squad_folder / "dev-v1.1.json"
    bad.write_text('{"data": [\n  {"title": "x",\n   "paragraphs": [}\n]}', encoding="utf-8")
    with pytest.raises(ValueError) as err:
        TASK.load("local", squad_folder)
    assert str(bad) in str(err.value) and "line 3" in str(err.value)


def test_wrong_structure_names_file_and_place(squad_folder):
    broken = json.loads(json.dumps(OFFICIAL))
    del broken["data"][1]["paragraphs"][0]["qas"][1]["id"]
    bad = squad_folder / "dev-v1.1.json"
    bad.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ValueError) as err:
        TASK.load("local", squad_folder)
    assert str(bad) in str(err.value) and "data[1].paragraphs[0].qas[1]" in str(err.value) and "'id'" in str(err.value)


def test_missing_file(squad_folder):
    (squad_folder / "dev-v1.1.json").unlink()
    with pytest.raises(FileNotFoundError, match="dev-v1.1.json"):
        TASK.load("local", squad_folder)


# --- encoding -----------------------------------------------------------------------------


def context_span(offsets):
    spans = [o for o in offsets if o is not None]
    return spans[0][0], spans[-1][1]


def test_windows_labels_map_back_to_answers():
    tok = tiny_tokenizer()
    data = rows()
    train = TASK.encode_train(data, tok, max_length=48, doc_stride=16)
    ev = TASK.encode_eval(data, tok, max_length=48, doc_stride=16)
    assert set(train) == {"input_ids", "token_type_ids", "start_positions", "end_positions"}
    assert train["input_ids"] == ev["input_ids"]
    assert len(train["input_ids"]) > len(data)  # the long context overflows into several windows
    assert max(len(x) for x in train["input_ids"]) == 48
    assert len({len(x) for x in train["input_ids"]}) > 1  # not padded

    by_id = {r["id"]: r for r in data}
    labelled = set()
    for i, (s, e) in enumerate(zip(train["start_positions"], train["end_positions"])):
        row = by_id[ev["example_id"][i]]
        offsets = ev["offset_mapping"][i]
        first = row["answers"]["answer_start"][0]
        last = first + len(row["answers"]["text"][0])
        lo, hi = context_span(offsets)
        if lo <= first and last <= hi:
            assert offsets[s] is not None and offsets[e] is not None
            assert row["context"][offsets[s][0] : offsets[e][1]] == row["answers"]["text"][0]
            labelled.add(row["id"])
        else:
            assert (s, e) == (0, 0)
            assert train["input_ids"][i][0] == tok.cls_token_id
    assert labelled == set(by_id)


def test_eval_features_mark_context_tokens_only():
    tok = tiny_tokenizer()
    data = rows()
    ev = TASK.encode_eval(data, tok, max_length=48, doc_stride=16)
    assert set(ev) == {"input_ids", "token_type_ids", "example_id", "offset_mapping"}
    for ids, types, offsets in zip(ev["input_ids"], ev["token_type_ids"], ev["offset_mapping"]):
        assert len(ids) == len(types) == len(offsets)
        assert offsets[0] is None and offsets[-1] is None  # [CLS] ... [SEP]
        for t, o in zip(types, offsets):
            if o is not None:
                assert t == 1
        first_sep = ids.index(tok.sep_token_id)
        assert all(o is None for o in offsets[: first_sep + 1])  # question and its [SEP]
    # the windows of one question overlap: consecutive windows share context characters
    spans = [context_span(o) for o, qid in zip(ev["offset_mapping"], ev["example_id"]) if qid == "q1"]
    assert len(spans) > 1
    assert all(b[0] < a[1] for a, b in zip(spans, spans[1:]))
    # leading blanks of a question are dropped before tokenising
    q2 = ev["input_ids"][ev["example_id"].index("q2")]
    assert q2[1] == tok.convert_tokens_to_ids("when")


def test_small_windows_and_long_questions_do_not_break():
    tok = tiny_tokenizer()
    data = rows()[:1]
    data[0] = dict(data[0], question="where " * 60 + "did the cat sit?")
    ev = TASK.encode_eval(data, tok, max_length=32)  # default stride 128 cannot fit, it is capped
    assert len(ev["input_ids"]) > 1 and max(map(len, ev["input_ids"])) == 32
    for ids in ev["input_ids"]:
        assert ids.index(tok.sep_token_id) - 1 <= 32 // 4  # question kept to a quarter window
    train = TASK.encode_train(data, tok, max_length=32)
    assert len(train["input_ids"]) == len(ev["input_ids"])


def test_encode_empty():
    assert TASK.encode_eval([], tiny_tokenizer(), 384)["input_ids"] == []


# --- post-processing ----------------------------------------------------------------------

EXAMPLE = [{"id": "q", "context": "alpha beta gamma delta"}]
#   window 0: [CLS] question [SEP] alpha beta [SEP]; window 1: [CLS] [SEP] beta gamma delta [SEP]
FEATURES = {
    "example_id": ["q", "q"],
    "offset_mapping": [
        [None, None, None, (0, 5), (6, 10), None],
        [None, None, (6, 10), (11, 16), (17, 22), None],
    ],
}


def logits(*rows_):
    return np.array(rows_, dtype=float)


def test_postprocess_skips_positions_outside_context():
    start = logits([9, 9, 9, 2, 1, 9], [0, 0, 0, 0, 0, 0])
    end = logits([9, 9, 9, 1, 3, 9], [0, 0, 0, 0, 0, 0])
    assert squad_postprocess(EXAMPLE, FEATURES, start, end) == {"q": "alpha beta"}


def test_postprocess_best_window_wins():
    start = logits([0, 0, 0, 2, 0, 0], [0, 0, 0, 5, 0, 0])
    end = logits([0, 0, 0, 2, 0, 0], [0, 0, 0, 0, 5, 0])
    assert squad_postprocess(EXAMPLE, FEATURES, start, end) == {"q": "gamma delta"}


def test_postprocess_skips_reversed_and_too_long_spans():
    start = logits([0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 6, 0])
    end = logits([0, 0, 0, 0, 0, 0], [0, 0, 6, 1, 0.5, 0])
    # the best pair (delta..beta) ends before it starts; next is delta..delta (6 + 0.5)
    assert squad_postprocess(EXAMPLE, FEATURES, start, end) == {"q": "delta"}
    start = logits([0, 0, 0, 0, 0, 0], [0, 0, 5, 0, 0, 0])
    end = logits([0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 4, 0])
    assert squad_postprocess(EXAMPLE, FEATURES, start, end) == {"q": "beta gamma delta"}
    assert squad_postprocess(EXAMPLE, FEATURES, start, end, max_answer_length=2) == {"q": "beta gamma"}
    assert squad_postprocess(EXAMPLE, FEATURES, start, end, max_answer_length=1) == {"q": "beta"}


def test_postprocess_n_best_limits_candidates():
    # only question tokens among the top-2 starts: nothing admissible in that window
    start = logits([9, 8, 0, 1, 0, 0], [9, 8, 0, 0, 0, 0])
    end = logits([9, 8, 0, 1, 0, 0], [9, 8, 0, 0, 0, 0])
    assert squad_postprocess(EXAMPLE, FEATURES, start, end, n_best=2) == {"q": ""}
    assert squad_postprocess(EXAMPLE, FEATURES, start, end, n_best=20) == {"q": "alpha"}


def test_postprocess_ignores_padding_of_any_length():
    start = logits([0, 0, 0, 2, 0, 0, 50, -np.inf, -np.inf], [0, 0, 0, 0, 0, 0, 50, 50, 50])
    end = logits([0, 0, 0, 0, 2, 0, 50, -np.inf, -np.inf], [0, 0, 0, 0, 0, 0, 50, 50, 50])
    assert squad_postprocess(EXAMPLE, FEATURES, start, end) == {"q": "alpha beta"}
    ragged = [np.array([0, 0, 0, 2, 0, 0]), np.array([0, 0, 0, 0, 0, 0, -1e9])]
    assert squad_postprocess(EXAMPLE, FEATURES, ragged, ragged) == {"q": "alpha"}
    with pytest.raises(ValueError, match="tokens"):
        squad_postprocess(EXAMPLE, FEATURES, logits([0] * 5, [0] * 5), logits([0] * 5, [0] * 5))


def test_postprocess_unanswerable_and_feature_lists():
    examples = EXAMPLE + [{"id": "lost", "context": "no windows for me"}]
    features = [
        {"example_id": q, "offset_mapping": o} for q, o in zip(FEATURES["example_id"], FEATURES["offset_mapping"])
    ]
    zeros = np.zeros((2, 6))
    out = squad_postprocess(examples, features, zeros, zeros)
    assert out["lost"] == ""
    assert out["q"] in {"alpha", "beta", "alpha beta", "gamma", "delta", "beta gamma", "gamma delta", "beta gamma delta"}
    with pytest.raises(ValueError, match="2 features"):
        squad_postprocess(examples, features, zeros[:1], zeros)


def test_score_with_oracle_logits_is_perfect():
    tok = tiny_tokenizer()
    data = rows()
    train = TASK.encode_train(data, tok, max_length=48, doc_stride=16)
    ev = TASK.encode_eval(data, tok, max_length=48, doc_stride=16)
    width = max(map(len, ev["input_ids"])) + 3
    start = np.full((len(ev["input_ids"]), width), -1e4)
    end = start.copy()
    for i, ids in enumerate(ev["input_ids"]):
        start[i, : len(ids)] = 0
        end[i, : len(ids)] = 0
        start[i, train["start_positions"][i]] = 1
        end[i, train["end_positions"][i]] = 1
    assert TASK.score(data, ev, (start, end)) == {"exact_match": 100.0, "f1": 100.0}
    # a flat model answers something, which scores below perfect
    flat = TASK.score(data, ev, (np.zeros_like(start), np.zeros_like(end)))
    assert flat["exact_match"] < 100.0
    with pytest.raises(ValueError, match="pair"):
        TASK.score(data, ev, start)
