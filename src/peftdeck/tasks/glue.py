"""Sentence and sentence-pair tasks: the GLUE tasks SST-2, MRPC, RTE, CoLA, STS-B, and IMDB.

Local ("local"/"demo") files are the original distributions, read as they ship:

* GLUE: `train.tsv` / `dev.tsv` from the GLUE download script, tab-separated with quoting
  disabled (quotes are ordinary characters in these files; treating them as CSV quotes merges
  rows). MRPC starts with a UTF-8 byte-order mark, CoLA train/dev have no header, and RTE labels
  are words (`entailment` -> 0, `not_entailment` -> 1, as on the Hub).
* IMDB: `train.csv` / `test.csv` with a header `text,label` (standard CSV quoting, label 0 =
  negative, 1 = positive), or the Hub's parquet shards with the same columns when the file names
  end in `.parquet`. The test split is the evaluation split, as IMDB has no other.

Rows are `{"text_a": str, "text_b": str | None, "label": int | float}`.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..metrics import LABEL_METRICS, SCORE_METRICS
from .base import Rows, Task


@dataclass(frozen=True)
class TsvLayout:
    """Where a GLUE TSV keeps its fields: header names, or positions when there is no header."""

    text_a: str | int
    text_b: str | int | None
    label: str | int
    header: bool = True
    width: int | None = None  # field count of headerless files
    label_names: dict[str, int] | None = None


def _read_text(path: Path, task: str) -> str:
    data = path.read_bytes()
    try:
        # utf-8-sig drops the byte-order mark MRPC files start with; plain utf-8 would keep it
        # glued to the first header name.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(f"{task}: {path}, line {line}: not valid UTF-8 ({err.reason})") from err


class SentenceTask(Task):
    """Classification or regression over one sentence or a sentence pair."""

    def __init__(
        self,
        name: str,
        *,
        kind: str,
        num_labels: int,
        metrics: list[str],
        layout: TsvLayout | None,
        hub_id: str,
        hub_config: str | None,
        hub_text: tuple[str, str | None],
        default_files: dict[str, str] | None = None,
        hub_splits: dict[str, str] | None = None,
        label: str | None = None,
        description: str | None = None,
        hub_aliases: dict[str, str] | None = None,
        demo_generator: str | None = None,
    ):
        self.name = name
        self.kind = kind
        self.label = label or name
        self.description = description or name
        self.hub_aliases = dict(hub_aliases or {})
        self.demo_generator = demo_generator
        self.num_labels = num_labels
        self.metrics = list(metrics)
        self.layout = layout
        self.hub_id = hub_id
        self.hub_config = hub_config
        self.hub_text = hub_text
        self.pair = hub_text[1] is not None
        self.default_files = dict(default_files or {"train": "train.tsv", "validation": "dev.tsv"})
        if hub_splits:
            self.hub_splits = dict(hub_splits)
        self.hub_columns = tuple(c for c in hub_text if c) + ("label",)

    # --- labels ---------------------------------------------------------------------------

    def _parse_label(self, value: Any, where: str):
        """A validated label from a file field or a Hub cell; raises ValueError naming `where`."""
        names = self.layout.label_names if self.layout else None
        if isinstance(value, str):
            value = value.strip()
            if names and value in names:
                return names[value]
        try:
            if self.kind == "regression":
                label = float(value)
                if not math.isfinite(label):
                    raise ValueError
                if not isinstance(value, str) and float(np.float32(label)) == label:
                    # The Hub stores STS-B scores as float32 (3.8 arrives as 3.7999999523...); the
                    # shortest decimal that round-trips gives back the file's value, so a Hub copy
                    # and the original TSV yield the same rows.
                    label = float(str(np.float32(label)))
                return label
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            label = int(value)
        except (TypeError, ValueError):
            expected = "a number" if self.kind == "regression" else f"a class id 0..{self.num_labels - 1}"
            if names:
                expected += f" or one of {sorted(names)}"
            raise ValueError(f"{self.name}: {where}: bad label {value!r}, expected {expected}") from None
        if not 0 <= label < self.num_labels:
            raise ValueError(f"{self.name}: {where}: label {label} outside 0..{self.num_labels - 1}")
        return label

    # --- reading --------------------------------------------------------------------------

    def read_file(self, path: Path) -> Rows:
        layout = self.layout
        text = _read_text(path, self.name)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
        rows: Rows = []
        width = None
        cols: tuple[int, int | None, int] | None = None
        try:
            for record in reader:
                line = reader.line_num
                if not record or record == [""]:
                    continue
                if cols is None:
                    if layout.header:
                        width = len(record)
                        cols = self._header_columns(record, path, line)
                        continue
                    width = layout.width
                    cols = (layout.text_a, layout.text_b, layout.label)
                if len(record) != width:
                    raise ValueError(
                        f"{self.name}: {path}, line {line}: expected {width} tab-separated fields, found {len(record)}"
                    )
                a, b, lab = cols
                rows.append(
                    {
                        "text_a": record[a],
                        "text_b": record[b] if b is not None else None,
                        "label": self._parse_label(record[lab], f"{path}, line {line}"),
                    }
                )
        except csv.Error as err:
            raise ValueError(f"{self.name}: {path}, line {reader.line_num}: {err}") from err
        if not rows:
            raise ValueError(f"{self.name}: {path}: no data rows (empty or header-only file)")
        return rows

    def _header_columns(self, header: list[str], path: Path, line: int) -> tuple[int, int | None, int]:
        names = [h.strip() for h in header]
        wanted = [self.layout.text_a, self.layout.text_b, self.layout.label]
        missing = [w for w in wanted if w is not None and w not in names]
        if missing:
            raise ValueError(f"{self.name}: {path}, line {line}: header lacks column(s) {missing}; found {names}")
        a, b, lab = (names.index(w) if w is not None else None for w in wanted)
        return a, b, lab

    def rows_from_columns(self, columns: dict[str, list], where: str) -> Rows:
        col_a, col_b = self.hub_text
        texts_a = columns[col_a]
        texts_b = columns[col_b] if col_b else [None] * len(texts_a)
        labels = columns["label"]
        return [
            {"text_a": a, "text_b": b, "label": self._parse_label(lab, f"{where} row {i}")}
            for i, (a, b, lab) in enumerate(zip(texts_a, texts_b, labels))
        ]

    # --- encoding and scoring -------------------------------------------------------------

    def encode_train(self, rows: Sequence[dict], tokenizer, max_length: int) -> dict[str, list]:
        if not rows:
            return {"input_ids": [], "token_type_ids": [], "labels": []}
        first = [r["text_a"] for r in rows]
        second = [r["text_b"] for r in rows] if self.pair else None
        enc = tokenizer(first, second, truncation=True, max_length=max_length)
        input_ids = [list(x) for x in enc["input_ids"]]
        if "token_type_ids" in enc:
            token_types = [list(x) for x in enc["token_type_ids"]]
        else:  # tokenizers without segment ids (RoBERTa-style): one segment
            token_types = [[0] * len(x) for x in input_ids]
        cast = float if self.kind == "regression" else int
        return {"input_ids": input_ids, "token_type_ids": token_types, "labels": [cast(r["label"]) for r in rows]}

    def encode_eval(self, rows: Sequence[dict], tokenizer, max_length: int) -> dict[str, list]:
        return self.encode_train(rows, tokenizer, max_length)

    def _predicted_classes(self, outputs, n_rows: int | None = None) -> np.ndarray:
        logits = np.asarray(outputs, dtype=np.float64)
        if logits.ndim != 2 or logits.shape[1] != self.num_labels:
            raise ValueError(f"{self.name}: expected logits of shape (N, {self.num_labels}), got {logits.shape}")
        if n_rows is not None and logits.shape[0] != n_rows:
            raise ValueError(f"{self.name}: {logits.shape[0]} predictions for {n_rows} evaluation rows")
        return logits.argmax(axis=1)

    def _regression_scores(self, outputs, n_rows: int) -> np.ndarray:
        values = np.asarray(outputs, dtype=np.float64)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1 or values.shape[0] != n_rows:
            raise ValueError(f"{self.name}: expected {n_rows} scores of shape (N,) or (N, 1), got {values.shape}")
        return values

    def score(self, rows: Sequence[dict], encoded: dict[str, list] | None, outputs) -> dict[str, float]:
        labels = np.asarray([r["label"] for r in rows])
        if self.kind == "regression":
            preds = self._regression_scores(outputs, len(rows))
            return {m: SCORE_METRICS[m](labels, preds) for m in self.metrics}
        preds = self._predicted_classes(outputs, len(rows))
        return {m: LABEL_METRICS[m](labels, preds) for m in self.metrics}

    def baseline(self, train_rows: Sequence[dict], eval_rows: Sequence[dict]) -> dict[str, Any]:
        """Scores of a constant predictor fitted on train: the majority class, or the mean score."""
        if not train_rows or not eval_rows:
            raise ValueError(f"{self.name}: a baseline needs non-empty train and evaluation rows")
        truth = np.asarray([r["label"] for r in eval_rows])
        if self.kind == "regression":
            mean = float(np.mean([r["label"] for r in train_rows]))
            constant = np.full(truth.shape, mean)
            return {"train_mean": mean, **{m: SCORE_METRICS[m](truth, constant) for m in self.metrics}}
        counts = np.bincount([int(r["label"]) for r in train_rows], minlength=self.num_labels)
        majority = int(counts.argmax())  # ties go to the lower class id
        constant = np.full(truth.shape, majority)
        return {"majority_class": majority, **{m: LABEL_METRICS[m](truth, constant) for m in self.metrics}}

    def prediction_summary(self, outputs, rows: Sequence[dict] | None = None) -> dict[str, Any] | None:
        """Class shares of the predictions and whether one class took 99% of them; with the evaluation
        `rows`, also `correct`: one character per row in evaluation order, "1" where the prediction is
        right, so that runs of several seeds can be tested together on the same examples
        (peftdeck.health.pooled_accuracy_test)."""
        if self.kind != "classification":
            return None
        preds = self._predicted_classes(outputs, None if rows is None else len(rows))
        counts = np.bincount(preds, minlength=self.num_labels)
        total = int(counts.sum())
        fractions = {str(c): (float(counts[c]) / total if total else 0.0) for c in range(self.num_labels)}
        out: dict[str, Any] = {"class_fractions": fractions, "collapsed": bool(total) and max(fractions.values()) >= 0.99}
        if rows is not None:
            labels = np.asarray([int(r["label"]) for r in rows])
            out["correct"] = "".join("1" if ok else "0" for ok in (preds == labels))
        return out


class ImdbTask(SentenceTask):
    """IMDB reviews: CSV (`text,label` header) or parquet files instead of GLUE TSVs."""

    _label_names = {"neg": 0, "negative": 0, "pos": 1, "positive": 1}

    def read_file(self, path: Path) -> Rows:
        if path.suffix == ".parquet":
            return self._read_parquet(path)
        text = _read_text(path, self.name)
        reader = csv.reader(io.StringIO(text, newline=""))
        rows: Rows = []
        cols = None
        try:
            for record in reader:
                line = reader.line_num
                if not record:
                    continue
                if cols is None:
                    names = [h.strip() for h in record]
                    if "text" not in names or "label" not in names:
                        raise ValueError(
                            f"{self.name}: {path}, line {line}: header must name columns text and label; found {names}"
                        )
                    cols = (names.index("text"), names.index("label"), len(names))
                    continue
                if len(record) != cols[2]:
                    raise ValueError(
                        f"{self.name}: {path}, line {line}: expected {cols[2]} fields, found {len(record)}"
                    )
                label = self._parse_label(record[cols[1]], f"{path}, line {line}")
                rows.append({"text_a": record[cols[0]], "text_b": None, "label": label})
        except csv.Error as err:
            raise ValueError(f"{self.name}: {path}, line {reader.line_num}: {err}") from err
        if not rows:
            raise ValueError(f"{self.name}: {path}: no data rows (empty or header-only file)")
        return rows

    def _read_parquet(self, path: Path) -> Rows:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as err:  # pyarrow raises several error types for a damaged file
            raise ValueError(f"{self.name}: {path}: cannot read parquet ({err})") from err
        missing = [c for c in ("text", "label") if c not in table.column_names]
        if missing:
            raise ValueError(f"{self.name}: {path}: parquet lacks column(s) {missing}; has {table.column_names}")
        return self.rows_from_columns(table.select(["text", "label"]).to_pydict(), str(path))

    def _parse_label(self, value: Any, where: str):
        if isinstance(value, str) and value.strip().lower() in self._label_names:
            return self._label_names[value.strip().lower()]
        return super()._parse_label(value, where)


SST2 = SentenceTask(
    "sst2",
    label="SST-2",
    description="sentiment",
    hub_aliases={"sst2": "stanfordnlp/sst2"},
    demo_generator="peftdeck.demo.sst2:generate_sst2",
    kind="classification",
    num_labels=2,
    metrics=["accuracy"],
    layout=TsvLayout("sentence", None, "label"),
    hub_id="nyu-mll/glue",
    hub_config="sst2",
    hub_text=("sentence", None),
)
MRPC = SentenceTask(
    "mrpc",
    label="MRPC",
    description="paraphrase",
    demo_generator="peftdeck.demo.mrpc:generate_mrpc",
    kind="classification",
    num_labels=2,
    metrics=["f1", "accuracy"],
    layout=TsvLayout("#1 String", "#2 String", "Quality"),
    hub_id="nyu-mll/glue",
    hub_config="mrpc",
    hub_text=("sentence1", "sentence2"),
)
RTE = SentenceTask(
    "rte",
    label="RTE",
    description="entailment",
    demo_generator="peftdeck.demo.rte:generate_rte",
    kind="classification",
    num_labels=2,
    metrics=["accuracy"],
    layout=TsvLayout("sentence1", "sentence2", "label", label_names={"entailment": 0, "not_entailment": 1}),
    hub_id="nyu-mll/glue",
    hub_config="rte",
    hub_text=("sentence1", "sentence2"),
)
COLA = SentenceTask(
    "cola",
    label="CoLA",
    description="acceptability",
    demo_generator="peftdeck.demo.cola:generate_cola",
    kind="classification",
    num_labels=2,
    metrics=["matthews"],
    # source, label, original annotation, sentence; no header in train/dev
    layout=TsvLayout(3, None, 1, header=False, width=4),
    hub_id="nyu-mll/glue",
    hub_config="cola",
    hub_text=("sentence", None),
)
STSB = SentenceTask(
    "stsb",
    label="STS-B",
    description="similarity",
    demo_generator="peftdeck.demo.stsb:generate_stsb",
    kind="regression",
    num_labels=1,
    metrics=["pearson", "spearman"],
    layout=TsvLayout("sentence1", "sentence2", "score"),
    hub_id="nyu-mll/glue",
    hub_config="stsb",
    hub_text=("sentence1", "sentence2"),
)
IMDB = ImdbTask(
    "imdb",
    label="IMDb",
    description="sentiment (long reviews)",
    kind="classification",
    num_labels=2,
    metrics=["accuracy"],
    layout=None,
    hub_id="stanfordnlp/imdb",
    hub_config=None,
    hub_text=("text", None),
    default_files={"train": "train.csv", "validation": "test.csv"},
    hub_splits={"train": "train", "validation": "test"},
)

SENTENCE_TASKS = (SST2, MRPC, RTE, COLA, STSB, IMDB)
