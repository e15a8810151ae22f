"""Operating the pipeline through its public command: rerunning one cell, failures, kills, retries.

All tests share one working copy of the repository with a small study (the tiny demo data and model,
a handful of cells) prepared once; each test then asks Snakemake for specific cell addresses and
checks, from the files, that exactly the cells it should have touched were touched.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repo_copy import workdir_copy  # noqa: E402
import yaml

from peftdeck import paths as P
from peftdeck.config import load_config
from peftdeck.paths import Cell

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "workflow" / "configs" / "tiny.yaml"
CONFIG = "ops.yaml"
STUDY = "ops"
# Reaches the shell only inside the quoted cell spec; if quoting ever broke, `touch` would run.
NASTY_NAME = "tiny BERT; touch PWNED_semicolon $(touch PWNED_subshell) `touch PWNED_backtick` 'q' \"dq\""

pytestmark = pytest.mark.slow


def cell(task="sst2", method="bitfit", size="all", sched="ep1", lr=0.01, bs=16, seed=42) -> str:
    return Cell(STUDY, task, method, size, sched, lr, bs, seed).path


A = cell(method="bitfit")                                       # prepared once, by the fixture
B = cell(method="lora", lr=0.005)                               # prepared once, by the fixture
GOOD = cell(method="full_ft", lr=0.001)                         # keep-going: finishes
TOO_BIG = cell(method="bitfit", size=100000)                    # keep-going: more examples than the data has
LONG = cell(method="bitfit", sched="st400x1")                   # killed mid-training
OOM = cell(task="mrpc", method="bitfit")                        # simulated GPU out of memory


def _ops_config() -> dict:
    cfg = yaml.safe_load(TINY.read_text())
    cfg["study"] = STUDY
    cfg["model"]["name"] = NASTY_NAME
    one = {"schedules": [{"epochs": 1}], "batch_sizes": [16], "seeds": [42]}
    cfg["experiments"] = {
        "glue": {"tasks": ["sst2"], "methods": ["bitfit", "lora", "full_ft"], **one},
        "oom": {"tasks": ["mrpc"], "methods": ["bitfit"], **one},
        # A value only one cell hits: the demo sst2 has 120 training examples.
        "oversized": {"tasks": ["sst2"], "methods": ["bitfit"], "train_sizes": [100000], **one},
        "long": {"tasks": ["sst2"], "methods": ["bitfit"], "schedules": [{"steps": 400, "epochs": 1}],
                 "batch_sizes": [16], "seeds": [42]},
    }
    return cfg


def snakemake(repo: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", *args, "--configfile", CONFIG]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def job_counts(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'Job stats' table Snakemake prints before running: rule -> number of jobs."""
    counts: dict[str, int] = {}
    text = proc.stdout + proc.stderr
    block = text.split("Job stats:", 1)[1] if "Job stats:" in text else ""
    for line in block.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def mtimes(repo: Path, *rels: str) -> dict[str, int]:
    return {r: (repo / r).stat().st_mtime_ns for r in rels}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    dst = workdir_copy(tmp_path_factory.mktemp("ops"))
    (dst / CONFIG).write_text(yaml.safe_dump(_ops_config(), sort_keys=False))
    load_config(dst / CONFIG)  # the test config itself is valid
    snakemake(dst, "--cores", "2", A, B)
    return dst


def test_rerun_one_named_cell_touches_only_that_cell_and_repeats_its_numbers(repo):
    before = json.loads((repo / A).read_text())
    others = mtimes(repo, B, P.demo_model_dir(STUDY) + "/config.json")
    old = mtimes(repo, A)[A]

    # The documented command: force one cell by its address.
    proc = snakemake(repo, "--cores", "1", "--force", A)
    assert job_counts(proc) == {"train_cell": 1, "total": 1}, proc.stdout + proc.stderr
    assert mtimes(repo, A)[A] > old, "the named cell was not rerun"
    assert mtimes(repo, *others) == others, "a cell or input that was not named was rewritten"

    # Determinism: the same cell on CPU gives the same numbers, run after run.
    after = json.loads((repo / A).read_text())
    for block in ("metrics", "baseline", "predictions", "params", "task"):
        assert after.get(block) == before.get(block), block
    assert after["compute"]["final_train_loss"] == before["compute"]["final_train_loss"]
    assert after["compute"]["steps"] == before["compute"]["steps"]


def test_keep_going_lets_other_cells_finish_when_one_fails(repo):
    kept = mtimes(repo, A, B)
    proc = snakemake(repo, "--cores", "2", "--keep-going", TOO_BIG, GOOD, check=False)
    assert proc.returncode != 0, "a failing cell must make the run fail"
    assert (repo / GOOD).is_file(), "--keep-going did not let the other cell finish:\n" + proc.stderr[-4000:]
    assert not (repo / TOO_BIG).exists()
    assert mtimes(repo, A, B) == kept, "finished cells were touched"
    # The failed cell's log names the task, the size asked for and what is available.
    log = repo / "results" / STUDY / "logs" / "runs" / "sst2" / "bitfit" / "n100000" / "ep1-lr0.01-bs16" / "seed42.log"
    text = log.read_text()
    assert "sst2" in text and "n=100000" in text and "only 120 are available" in text, text[-2000:]
    assert "Error in rule train_cell" in proc.stderr and str(log.relative_to(repo)) in proc.stderr


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def test_kill_9_mid_cell_then_the_next_run_redoes_that_cell_only(repo):
    kept = mtimes(repo, A, B)
    log = repo / "results" / STUDY / "logs" / "runs" / "sst2" / "bitfit" / "nall" / "st400x1-lr0.01-bs16" / "seed42.log"
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", LONG, "--configfile", CONFIG]
    proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            if log.is_file() and "train features" in log.read_text():
                break  # the training loop is running
            time.sleep(0.05)
        assert proc.poll() is None, "the cell finished before it could be killed"
        victims = [proc.pid, *_descendants(proc.pid)]
        for pid in victims:  # snakemake and its job, no chance to clean up
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (repo / LONG).exists(), "a killed cell left a metrics.json behind"

    # A run killed with -9 leaves its lock; `--unlock` is the documented first step.
    locked = snakemake(repo, "--cores", "1", A, B, LONG, check=False)
    assert locked.returncode != 0 and "cannot be locked" in (locked.stdout + locked.stderr).lower()
    snakemake(repo, "--unlock", A, B, LONG)
    # A plain rerun: the workflow's default profile (profiles/default) sets --rerun-incomplete.
    proc2 = snakemake(repo, "--cores", "1", A, B, LONG)
    assert job_counts(proc2) == {"train_cell": 1, "total": 1}, proc2.stdout + proc2.stderr
    assert json.loads((repo / LONG).read_text())["status"] == "complete"
    assert mtimes(repo, A, B) == kept


def test_out_of_memory_retries_halve_the_micro_batch_keeping_the_batch(repo):
    # Attempt 1 (micro-batch 16) runs out of memory; attempt 2 (8, accumulated twice) fits.
    proc = snakemake(repo, "--cores", "1", "--retries", "2", "--show-failed-logs", OOM,
                     env={"PEFTDECK_SIMULATE_OOM_ABOVE_MICRO_BATCH": "8"})
    result = json.loads((repo / OOM).read_text())
    c = result["compute"]
    assert c["attempt"] == 2, c
    assert (c["micro_batch_size"], c["grad_accum_steps"]) == (8, 2), c
    assert c["micro_batch_size"] * c["grad_accum_steps"] == result["cell"]["batch_size"] == 16
    assert result["hparams"]["batch_size"] == 16
    text = proc.stdout + proc.stderr
    assert "out of GPU memory with micro-batch 16 (attempt 1)" in text, text[-4000:]
    assert "--retries" in text


def test_config_strings_reach_the_shell_quoted(repo):
    # Every cell above ran a shell command carrying the model name; none of it was executed.
    assert not list(repo.rglob("PWNED*")), "a config string was executed by the shell"
    assert json.loads((repo / A).read_text())["model"]["name"] == NASTY_NAME
