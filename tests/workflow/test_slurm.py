"""The SLURM profile, for real: the tiny study through `snakemake --profile profiles/slurm-test` on a
one-node cluster started for the test (tests/workflow/slurm_cluster.py).

The proof comes from SLURM itself: its job-completion record (`jobcomp/filetxt`) and the per-job
logs. The training cells must run bundled, in fewer SLURM jobs than cells (Snakemake job groups),
each bundle asking for one GPU (the test node has stand-in GPUs) and the CPUs, memory and runtime of
its cells, and every cell of a bundle running on the GPU SLURM gave the job; every cell must finish; a cell
made to fail inside a bundle fails only that job and then reruns alone, as one job of one cell,
without redoing anything that finished; downloads/demo data, aggregation, plots and the deck stay
on the submitting machine (local rules).
"""
from __future__ import annotations

import json
import math
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

from repo_copy import workdir_copy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slurm_cluster  # noqa: E402

from peftdeck import paths as P  # noqa: E402
from peftdeck.config import all_cells, load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = "tests/workflow/configs/tiny.yaml"
PROFILE = "profiles/slurm-test"
LOCAL_RULES = ("demo_data", "resolved_config", "aggregate", "plots", "deck_md")
CLUSTER_RULES = {"demo_pretrain", "train_cell"}
FAILING = "/sst2/lora/"  # the cell made to fail inside its bundle (PEFTDECK_SIMULATE_FAILURE_FOR)





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


def _slurm_jobs(repo: Path) -> dict[str, str]:
    """SLURM job id -> the Snakemake rule or group it ran, from the plugin's per-job logs
    (.snakemake/slurm_logs/rule_<rule>/<wildcards>/<id>.log, group_<group>_<rules>/<id>.log)."""
    out: dict[str, str] = {}
    root = repo / ".snakemake" / "slurm_logs"
    for log in root.glob("*/**/*.log"):
        out[log.stem] = log.relative_to(root).parts[0]
    return out


def _slurm_log(repo: Path, jid: str) -> Path:
    return next((repo / ".snakemake" / "slurm_logs").glob(f"*/**/{jid}.log"))


def _cells_of_job(repo: Path, jid: str) -> list[dict[str, str]]:
    """The cells a SLURM job was given: the `--target-jobs train_cell:k=v,...` of its Snakemake call."""
    text = _slurm_log(repo, jid).read_text(errors="replace")
    first = next((line for line in text.splitlines() if "--target-jobs" in line), "")
    return [dict(kv.split("=", 1) for kv in m.split(",")) for m in re.findall(r"train_cell:(\S+)", first)]


def _records(cluster_dir: Path, repo: Path, ids: set[str], wait_s: float = 15) -> dict[str, dict[str, str]]:
    """SLURM's own completion records (jobcomp) of our jobs, waiting for those in `ids` to appear."""
    workdir = os.path.realpath(repo)
    deadline = time.time() + wait_s
    while True:
        recs = {r["JobId"]: r for r in slurm_cluster.read_jobcomp(cluster_dir)
                if os.path.realpath(r.get("WorkDir", "")) == workdir}
        if ids <= set(recs) or time.time() > deadline:
            return recs
        time.sleep(0.5)


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



def _profile_setting(option: str, name: str) -> int:
    """`name=N` from a list option of profiles/slurm-test (group-components, resources)."""
    text = (REPO / PROFILE / "config.yaml").read_text()
    block = re.search(rf"^{option}:\n((?:\s+- .*\n)+)", text, re.M)
    assert block, f"{PROFILE} sets no {option}"
    return int(re.search(rf"{name}=(\d+)", block.group(1)).group(1))


def _key(wildcards: dict[str, str]) -> tuple:
    return tuple(sorted(wildcards.items()))


@pytest.mark.slow
def test_tiny_study_runs_in_bundled_slurm_jobs_and_a_failed_cell_reruns_alone(tmp_path, cluster):
    """Cells go to SLURM in bundles (fewer jobs than cells) with the right request per bundle; a cell
    that fails inside a bundle fails that job only, and then reruns alone as one job; every cell ends
    with its result and the deck is built by local rules."""
    cluster_dir, cluster_env = cluster
    repo = workdir_copy(tmp_path)
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, **cluster_env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    # Jobs run `python -m snakemake` with this interpreter; the venv goes first on PATH as it would
    # after `source .venv/bin/activate` (sbatch exports the submitting environment).
    env["PATH"] = os.pathsep.join([cluster_env["PATH"].split(os.pathsep)[0], venv_bin, env["PATH"]])
    for var in ("SLURM_JOB_ID", "PEFTDECK_SIMULATE_FAILURE_FOR", "PEFTDECK_SIMULATE_OOM_ABOVE_MICRO_BATCH"):
        env.pop(var, None)
    snakemake = [sys.executable, "-m", "snakemake", "--profile", PROFILE]
    per_job = _profile_setting("group-components", "train")
    at_once = _profile_setting("resources", "gpu_slot")

    cells = all_cells(load_config(repo / TINY))
    by_key = {_key(P.cell_wildcards(c)): c for c in cells}
    failing = next(c for c in cells if FAILING in c.path)

    def slurm_log_tail() -> str:
        return f"--- slurmctld.log ---\n{slurm_cluster._tail(cluster_dir / 'slurmctld.log')}"

    # 1. Every cell, one of them made to fail (no retries, keep going).
    t0 = time.time()
    run1 = _run(snakemake + ["cells", "--configfile", TINY, "--keep-going", "--retries", "0"], cwd=repo,
                env={**env, "PEFTDECK_SIMULATE_FAILURE_FOR": FAILING}, timeout=720)
    assert run1.returncode != 0, f"the failing cell did not fail the run:\n{run1.stdout[-4000:]}"
    assert "simulated failure" in run1.stdout, f"the run failed otherwise:\n{run1.stdout[-8000:]}"
    jobs1 = _slurm_jobs(repo)
    recs1 = _records(cluster_dir, repo, set(jobs1))
    assert set(recs1) == set(jobs1), f"SLURM records {sorted(recs1)} vs job logs {sorted(jobs1)}\n{slurm_log_tail()}"
    pretrain = [j for j, what in jobs1.items() if what == "rule_demo_pretrain"]
    bundles = {j: _cells_of_job(repo, j) for j, what in jobs1.items() if what.startswith("group_train")}
    # Only the compute rules went to SLURM; everything else ran here, as a local rule.
    assert len(pretrain) == 1 and len(pretrain) + len(bundles) == len(jobs1), f"jobs: {jobs1}"
    assert recs1[pretrain[0]]["JobState"] == "COMPLETED"

    # Fewer SLURM jobs than cells: each cell was given to exactly one bundle of at most `per_job`.
    given = sorted(_key(wc) for cs in bundles.values() for wc in cs)
    assert given == sorted(by_key), f"cells given to SLURM jobs: {given}"
    assert len(bundles) == math.ceil(len(cells) / per_job) < len(cells)
    failed_jobs = []
    for jid, cs in bundles.items():
        rec = recs1[jid]
        assert rec["Partition"] == slurm_cluster.PARTITION
        # A bundle asks for the CPUs and memory of the cells it runs side by side and the runtime of
        # its rounds (profile: 1 CPU, 500 MB, 10 min per cell, `gpu_slot` cells at a time).
        side_by_side = min(len(cs), at_once)
        assert int(rec["TimeLimit"]) == 10 * math.ceil(len(cs) / at_once), rec
        assert f"cpu={side_by_side}," in rec["Tres"] and f"mem={500 * side_by_side}M" in rec["Tres"], rec
        # ... and one GPU: SLURM gave the job one of the node's (stand-in) GPUs, and every cell of the
        # job took it as its device (CUDA_VISIBLE_DEVICES set by SLURM -> the cell's GPU slot).
        slots = {json.dumps(json.loads((repo / by_key[_key(wc)].path).read_text())["compute"]["device_slot"])
                 for wc in cs if (repo / by_key[_key(wc)].path).is_file()}
        failed_bundle = _key(P.cell_wildcards(failing)) in map(_key, cs)
        # (the failed bundle may have no result at all: its failing cell can be the first to run)
        assert len(slots) == 1 or (failed_bundle and not slots), f"cells of job {jid} on different devices: {slots}"
        for text in slots:
            slot = json.loads(text)
            assert slot["device"] in {str(i) for i in range(slurm_cluster.NODE_GPUS)} and slot["devices"] == 1, slot
        if failed_bundle:
            assert rec["JobState"] == "FAILED", rec
            failed_jobs.append(jid)
        else:
            assert rec["JobState"] == "COMPLETED", rec
            for wc in cs:  # every cell of a completed bundle finished
                assert (repo / by_key[_key(wc)].path).is_file(), by_key[_key(wc)].path
    assert len(failed_jobs) == 1
    assert not (repo / failing.path).exists()
    # The other cells of the failed bundle: those that ran before the failure kept their results
    # (keep-incomplete in the profile); Snakemake runs a bundle without --keep-going, so the cells
    # after the failing one in that job did not start, and the deck run below sends only them again.
    not_started = {by_key[_key(wc)].path for wc in bundles[failed_jobs[0]]
                   if by_key[_key(wc)] is not failing and not (repo / by_key[_key(wc)].path).is_file()}
    ran_before = [by_key[_key(wc)].path for wc in bundles[failed_jobs[0]]
                  if (repo / by_key[_key(wc)].path).is_file()]
    print(f"failed bundle: {len(ran_before)} cell(s) kept, {len(not_started)} not started")
    finished = {c.path: (repo / c.path).stat().st_mtime_ns for c in cells if (repo / c.path).is_file()}

    # 2. The failed cell alone, by its address: one SLURM job with that one cell.
    run2 = _run(snakemake + [failing.path, "--configfile", TINY], cwd=repo, env=env, timeout=300)
    assert run2.returncode == 0, f"rerunning {failing.path} failed:\n{run2.stdout[-6000:]}\n{slurm_log_tail()}"
    jobs2 = set(_slurm_jobs(repo)) - set(jobs1)
    assert len(jobs2) == 1, f"new SLURM jobs: {sorted(jobs2)}"
    (jid2,) = jobs2
    assert _records(cluster_dir, repo, jobs2)[jid2]["JobState"] == "COMPLETED"
    assert [_key(wc) for wc in _cells_of_job(repo, jid2)] == [_key(P.cell_wildcards(failing))]
    assert (repo / failing.path).is_file()

    # 3. The deck: only the cells that never started go to SLURM again, nothing that finished is
    # redone; reporting runs here.
    missing = {c.path for c in cells if not (repo / c.path).is_file()}
    assert missing == not_started, sorted(missing ^ not_started)
    run3 = _run(snakemake + ["deck", "--configfile", TINY], cwd=repo, env=env, timeout=540)
    elapsed = time.time() - t0
    assert run3.returncode == 0, f"the deck run failed:\n{run3.stdout[-6000:]}\n{slurm_log_tail()}"
    jobs3 = set(_slurm_jobs(repo)) - set(jobs1) - jobs2
    sent_again = {by_key[_key(wc)].path for jid in jobs3 for wc in _cells_of_job(repo, jid)}
    assert sent_again == not_started, f"SLURM jobs of the deck run: {sorted(jobs3)} with {sorted(sent_again)}"
    for rule in LOCAL_RULES:
        assert f"localrule {rule}:" in run1.stdout + run3.stdout, f"{rule} did not run on the submitting machine"
    assert (repo / P.deck_md("tiny")).is_file(), "slides/tiny/deck.md was not built"
    for c in cells:
        assert (repo / c.path).is_file(), f"{c.path} has no result"
    for path, mtime in finished.items():
        assert (repo / path).stat().st_mtime_ns == mtime, f"{path} was redone"
    n_train_jobs = len(bundles) + 1 + len(jobs3)
    assert n_train_jobs < len(cells)
    print(f"SLURM profile: {len(cells)} cells in {n_train_jobs} SLURM jobs "
          f"(one failed on purpose, one rerun alone) in {elapsed:.0f} s")
