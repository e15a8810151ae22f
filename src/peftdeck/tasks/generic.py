"""Your own task: classification or regression over one text field or a pair, from local files.

A `data:` entry whose name is not a built-in task and that names its columns becomes a generic task:

    data:
      reviews:
        source: local
        path: data/reviews
        format: csv                      # csv | tsv | jsonl (default: from the file names, else csv)
        files: {train: train.csv, validation: dev.csv}   # the defaults for csv
        text: [question, answer]         # one column (a string) or two (a pair)
        label: label
        problem: classification          # or regression (default classification)
        labels: [negative, positive]     # optional: the classes in id order (default: sorted)

CSV and TSV files have a header row naming the columns (standard CSV quoting); JSON Lines files hold
one object per line (a JSON array of objects is read too). Class labels are names or integers: the
distinct labels of the train split, sorted (integers numerically), become class ids 0..K-1 unless
`labels:` gives the order; the evaluation split may only use labels the train split has. The cell
records the mapping under `predictions.labels`. Metrics: accuracy, then F1 of class 1 (binary tasks
only) and Matthews correlation; regression: Pearson, then Spearman.

Rows are `{"text_a": str, "text_b": str | None, "label": int | float}`, as for the GLUE tasks.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .base import SPLITS, Rows
from .glue import SentenceTask, _read_text

FORMATS = ("csv", "tsv", "jsonl")
PROBLEMS = ("classification", "regression")
# The keys of a `data:` entry that define a generic task (beside source, path, files, eval_size).
DEFINITION_KEYS = ("format", "text", "label", "problem", "labels")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}
DEFAULT_FILES = {"csv": {"train": "train.csv", "validation": "dev.csv"},
                 "tsv": {"train": "train.tsv", "validation": "dev.tsv"},
                 "jsonl": {"train": "train.jsonl", "validation": "dev.jsonl"}}


def is_generic(entry: Mapping[str, Any] | None) -> bool:
    """Whether a `data:` entry (or a resolved cell's `data`) defines a task by its columns."""
    if not entry:
        return False
    definition = entry.get("task") if isinstance(entry.get("task"), Mapping) else entry
    return "text" in definition or "label" in definition


def definition_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The defining keys of a `data:` entry, or of a resolved cell's `data` (where they sit under `task`)."""
    source = entry["task"] if isinstance(entry.get("task"), Mapping) else entry
    return {k: source[k] for k in DEFINITION_KEYS if k in source}


def format_of(name: str, entry: Mapping[str, Any]) -> str:
    """`format:`, else what the file names' suffixes say, else csv."""
    fmt = entry.get("format") or (entry.get("task") or {}).get("format")
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"{name}: key data.{name}.format: value {fmt!r} is not allowed; expected one of "
                             f"{', '.join(FORMATS)}")
        return fmt
    files = entry.get("files") or {}
    found = {SUFFIXES.get(Path(f).suffix.lower()) for f in files.values()}
    if None in found:
        bad = [f for f in files.values() if Path(f).suffix.lower() not in SUFFIXES]
        raise ValueError(f"{name}: cannot tell the format of {bad[0]!r} from its name; add `format: csv`, "
                         f"`format: tsv` or `format: jsonl` to data.{name}")
    if len(found) > 1:
        raise ValueError(f"{name}: data.{name}.files mixes formats ({', '.join(sorted(found))}); use one format")
    return found.pop() if found else "csv"


def _label_key(value: Any) -> int | str:
    """A class label as it is compared and sorted: integers (also "3", 3.0) as int, the rest as text."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError("a fraction")
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    if number.is_integer():  # "1.0" is class 1, as 1.0 in JSON is
        return int(number)
    raise ValueError("a fraction")


def _sorted_labels(keys: set[int | str]) -> list[int | str]:
    """Integers numerically, then names alphabetically."""
    return sorted(keys, key=lambda k: (isinstance(k, str), k))


class GenericTask(SentenceTask):
    """A task defined in the config by its files' columns (see the module docstring)."""

    def __init__(self, name: str, *, text: str | Sequence[str], label: str, problem: str = "classification",
                 format: str = "csv", labels: Sequence[Any] | None = None):
        columns = [text] if isinstance(text, str) else list(text)
        if not 1 <= len(columns) <= 2 or not all(isinstance(c, str) and c for c in columns):
            raise ValueError(f"{name}: key data.{name}.text: expected one column name or a list of two; got {text!r}")
        if not isinstance(label, str) or not label:
            raise ValueError(f"{name}: key data.{name}.label: expected a column name; got {label!r}")
        if problem not in PROBLEMS:
            raise ValueError(f"{name}: key data.{name}.problem: value {problem!r} is not allowed; expected one of "
                             f"{', '.join(PROBLEMS)}")
        if format not in FORMATS:
            raise ValueError(f"{name}: key data.{name}.format: value {format!r} is not allowed; expected one of "
                             f"{', '.join(FORMATS)}")
        declared = None
        if labels is not None:
            if problem == "regression":
                raise ValueError(f"{name}: key data.{name}.labels: a regression task has no classes; drop `labels:` "
                                 "or set `problem: classification`")
            declared = [_label_key(v) for v in labels]
            if len(declared) < 2 or len(set(declared)) != len(declared):
                raise ValueError(f"{name}: key data.{name}.labels: expected two or more distinct classes; got {labels!r}")
        super().__init__(
            name, kind=problem, num_labels=1 if problem == "regression" else (len(declared) if declared else None),
            metrics=["pearson", "spearman"] if problem == "regression" else self._class_metrics(len(declared or ())),
            layout=None, hub_id="", hub_config=None, hub_text=(columns[0], columns[1] if len(columns) > 1 else None),
            default_files=DEFAULT_FILES[format],
        )
        self.format = format
        self.text_columns = tuple(columns)
        self.label_column = label
        self.declared_labels = declared
        # Class names in id order; set from the train split by `load` unless `labels:` gave them.
        self.label_names: list[int | str] | None = declared

    @staticmethod
    def _class_metrics(n_classes: int) -> list[str]:
        return ["accuracy", "f1", "matthews"] if n_classes == 2 else ["accuracy", "matthews"]

    def __repr__(self) -> str:
        return f"<GenericTask {self.name} ({self.kind}, {self.format}, text {list(self.text_columns)})>"

    def _missing_hint(self) -> str:
        return f"fix data.{self.name}.path in the config, or name the files in data.{self.name}.files"

    def _check_source(self, source: str) -> None:
        if source != "local":
            raise ValueError(f"{self.name}: a task defined by its columns reads local files; set "
                             f"data.{self.name}.source to local (got {source!r})")

    # --- reading --------------------------------------------------------------------------

    def load(self, source: str, location: str | os.PathLike, files: Mapping[str, str] | None = None) -> dict[str, Rows]:
        """Both splits; class labels become ids from the train split's (or `labels:`'s) classes."""
        self._check_source(source)
        paths = self.resolve_files(location, files)
        raw = {split: self._read_records(paths[split]) for split in SPLITS}
        if self.kind == "regression":
            return {split: [self._regression_row(r) for r in raw[split]] for split in SPLITS}
        names = self.declared_labels or _sorted_labels({r["label"] for r in raw["train"]})
        if len(names) < 2:
            raise ValueError(
                f"{self.name}: {paths['train']}: column {self.label_column!r} has a single class {names[0]!r}; "
                "a classifier needs at least two (check the label column, or use problem: regression)")
        ids = {k: i for i, k in enumerate(names)}
        for split in SPLITS:
            for r in raw[split]:
                if r["label"] not in ids:
                    known = ", ".join(map(repr, names))
                    fix = (f"add it to data.{self.name}.labels or fix the row" if self.declared_labels
                           else "add training examples of it, or drop those rows")
                    raise ValueError(
                        f"{self.name}: {r['where']}: label {r['label']!r} in column {self.label_column!r} is not a "
                        f"class of the {'declared labels' if self.declared_labels else 'train split'} ({known}); {fix}")
        self.label_names = list(names)
        self.num_labels = len(names)
        self.metrics = self._class_metrics(len(names))
        return {split: [{"text_a": r["text_a"], "text_b": r["text_b"], "label": ids[r["label"]]} for r in raw[split]]
                for split in SPLITS}

    def read_file(self, path: Path) -> Rows:
        """Rows of one file with raw labels (class labels are mapped to ids by `load`)."""
        records = self._read_records(path)
        if self.kind == "regression":
            return [self._regression_row(r) for r in records]
        return [{k: r[k] for k in ("text_a", "text_b", "label")} for r in records]

    def _regression_row(self, r: dict[str, Any]) -> dict[str, Any]:
        value = r["label"]
        try:
            label = float(value.strip() if isinstance(value, str) else value)
            if isinstance(value, bool) or not math.isfinite(label):
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(
                f"{self.name}: {r['where']}: label {value!r} in column {self.label_column!r} is not a number; a "
                f"regression task needs numeric labels (for class names set data.{self.name}.problem: "
                "classification)") from None
        return {"text_a": r["text_a"], "text_b": r["text_b"], "label": label}

    def _read_records(self, path: Path) -> list[dict[str, Any]]:
        records = self._read_jsonl(path) if self.format == "jsonl" else self._read_delimited(path)
        if not records:
            raise ValueError(f"{self.name}: {path}: no data rows (empty or header-only file); every split needs examples")
        return records

    def _columns_error(self, path: Path, where: str, missing: list[str], available: Sequence[str]) -> ValueError:
        return ValueError(
            f"{self.name}: {path}{where}: unknown column(s) {', '.join(map(repr, missing))}; the file has "
            f"{', '.join(map(repr, available)) or 'no columns'}; fix data.{self.name}.text / "
            f"data.{self.name}.label in the config")

    def _record(self, values: Mapping[str, Any], where: str) -> dict[str, Any]:
        texts = []
        for column in self.text_columns:
            value = values.get(column)
            if value is None:
                raise ValueError(f"{self.name}: {where}: no value in text column {column!r}")
            texts.append(value if isinstance(value, str) else str(value))
        label = values.get(self.label_column)
        if label is None or (isinstance(label, str) and not label.strip()):
            raise ValueError(f"{self.name}: {where}: no value in label column {self.label_column!r}")
        if self.kind == "classification":
            try:
                label = _label_key(label)
            except ValueError:
                raise ValueError(
                    f"{self.name}: {where}: label {label!r} in column {self.label_column!r} is a fraction; class "
                    f"labels are names or integers (for a numeric target set data.{self.name}.problem: "
                    "regression)") from None
        return {"text_a": texts[0], "text_b": texts[1] if len(texts) > 1 else None, "label": label, "where": where}

    def _read_delimited(self, path: Path) -> list[dict[str, Any]]:
        text = _read_text(path, self.name)
        delimiter = "\t" if self.format == "tsv" else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        records: list[dict[str, Any]] = []
        header: list[str] | None = None
        try:
            for record in reader:
                line = reader.line_num
                if not record or all(not f.strip() for f in record):
                    continue
                if header is None:
                    header = [h.strip() for h in record]
                    missing = [c for c in (*self.text_columns, self.label_column) if c not in header]
                    if missing:
                        raise self._columns_error(path, f", line {line} (header)", missing, header)
                    continue
                if len(record) != len(header):
                    raise ValueError(f"{self.name}: {path}, line {line}: expected {len(header)} fields like the "
                                     f"header, found {len(record)}")
                records.append(self._record(dict(zip(header, record)), f"{path}, line {line}"))
        except csv.Error as err:
            raise ValueError(f"{self.name}: {path}, line {reader.line_num}: {err}") from err
        return records

    def _read_jsonl(self, path: Path) -> list[dict[str, Any]]:
        text = _read_text(path, self.name)
        if text.lstrip().startswith("["):  # a JSON array of objects
            try:
                items = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f"{self.name}: {path}: not valid JSON ({err})") from err
            numbered = [(f"{path}, record {i + 1}", item) for i, item in enumerate(items)]
        else:
            numbered = []
            for i, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    numbered.append((f"{path}, line {i}", json.loads(line)))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{self.name}: {path}, line {i}: not valid JSON ({err.msg}); JSON Lines files "
                                     "hold one object per line") from err
        records = []
        for where, item in numbered:
            if not isinstance(item, dict):
                raise ValueError(f"{self.name}: {where}: expected a JSON object, found {type(item).__name__}")
            missing = [c for c in (*self.text_columns, self.label_column) if c not in item]
            if missing:
                raise self._columns_error(path, where[len(str(path)):], missing, list(item))
            records.append(self._record(item, where))
        return records

    # --- what the cell records ------------------------------------------------------------

    def prediction_summary(self, outputs, rows=None) -> dict[str, Any] | None:
        summary = super().prediction_summary(outputs, rows)
        if summary is not None and self.label_names is not None:
            summary["labels"] = {str(i): name for i, name in enumerate(self.label_names)}
        return summary


def generic_task(name: str, entry: Mapping[str, Any]) -> GenericTask:
    """The task a `data:` entry (or a resolved cell's `data`) defines by its columns."""
    d = definition_of(entry)
    missing = [k for k in ("text", "label") if k not in d]
    if missing:
        raise ValueError(f"{name}: key data.{name}: a task of your own needs {' and '.join(missing)}: "
                         f"(e.g. text: sentence, label: label)")
    return GenericTask(name, text=d["text"], label=d["label"], problem=d.get("problem", "classification"),
                       format=format_of(name, {**d, "files": entry.get("files")}), labels=d.get("labels"))
