"""The whole pipeline through its public command, on the tiny study."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repo_copy import workdir_copy  # noqa: E402

from peftdeck.config import all_cells, load_config

REPO = Path(__file__).resolve().parents[2]
TINY = "tests/workflow/configs/tiny.yaml"


def snakemake(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "snakemake", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc




def test_dry_run_lists_one_training_job_per_cell(tmp_path):
    repo = workdir_copy(tmp_path)
    proc = snakemake("-n", "deck", "--configfile", TINY, "--quiet", "rules", cwd=repo)
    cells = all_cells(load_config(repo / TINY))
    counts = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert counts.get("train_cell") == len(cells) == 14, proc.stdout


@pytest.mark.slow
def test_tiny_study_builds_the_deck(tmp_path):
    repo = workdir_copy(tmp_path)
    snakemake("--cores", "2", "deck", "--configfile", TINY, cwd=repo)
    deck = (repo / "slides/tiny/deck.md").read_text()
    assert deck.startswith("---") and "marp: true" in deck
    cfg = load_config(repo / TINY)
    for cell in all_cells(cfg):
        result = json.loads((repo / cell.path).read_text())
        assert result["status"] == "complete"
        assert result["params"]["trainable"] <= result["params"]["total"]
        assert result["compute"]["train_flops"] > 0 and result["compute"]["training_memory"]["peak"] > 0
        curve = result["compute"]["train_loss_curve"]
        assert curve and curve[-1][0] == result["compute"]["steps"] and all(v > 0 for _, v in curve)
    # Every figure the deck references exists beside it.
    for line in deck.splitlines():
        if "](figures/" in line:
            rel = line.split("](", 1)[1].split(")", 1)[0]
            assert (repo / "slides/tiny" / rel).is_file(), rel
    # Nothing left to do: a second run is a no-op.
    again = snakemake("-n", "deck", "--configfile", TINY, cwd=repo)
    assert "Nothing to be done" in again.stdout + again.stderr
