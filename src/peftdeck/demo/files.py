"""Writing and reading the demo's files: GLUE-style TSV, JSON, and a folder that appears atomically.

Standard library only.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SPLITS = ("train", "dev")


def write_tsv(path: Path, header: tuple[str, ...] | None, rows: Sequence[tuple[str, ...]]) -> None:
    """Write `rows` (and `header` first, unless None) as tab-separated lines."""
    # Written by hand, not with csv.writer: the GLUE files are read with quoting off, so a field
    # must never be quoted or escaped, and must hold no tab or newline.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        if header is not None:
            fh.write("\t".join(header) + "\n")
        for row in rows:
            if (header is not None and len(row) != len(header)) or any("\t" in f or "\n" in f for f in row):
                raise ValueError(f"{path.name}: malformed row {row!r}")
            fh.write("\t".join(row) + "\n")


def write_json(path: Path, obj: Any, *, pretty: bool = False) -> None:
    """`obj` as UTF-8 JSON: compact, or indented with sorted keys and a final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        if pretty:
            json.dump(obj, fh, indent=2, sort_keys=True)
            fh.write("\n")
        else:
            json.dump(obj, fh, ensure_ascii=False)


def tsv_column(path: Path, column: int, *, header: bool = True) -> list[str]:
    """One column of a TSV file written by `write_tsv`, without the header line."""
    with open(path, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh]
    return [r[column] for r in rows[1 if header else 0:]]


def label_share(folder: Path, column: int, positive: str, *, header: bool = True) -> dict[str, float]:
    """Per split, the share of rows whose `column` is `positive` (for a manifest)."""
    out = {}
    for split in SPLITS:
        labels = tsv_column(folder / f"{split}.tsv", column, header=header)
        out[split] = round(sum(y == positive for y in labels) / len(labels), 4)
    return out


@contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty folder beside `target` that becomes `target` in one rename on success.

    A run killed half-way leaves only a hidden `.<name>.tmp-*` folder, never a `target` that looks
    finished. An existing `target` is replaced; it is moved aside first because a rename cannot land
    on a non-empty folder.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
