"""A fresh checkout-like copy of the repository for workflow tests, so that a test never touches
the repository's own results/, resources/ or slides/."""
from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IGNORED = (".git", ".venv", "results", "resources", "slides", ".snakemake", "node_modules", "__pycache__",
           ".pytest_cache")


def workdir_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "repo"
    shutil.copytree(REPO, dst, ignore=shutil.ignore_patterns(*IGNORED))
    return dst
