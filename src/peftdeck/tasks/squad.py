"""SQuAD v1.1 extractive question answering.

Local files are the official JSON (`data[].paragraphs[].qas[]`); rows are one question each, in
the Hub's `rajpurkar/squad` layout: `{"id", "title", "context", "question", "answers": {"text": [...],
"answer_start": [...]}}`.

Long contexts are split into overlapping windows (max_length 384, doc_stride 128 by default).
Training labels point at the first gold answer's tokens, or at the CLS token for windows that do
not contain the whole answer. Evaluation keeps each window's example id and the character spans
of its context tokens, so `squad_postprocess` can turn start/end logits back into answer text
without a model.
"""
from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..metrics import squad_evaluate
from .base import Rows, Task


def _iter_features(features) -> tuple[list[str], list[list]]:
    """Example ids and offset maps from `encode_eval` output (column dict) or a list of feature dicts."""
    if isinstance(features, Mapping):
        return list(features["example_id"]), list(features["offset_mapping"])
    return [f["example_id"] for f in features], [f["offset_mapping"] for f in features]


def squad_postprocess(
    examples: Sequence[Mapping[str, Any]],
    features,
    start_logits,
    end_logits,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> dict[str, str]:
    """Best answer text per question id from per-window start/end logits.

    For each window the `n_best` highest start and end positions are paired; a pair is kept when
    both tokens lie in the context (their offset is not None), the end does not precede the start
    and the span has at most `max_answer_length` tokens. The pair with the highest start+end logit
    over all windows of a question wins; a question with no admissible pair gets "".

    Logit rows may be longer than their window (padded batches); positions past the window's
    length are ignored whatever they hold.
    """
    example_ids, offset_maps = _iter_features(features)
    if len(start_logits) != len(example_ids) or len(end_logits) != len(example_ids):
        raise ValueError(
            f"{len(example_ids)} features but {len(start_logits)} start and {len(end_logits)} end logit rows"
        )
    best: dict[str, tuple[float, int, int, int]] = {}
    for i, (qid, offsets) in enumerate(zip(example_ids, offset_maps)):
        length = len(offsets)
        starts = np.asarray(start_logits[i], dtype=np.float64).reshape(-1)
        ends = np.asarray(end_logits[i], dtype=np.float64).reshape(-1)
        if starts.size < length or ends.size < length:
            raise ValueError(f"feature {i} has {length} tokens but only {min(starts.size, ends.size)} logits")
        starts, ends = starts[:length], ends[:length]
        in_context = np.fromiter((o is not None for o in offsets), dtype=bool, count=length)
        top_s = np.argsort(-starts, kind="stable")[:n_best]
        top_e = np.argsort(-ends, kind="stable")[:n_best]
        span = top_e[None, :] - top_s[:, None]
        ok = in_context[top_s][:, None] & in_context[top_e][None, :] & (span >= 0) & (span < max_answer_length)
        admissible = np.flatnonzero(ok)
        if admissible.size == 0:
            continue
        totals = (starts[top_s][:, None] + ends[top_e][None, :]).reshape(-1)[admissible]
        pick = admissible[int(np.argmax(totals))]
        s, e = int(top_s[pick // top_e.size]), int(top_e[pick % top_e.size])
        total = float(starts[s] + ends[e])
        if qid not in best or total > best[qid][0]:
            best[qid] = (total, i, s, e)

    answers = {}
    for example in examples:
        qid = example["id"]
        if qid not in best:
            answers[qid] = ""
            continue
        _, i, s, e = best[qid]
        answers[qid] = example["context"][offset_maps[i][s][0] : offset_maps[i][e][1]]
    return answers


class SquadTask(Task):
    name = "squad"
    kind = "qa"
    label = "SQuAD v1.1"
    description = "extractive question answering"
    demo_generator = "peftdeck.demo.squad:generate_squad"
    num_labels = None
    metrics = ["exact_match", "f1"]
    default_files = {"train": "train-v1.1.json", "validation": "dev-v1.1.json"}
    hub_id = "rajpurkar/squad"
    hub_config = None
    hub_columns = ("id", "title", "context", "question", "answers")
    doc_stride = 128
    n_best = 20
    max_answer_length = 30

    # --- reading --------------------------------------------------------------------------

    def read_file(self, path: Path) -> Rows:
        try:
            with open(path, encoding="utf-8") as handle:
                doc = json.load(handle)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{self.name}: {path}, line {err.lineno}, column {err.colno}: invalid JSON ({err.msg})"
            ) from err
        except UnicodeDecodeError as err:
            raise ValueError(f"{self.name}: {path}: not valid UTF-8 ({err.reason} at byte {err.start})") from err
        rows: Rows = []
        where = "top level"
        try:
            articles = doc["data"]
            for a, article in enumerate(articles):
                title = article.get("title", "")
                for p, paragraph in enumerate(article["paragraphs"]):
                    where = f"data[{a}].paragraphs[{p}]"
                    context = paragraph["context"]
                    for q, qa in enumerate(paragraph["qas"]):
                        where = f"data[{a}].paragraphs[{p}].qas[{q}]"
                        texts = [ans["text"] for ans in qa["answers"]]
                        starts = [int(ans["answer_start"]) for ans in qa["answers"]]
                        rows.append(
                            {
                                "id": str(qa["id"]),
                                "title": title,
                                "context": context,
                                "question": qa["question"],
                                "answers": {"text": texts, "answer_start": starts},
                            }
                        )
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            detail = f"missing key {err}" if isinstance(err, KeyError) else str(err)
            raise ValueError(f"{self.name}: {path}: not SQuAD v1.1 JSON at {where}: {detail}") from err
        if not rows:
            raise ValueError(f"{self.name}: {path}: no questions found")
        return rows

    def rows_from_columns(self, columns: dict[str, list], where: str) -> Rows:
        rows = []
        for i, (qid, title, context, question, answers) in enumerate(
            zip(columns["id"], columns["title"], columns["context"], columns["question"], columns["answers"])
        ):
            if not isinstance(answers, Mapping) or "text" not in answers or "answer_start" not in answers:
                raise ValueError(f"{self.name}: {where} row {i}: answers must hold 'text' and 'answer_start' lists")
            rows.append(
                {
                    "id": str(qid),
                    "title": title,
                    "context": context,
                    "question": question,
                    "answers": {
                        "text": list(answers["text"]),
                        "answer_start": [int(s) for s in answers["answer_start"]],
                    },
                }
            )
        return rows

    # --- windows --------------------------------------------------------------------------

    def _windows(self, rows: Sequence[dict], tokenizer, max_length: int, doc_stride: int | None):
        """Tokenise question + context into overlapping windows.

        Very long questions are cut to a quarter of the window, and the stride is capped at half of
        the context room that leaves; both only bite for small `max_length` (at 384/128 nothing
        changes) and keep the tokenizer from failing or emitting one window per token.
        """
        stride = self.doc_stride if doc_stride is None else doc_stride
        max_question = max(1, max_length // 4)
        room = max_length - max_question - 3  # [CLS] question [SEP] context [SEP]
        if room < 2:
            raise ValueError(f"{self.name}: max_length {max_length} leaves no room for the context")
        stride = max(0, min(stride, room // 2))
        # Leading blanks in some questions only waste window space.
        questions = [r["question"].lstrip() for r in rows]
        lengths = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
        for k, offsets in enumerate(lengths["offset_mapping"]):
            if len(offsets) > max_question:
                questions[k] = questions[k][: offsets[max_question - 1][1]]
        enc = tokenizer(
            questions,
            [r["context"] for r in rows],
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        return enc

    def encode_train(
        self, rows: Sequence[dict], tokenizer, max_length: int, doc_stride: int | None = None
    ) -> dict[str, list]:
        out: dict[str, list] = {"input_ids": [], "token_type_ids": [], "start_positions": [], "end_positions": []}
        if not rows:
            return out
        enc = self._windows(rows, tokenizer, max_length, doc_stride)
        cls_id = tokenizer.cls_token_id
        for i, ids in enumerate(enc["input_ids"]):
            row = rows[enc["overflow_to_sample_mapping"][i]]
            segments = enc.sequence_ids(i)
            cls_index = ids.index(cls_id) if cls_id in ids else 0
            start, end = self._answer_tokens(row, enc["offset_mapping"][i], segments)
            if start is None:
                start = end = cls_index
            out["input_ids"].append(list(ids))
            out["token_type_ids"].append(self._token_types(enc, i, segments))
            out["start_positions"].append(start)
            out["end_positions"].append(end)
        return out

    @staticmethod
    def _token_types(enc, i: int, segments) -> list[int]:
        if "token_type_ids" in enc:
            return list(enc["token_type_ids"][i])
        # Models without segment embeddings still get a well-formed column.
        return [1 if s == 1 else 0 for s in segments]

    @staticmethod
    def _answer_tokens(row: dict, offsets, segments) -> tuple[int | None, int | None]:
        """Token span of the first gold answer inside this window, or (None, None)."""
        answers = row["answers"]
        if not answers["text"]:
            return None, None
        first_char = answers["answer_start"][0]
        last_char = first_char + len(answers["text"][0])  # exclusive
        context = [k for k, s in enumerate(segments) if s == 1]
        if not context:
            return None, None
        lo, hi = context[0], context[-1]
        if offsets[lo][0] > first_char or offsets[hi][1] < last_char:
            return None, None
        token_starts = [offsets[k][0] for k in range(lo, hi + 1)]
        token_ends = [offsets[k][1] for k in range(lo, hi + 1)]
        # Start: the last token beginning at or before the answer; if that token ends before the
        # answer does begin (answer_start on a blank), step to the next one.
        s = bisect.bisect_right(token_starts, first_char) - 1
        if token_ends[s] <= first_char and s + 1 < len(token_starts):
            s += 1
        # End: the first token reaching the answer's end; mirror image of the above.
        e = bisect.bisect_left(token_ends, last_char)
        if token_starts[e] >= last_char and e > s:
            e -= 1
        return lo + s, lo + e

    def encode_eval(
        self, rows: Sequence[dict], tokenizer, max_length: int, doc_stride: int | None = None
    ) -> dict[str, list]:
        out: dict[str, list] = {"input_ids": [], "token_type_ids": [], "example_id": [], "offset_mapping": []}
        if not rows:
            return out
        enc = self._windows(rows, tokenizer, max_length, doc_stride)
        for i, ids in enumerate(enc["input_ids"]):
            segments = enc.sequence_ids(i)
            out["input_ids"].append(list(ids))
            out["token_type_ids"].append(self._token_types(enc, i, segments))
            out["example_id"].append(rows[enc["overflow_to_sample_mapping"][i]]["id"])
            out["offset_mapping"].append(
                [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], segments)]
            )
        return out

    # --- scoring --------------------------------------------------------------------------

    def predict(self, rows: Sequence[dict], encoded: dict[str, list], outputs) -> dict[str, str]:
        """Question id -> predicted answer text."""
        try:
            start_logits, end_logits = outputs
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: outputs must be a (start_logits, end_logits) pair") from None
        return squad_postprocess(
            rows, encoded, start_logits, end_logits, n_best=self.n_best, max_answer_length=self.max_answer_length
        )

    def score(self, rows: Sequence[dict], encoded: dict[str, list], outputs) -> dict[str, float]:
        predictions = self.predict(rows, encoded, outputs)
        references = {r["id"]: r["answers"]["text"] for r in rows}
        return squad_evaluate(references, predictions)


SQUAD = SquadTask()
