"""The SLURM profile, for real: the tiny study through `snakemake --profile profiles/slurm-test` on a
one-node cluster started for the test (tests/workflow/slurm_cluster.py).

The proof that the cells ran as SLURM jobs comes from SLURM itself: its job-completion record
(`jobcomp/filetxt`) must hold one COMPLETED job, in the test partition and our working directory,
for every training cell, while downloads/demo data, aggregation, plots and the deck stay on the
submitting machine (local rules).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slurm_cluster  # noqa: E402

from peftdeck import paths as P  # noqa: E402
from peftdeck.config import all_cells, load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = "tests/workflow/configs/tiny.yaml"
PROFILE = "profiles/slurm-test"
LOCAL_RULES = ("demo_data", "resolved_config", "aggregate", "plots", "deck")
CLUSTER_RULES = {"demo_pretrain", "train_cell"}



def _workdir_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "repo"
    ignore = shutil.ignore_patterns(".git", ".venv", "results", "resources", "slides", ".snakemake",
                                    "node_modules", "__pycache__", ".pytest_cache")
    shutil.copytree(REPO, dst, ignore=ignore)
    return dst


@pytest.fixture
def cluster():
    reason = slurm_cluster.unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        pytest.skip("snakemake-executor-plugin-slurm is not installed: pip install -e '.[test]'")
    # A short folder of its own: the munge socket path must stay under the 108-byte limit.
    d = Path(tempfile.mkdtemp(prefix="peftdeck-slurm-"))
    try:
        env = slurm_cluster.start(d)
        yield d, env
    finally:
        slurm_cluster.stop(d)
        shutil.rmtree(d, ignore_errors=True)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"{' '.join(cmd)} ran past {timeout} s:\n{out[-6000:]}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


def _slurm_jobs_by_rule(repo: Path) -> dict[str, dict[str, str]]:
    """rule -> {wildcards string -> SLURM job id}, from the plugin's per-job logs
    (.snakemake/slurm_logs/rule_<rule>/<wildcard values joined by _>/<job id>.log)."""
    out: dict[str, dict[str, str]] = {}
    for log in (repo / ".snakemake" / "slurm_logs").glob("rule_*/*/*.log"):
        rule = log.parent.parent.name.removeprefix("rule_")
        out.setdefault(rule, {})[log.parent.name] = log.stem  # a retry would leave the later id
    return out


def test_downloads_and_reporting_are_local_rules_and_training_is_not():
    """Under any cluster profile these run on the submitting machine (the one with internet)."""
    declared: set[str] = set()
    for smk in (REPO / "rules").glob("*.smk"):
        for block in re.findall(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", smk.read_text(), re.M):
            declared |= {name.strip(" \t,") for name in block.splitlines()}
    must = {"fetch", "fetch_model", "fetch_data", "demo_data", "resolved_config", "aggregate", "plots",
            "deck", "deck_html", "deck_pdf"}
    assert must <= declared, f"not declared local: {sorted(must - declared)}"
    assert not CLUSTER_RULES & declared


@pytest.mark.slow
def test_tiny_study_runs_every_cell_as_a_slurm_job(tmp_path, cluster):
    cluster_dir, cluster_env = cluster
    repo = _workdir_copy(tmp_path)
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, **cluster_env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    # Jobs run `python -m snakemake` with this interpreter; the venv goes first on PATH as it would
    # after `source .venv/bin/activate` (sbatch exports the submitting environment).
    env["PATH"] = os.pathsep.join([cluster_env["PATH"].split(os.pathsep)[0], venv_bin, env["PATH"]])
    env.pop("SLURM_JOB_ID", None)

    t0 = time.time()
    proc = _run([sys.executable, "-m", "snakemake", "--profile", PROFILE, "slides/deck.md", "--configfile", TINY],
                cwd=repo, env=env, timeout=540)
    elapsed = time.time() - t0
    logs = (cluster_dir / "slurmctld.log")
    assert proc.returncode == 0, (
        f"snakemake under the SLURM profile failed after {elapsed:.0f} s:\n{proc.stdout[-8000:]}\n"
        f"--- slurmctld.log ---\n{slurm_cluster._tail(logs)}"
    )
    assert (repo / P.deck_md()).is_file(), "slides/deck.md was not built"

    cells = all_cells(load_config(repo / TINY))
    jobs = _slurm_jobs_by_rule(repo)
    # Only the compute rules went to SLURM; everything else ran here, as a local rule.
    assert set(jobs) == CLUSTER_RULES, f"rules submitted to SLURM: {sorted(jobs)}"
    for rule in LOCAL_RULES:
        assert f"localrule {rule}:" in proc.stdout, f"{rule} did not run on the submitting machine"

    # SLURM's own record of finished jobs (filled in by slurmctld as each job ends).
    workdir = os.path.realpath(repo)
    records: dict[str, dict[str, str]] = {}
    deadline = time.time() + 15
    expected_ids = {jid for by_wc in jobs.values() for jid in by_wc.values()}
    while time.time() < deadline:
        records = {r["JobId"]: r for r in slurm_cluster.read_jobcomp(cluster_dir)}
        if expected_ids <= set(records):
            break
        time.sleep(0.5)
    ours = {jid: r for jid, r in records.items() if os.path.realpath(r.get("WorkDir", "")) == workdir}

    expected_cells = {"_".join(P.cell_wildcards(c).values()): c for c in cells}
    assert set(jobs["train_cell"]) == set(expected_cells), (
        f"cells without a SLURM job: {sorted(set(expected_cells) - set(jobs['train_cell']))}; "
        f"unexpected: {sorted(set(jobs['train_cell']) - set(expected_cells))}"
    )
    for wc, jid in sorted(jobs["train_cell"].items()):
        rec = ours.get(jid)
        assert rec is not None, f"SLURM has no completion record of job {jid} (cell {expected_cells[wc].path})"
        assert rec["JobState"] == "COMPLETED", f"job {jid} for {expected_cells[wc].path}: {rec}"
        assert rec["Partition"] == slurm_cluster.PARTITION
        assert (repo / expected_cells[wc].path).is_file()
        # The job's own log shows it ran this cell's training command.
        slurm_log = repo / ".snakemake" / "slurm_logs" / "rule_train_cell" / wc / f"{jid}.log"
        assert expected_cells[wc].path in slurm_log.read_text()
    pretrain_id = next(iter(jobs["demo_pretrain"].values()))
    assert ours[pretrain_id]["JobState"] == "COMPLETED"

    # One SLURM job per cell plus the demo model's pre-training, none failed.
    states = sorted(r["JobState"] for r in ours.values())
    assert states == ["COMPLETED"] * (len(cells) + 1), states
    print(f"SLURM profile: {len(ours)} jobs in {elapsed:.0f} s")
