"""The `Task` base class: what every task shares (sources, Hub round trip, sub-sampling).

Nothing heavy is imported at module level: `datasets` and `transformers` are imported inside the
functions that need them, so a job that only plans or scores does not pay their start-up cost.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SPLITS = ("train", "validation")
SOURCES = ("local", "demo", "hub")

Rows = list[dict[str, Any]]


class Task:
    """One benchmark task: everything peftdeck knows about it is declared here, by its module.

    Subclasses fill in the class attributes and the reading/encoding hooks. The deck, the config
    check and the download rule read a task's facts from its object (`peftdeck.tasks.TASKS`); no
    other module names a task.
    """

    name: str
    kind: str  # "classification" | "regression" | "qa"
    label: str  # name on slides and in tables, e.g. "SST-2"
    description: str  # what it asks, in a few words, e.g. "sentiment"
    num_labels: int | None
    metrics: list[str]  # the first is the primary metric
    default_files: dict[str, str]
    hub_id: str
    hub_config: str | None = None
    # One-part (legacy) Hub names of this task's data beyond the last part of `hub_id`, with their
    # current ids: a config that names one is told the id to use.
    hub_aliases: dict[str, str] = {}
    # The writer of the generated demo copy, "module:function" (called as fn(out_dir, seed, n_train,
    # n_dev) -> folder); None: the task has no demo data (source demo is refused).
    demo_generator: str | None = None
    # Our split name -> the split name in the Hub dataset (IMDB has no validation split).
    hub_splits: dict[str, str] = {"train": "train", "validation": "validation"}
    # Columns a saved Hub dataset must have; checked on load so a wrong folder fails clearly.
    hub_columns: tuple[str, ...] = ()

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]

    @property
    def sources(self) -> tuple[str, ...]:
        """The data sources this task can be read from: local files, a Hub download, the generated demo."""
        return tuple(s for s in SOURCES if (s != "demo" or self.demo_generator) and (s != "hub" or self.hub_id))

    def legacy_hub_ids(self) -> dict[str, str]:
        """One-part (legacy) Hub dataset names of this task -> the two-part id the Hub uses now."""
        own = {self.hub_id.rsplit("/", 1)[-1]: self.hub_id} if self.hub_id and "/" in self.hub_id else {}
        return {**own, **self.hub_aliases}

    def demo_writer(self):
        """The function that writes this task's generated demo copy (see `demo_generator`)."""
        if not self.demo_generator:
            raise ValueError(f"{self.name}: no generated demo data; use source local or hub "
                             f"(demo data exists for tasks whose module declares a demo_generator)")
        import importlib

        module, _, function = self.demo_generator.partition(":")
        return getattr(importlib.import_module(module), function)

    def __repr__(self) -> str:
        return f"<Task {self.name} ({self.kind})>"

    # --- loading --------------------------------------------------------------------------

    def _missing_hint(self) -> str:
        return (
            f"run the data download rule for {self.name!r} (source hub), generate the demo data "
            f"(source demo), or fix data.{self.name}.path in the config (source local)"
        )

    def resolve_files(self, location: str | os.PathLike, files: Mapping[str, str] | None = None) -> dict[str, Path]:
        """Split -> path of the original file a local/demo load reads; raises if any is missing."""
        folder = Path(location)
        names = dict(self.default_files)
        if files:
            unknown = sorted(set(files) - set(SPLITS))
            if unknown:
                raise ValueError(f"{self.name}: unknown split(s) {unknown} in files; allowed: {list(SPLITS)}")
            names.update(files)
        if not folder.is_dir():
            raise FileNotFoundError(f"{self.name}: data folder not found: {folder}; {self._missing_hint()}")
        paths = {split: folder / names[split] for split in SPLITS}
        for split, path in paths.items():
            if not path.is_file():
                raise FileNotFoundError(
                    f"{self.name}: {split} file not found: {path}; {self._missing_hint()}, "
                    f"or name the file in data.{self.name}.files.{split}"
                )
        return paths

    def data_paths(
        self, source: str, location: str | os.PathLike, files: Mapping[str, str] | None = None
    ) -> list[Path]:
        """Every file `load` reads for these arguments, sorted, e.g. to fingerprint the data."""
        self._check_source(source)
        if source == "hub":
            folder = Path(location)
            if not folder.is_dir():
                raise FileNotFoundError(f"{self.name}: Hub dataset folder not found: {folder}; {self._missing_hint()}")
            return sorted(p for p in folder.rglob("*") if p.is_file())
        return sorted(set(self.resolve_files(location, files).values()))

    def _check_source(self, source: str) -> None:
        if source not in SOURCES:
            raise ValueError(f"{self.name}: unknown data source {source!r}; expected one of {list(SOURCES)}")

    def load(self, source: str, location: str | os.PathLike, files: Mapping[str, str] | None = None) -> dict[str, Rows]:
        """{"train": rows, "validation": rows} from original files ("local"/"demo") or a saved Hub copy.

        `files` renames the local files per split; a Hub folder always holds both splits, so it
        is ignored there.
        """
        self._check_source(source)
        if source == "hub":
            return self._load_hub(Path(location))
        return {split: self.read_file(path) for split, path in self.resolve_files(location, files).items()}

    def read_file(self, path: Path) -> Rows:
        raise NotImplementedError

    def rows_from_columns(self, columns: dict[str, list], where: str) -> Rows:
        """Rows from one Hub split given as column lists (`Dataset.to_dict()`)."""
        raise NotImplementedError

    def _load_hub(self, folder: Path) -> dict[str, Rows]:
        if not folder.is_dir():
            raise FileNotFoundError(f"{self.name}: Hub dataset folder not found: {folder}; {self._missing_hint()}")
        import datasets

        try:
            saved = datasets.load_from_disk(str(folder))
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"{self.name}: {folder} is not a dataset saved by the download rule ({err}); {self._missing_hint()}"
            ) from err
        except Exception as err:  # arrow/json decoding errors have many types
            raise ValueError(f"{self.name}: cannot read the saved Hub dataset in {folder}: {err}") from err
        if not isinstance(saved, datasets.DatasetDict):
            raise ValueError(
                f"{self.name}: {folder} holds a single Dataset; expected a DatasetDict with splits "
                f"{sorted(self.hub_splits.values())}"
            )
        out = {}
        for split, hub_split in self.hub_splits.items():
            if hub_split not in saved:
                raise ValueError(f"{self.name}: {folder} has no {hub_split!r} split (has {sorted(saved)})")
            ds = saved[hub_split]
            missing = [c for c in self.hub_columns if c not in ds.column_names]
            if missing:
                raise ValueError(
                    f"{self.name}: split {hub_split!r} in {folder} lacks column(s) {missing} (has {ds.column_names})"
                )
            out[split] = self.rows_from_columns(ds.to_dict(), f"{folder} [{hub_split}]")
        return out

    def fetch_hub(self, dest_dir: str | os.PathLike, hub_id: str | None = None) -> Path:
        """Download the task from the Hub and save the splits we use under `dest_dir`.

        The only online call of the package. It writes to a side folder first so an interrupted
        download never leaves something that `load` would accept.
        """
        import datasets

        dest = Path(dest_dir)
        args = [hub_id or self.hub_id] + ([self.hub_config] if self.hub_config else [])
        loaded = datasets.load_dataset(*args)
        kept = datasets.DatasetDict({s: loaded[s] for s in dict.fromkeys(self.hub_splits.values())})
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        kept.save_to_disk(str(partial))
        if dest.exists():
            shutil.rmtree(dest)
        partial.rename(dest)
        return dest

    # --- sub-sampling ---------------------------------------------------------------------

    def subsample(self, rows: Sequence[dict], n: int | str, seed: int) -> Rows:
        """`n` rows drawn without replacement, in their original order; "all" keeps every row.

        Sizes drawn with one seed are nested (the first n of one permutation), so a learning
        curve adds examples instead of swapping them. QA rows are questions, so QA counts questions.
        """
        if isinstance(n, str):
            if n == "all":
                return list(rows)
            if not n.isdigit():
                raise ValueError(f"{self.name}: train size must be a positive integer or 'all', got {n!r}")
            n = int(n)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{self.name}: train size must be a positive integer or 'all', got {n!r}")
        if n > len(rows):
            unit = "questions" if self.kind == "qa" else "examples"
            raise ValueError(
                f"{self.name}: asked for n={n} training {unit} but only {len(rows)} are available; "
                f"use a size up to {len(rows)} (or `all`) in the experiment's train_sizes"
            )
        chosen = np.sort(np.random.default_rng(seed).permutation(len(rows))[:n])
        return [rows[i] for i in chosen]

    # --- hooks every task implements ------------------------------------------------------

    def encode_train(self, rows: Sequence[dict], tokenizer, max_length: int) -> dict[str, list]:
        raise NotImplementedError

    def encode_eval(self, rows: Sequence[dict], tokenizer, max_length: int) -> dict[str, list]:
        raise NotImplementedError

    def score(self, rows: Sequence[dict], encoded: dict[str, list], outputs) -> dict[str, float]:
        raise NotImplementedError

    def baseline(self, train_rows: Sequence[dict], eval_rows: Sequence[dict]) -> dict[str, Any] | None:
        return None

    def prediction_summary(self, outputs, rows=None) -> dict[str, Any] | None:
        return None
