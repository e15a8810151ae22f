"""Content fingerprints of model and data folders, recorded with every result."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_FULL_HASH_LIMIT = 64 * 2**20  # bytes; larger files are identified by size plus head and tail
_EDGE = 2**20


def _file_digest(path: Path, h: "hashlib._Hash") -> None:
    size = path.stat().st_size
    h.update(f"{path.name}:{size}:".encode())
    with open(path, "rb") as f:
        if size <= _FULL_HASH_LIMIT:
            for block in iter(lambda: f.read(2**20), b""):
                h.update(block)
        else:
            h.update(f.read(_EDGE))
            f.seek(size - _EDGE)
            h.update(f.read(_EDGE))


def fingerprint_files(files: list[str | os.PathLike]) -> str:
    """sha256 over the named files (names and contents), in the order given."""
    h = hashlib.sha256()
    for f in files:
        _file_digest(Path(f), h)
    return "sha256:" + h.hexdigest()


def fingerprint(location: str | os.PathLike) -> str:
    """sha256 over a file, or over every file below a folder (names and contents, in sorted order)."""
    path = Path(location)
    h = hashlib.sha256()
    if path.is_file():
        _file_digest(path, h)
    elif path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
            h.update(str(f.relative_to(path)).encode())
            _file_digest(f, h)
    else:
        return "missing"
    return "sha256:" + h.hexdigest()
