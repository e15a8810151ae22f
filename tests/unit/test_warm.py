"""The warm worker (peftdeck.warm): a job hands its cell to a process that has torch and transformers
imported; the job keeps its exit status, its output and its kill, and runs the cell itself when no
worker answers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench_inputs import cell_spec, generated_sst2, tiny_model, word_vocab
from peftdeck import warm

REPO = Path(__file__).resolve().parents[2]


def env(**extra):
    out = {k: v for k, v in os.environ.items() if not k.startswith(("PEFTDECK_WARM", "SLURM_"))}
    out.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(REPO / "src"), **extra)
    return out


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    root = tmp_path_factory.mktemp("warm")
    data = generated_sst2(root / "sst2", 48, 16, 3)
    model = tiny_model(root / "model", vocab=word_vocab(data))
    return lambda epochs=1: cell_spec(model, "random", data, "full_ft", lr=1e-3, batch_size=8, epochs=epochs,
                                      seed=1, max_length=32, eval_batch_size=16, threads=1)


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    sock = str(tmp_path_factory.mktemp("sock") / "w.sock")
    log = tmp_path_factory.mktemp("log") / "warm.log"
    proc = warm.start(sock, str(log), wait_s=120, extra_env={"PYTHONPATH": str(REPO / "src")})
    assert proc is not None, log.read_text()
    yield sock
    warm.stop(proc, sock)
    assert not os.path.exists(sock)


def job(spec, out: Path, sock: str | None, log: Path, **extra):
    """`python -m peftdeck.run_cell` as the Snakemake rule runs it, its output going to `log`."""
    e = env(**({warm.ENV_SOCKET: sock} if sock else {}), **extra)
    with open(log, "w") as f:
        return subprocess.Popen([sys.executable, "-m", "peftdeck.run_cell", "--spec", json.dumps(spec),
                                 "--out", str(out)], stdout=f, stderr=subprocess.STDOUT, env=e, cwd=out.parent.parent)


def test_a_cell_handed_to_the_worker_runs_there_and_reports_back(worker, cell, tmp_path):
    out = tmp_path / "cell" / "metrics.json"
    out.parent.mkdir()
    t0 = time.perf_counter()
    assert job(cell(), out, worker, tmp_path / "job.log").wait(timeout=300) == 0
    wall = time.perf_counter() - t0
    result = json.loads(out.read_text())
    assert result["status"] == "complete" and result["compute"]["warm_start"] is True
    # Start-up counts from the job's own start, so it is positive and within the job's wall time.
    assert 0 < result["compute"]["startup_s"] < wall
    assert f"cell {out}" in (tmp_path / "job.log").read_text()  # the cell's output is the job's log


def test_without_a_worker_the_job_runs_the_cell_itself(cell, tmp_path):
    out = tmp_path / "cell" / "metrics.json"
    out.parent.mkdir()
    assert job(cell(), out, str(tmp_path / "nobody.sock"), tmp_path / "job.log").wait(timeout=300) == 0
    assert json.loads(out.read_text())["compute"]["warm_start"] is False


def test_the_exit_status_and_the_error_come_back_to_the_job(worker, tmp_path):
    e = env(**{warm.ENV_SOCKET: worker})
    proc = subprocess.run([sys.executable, "-m", "peftdeck.run_cell", "--spec", "{not json",
                           "--out", str(tmp_path / "m.json")], env=e, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error:" in proc.stderr


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie child of the worker (not yet reaped) counts as gone: it runs nothing.
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


def _child_pid(log: Path, timeout: float = 60) -> int:
    """The forked cell's pid, as the job names it in its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if "fork of the warm worker (pid " in line:
                return int(line.split("(pid ", 1)[1].split(")", 1)[0])
        time.sleep(0.1)
    raise AssertionError(f"the job never named its forked cell:\n{log.read_text()}")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_job_ends_its_cell_and_leaves_no_result(worker, cell, tmp_path, how):
    out = tmp_path / "cell" / "metrics.json"
    out.parent.mkdir()
    log = tmp_path / "job.log"
    proc = job(cell(epochs=400), out, worker, log)
    child = _child_pid(log)
    time.sleep(1.0)
    proc.send_signal(how)
    proc.wait(timeout=30)
    assert _wait_gone(child, 15), f"cell {child} still running after the job got {how!r}"
    assert not out.exists()


def test_the_job_does_not_use_a_worker_where_it_must_not():
    assert warm.usable({warm.ENV_SOCKET: "/x.sock"}) == "/x.sock"
    assert warm.usable({}) is None
    assert warm.usable({warm.ENV_SOCKET: "/x.sock", "PEFTDECK_WARM": "0"}) is None
    assert warm.usable({warm.ENV_SOCKET: "/x.sock", "SLURM_JOB_ID": "7"}) is None  # inside a cluster job
    assert warm.usable({warm.ENV_SOCKET: "/x.sock", warm.ENV_CHILD: "12"}) is None  # never forks twice


def test_the_worker_exits_with_the_process_that_started_it(tmp_path):
    sock = str(tmp_path / "w.sock")
    parent = subprocess.Popen([sys.executable, "-c", f"""
import subprocess, sys, time
p = subprocess.Popen([sys.executable, '-m', 'peftdeck.warm', 'serve', '--socket', {sock!r}])
print(p.pid, flush=True)
time.sleep(600)
"""], stdout=subprocess.PIPE, text=True, env=env())
    worker_pid = int(parent.stdout.readline())
    deadline = time.monotonic() + 120
    while not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert os.path.exists(sock), "the worker never came up"
    parent.kill()
    parent.wait()
    assert _wait_gone(worker_pid, 20), "the worker outlived the workflow that started it"
    assert not os.path.exists(sock)


def test_gpu_visibility_is_read_from_device_files(monkeypatch):
    monkeypatch.setattr(warm.os.path, "exists", lambda p: False)
    monkeypatch.setattr(warm, "_listdir", lambda p: ["null", "nvidiactl", "tty0"])
    assert not warm.gpu_visible()
    monkeypatch.setattr(warm, "_listdir", lambda p: ["null", "nvidia0", "nvidiactl"])
    assert warm.gpu_visible()


def test_sockets_of_workflows_that_are_gone_are_swept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = Path(warm.socket_path(str(tmp_path), dead.pid))
    live = Path(warm.socket_path(str(tmp_path), os.getpid()))
    other = tmp_path / "unrelated.sock"
    for p in (stale, live, other):
        p.write_text("")
    assert warm.sweep_stale(str(tmp_path)) == [stale.name]
    assert not stale.exists() and live.exists() and other.exists()
