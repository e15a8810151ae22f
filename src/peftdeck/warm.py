"""A warm worker: one process that has already imported torch, transformers and peft forks one child per cell.

    python -m peftdeck.warm serve --socket PATH [--idle-exit SECONDS]

A cell spends 4-5 s importing torch and transformers before its first step. On a local Snakemake run
the workflow starts this worker once (`onstart`, see rules/common.smk) and exports its socket as
PEFTDECK_WARM_SOCKET; each job still runs `python -m peftdeck.run_cell ...`, which hands its
arguments, environment, working folder and its own stdin/stdout/stderr to the worker over the Unix
socket and waits. The worker forks; the child runs the cell with the job's log as its output and
reports the exit status, which the job returns. So a cell stays one job in Snakemake's eyes (its log,
its exit status, its benchmark wall time), only without the imports.

Failure modes, each tested (tests/unit/test_warm.py):
* no worker, a stale socket, PEFTDECK_WARM=0, or a job inside a SLURM allocation: the job runs the
  cell itself, as it always did;
* the job is killed (even with kill -9): the child sees its connection close and ends at once, so no
  orphaned cell keeps training; a result is written atomically, so none is half-written;
* a terminating signal to the job (SIGTERM, SIGINT, SIGHUP) is forwarded to the child;
* the child dies without a status (killed, out of memory): the job fails with a message saying so;
* the worker's parent (Snakemake) ends: the worker exits, and removes its socket.
The worker never runs a torch operation itself, so no thread pool or CUDA context exists at fork time.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from .clock import ENV_T0  # the job's own start (epoch seconds): a forked cell's start-up counts from it

_HEADER = struct.Struct("!Q")
ENV_SOCKET = "PEFTDECK_WARM_SOCKET"
ENV_CHILD = "PEFTDECK_WARM_CHILD"  # set in a forked cell: where it ran (and never to fork again)
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


# --- the job's side ------------------------------------------------------------------------------

def usable(env: dict[str, str] | None = None) -> str | None:
    """The worker's socket path when this job should hand its cell over, else None."""
    env = os.environ if env is None else env
    path = env.get(ENV_SOCKET)
    if not path or env.get("PEFTDECK_WARM", "1") == "0" or env.get(ENV_CHILD) or env.get("SLURM_JOB_ID"):
        return None
    return path


def _process_start_epoch() -> float:
    from .clock import process_age_s

    age = process_age_s()
    return time.time() - (age if age == age else 0.0)


def submit(path: str, argv: Sequence[str], connect_timeout: float = 2.0) -> int | None:
    """Run `python -m peftdeck.run_cell argv` in a fork of the worker at `path`; its exit status.

    None when no worker answers (the caller then runs the cell itself)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(connect_timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    sock.settimeout(None)
    env = dict(os.environ)
    env[ENV_T0] = repr(_process_start_epoch())
    payload = json.dumps({"argv": list(argv), "cwd": os.getcwd(), "env": env}).encode()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        socket.send_fds(sock, [_HEADER.pack(len(payload))], [0, 1, 2])
        sock.sendall(payload)
        reader = sock.makefile("r")
        first = reader.readline()
    except OSError:
        sock.close()
        return None
    if not first:  # the worker accepted but its child never started: run the cell here instead
        sock.close()
        return None
    child = int(json.loads(first)["pid"])
    print(f"peftdeck: the cell runs in a fork of the warm worker (pid {child}); PEFTDECK_WARM=0 runs it here",
          file=sys.stderr, flush=True)

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    line = reader.readline()
    sock.close()
    if not line:
        print(f"error: the cell's process (pid {child} of the warm worker) ended without an exit status "
              "(killed, or out of memory?); rerun the cell, or set PEFTDECK_WARM=0 to run it in this process",
              file=sys.stderr)
        return 1
    return int(json.loads(line)["rc"])


# --- the worker's side ----------------------------------------------------------------------------

def preload() -> None:
    """Everything a cell imports, once (no torch operation runs here)."""
    for key, value in OFFLINE.items():  # read by huggingface_hub when it is imported, not per call
        os.environ.setdefault(key, value)
    # Should anything ask whether CUDA is there while importing, ask NVML, which leaves forks usable.
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    import peft  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from transformers import (AutoConfig, AutoModelForQuestionAnswering,  # noqa: F401
                              AutoModelForSequenceClassification, AutoTokenizer)
    from transformers.models.bert import modeling_bert  # noqa: F401

    from . import methods, metrics, record, run_cell, tasks, train  # noqa: F401
    from .methods import method_specs

    method_specs()  # imports every method's module


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = conn.recv(min(1 << 20, n - got))
        if not chunk:
            raise ConnectionError("the job closed its connection before sending its request")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _child(conn: socket.socket) -> int:
    """In the fork: become the job (its output, folder and environment), run the cell, report."""
    header, fds, _flags, _addr = socket.recv_fds(conn, _HEADER.size, 3)
    request = json.loads(_recv_exact(conn, _HEADER.unpack(header)[0]))
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ[ENV_CHILD] = str(os.getpid())
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    conn.sendall((json.dumps({"pid": os.getpid()}) + "\n").encode())

    def watch():  # the job is gone (killed, even with -9): so is this cell
        try:
            while conn.recv(1):
                pass
        except OSError:
            pass
        os._exit(137)

    threading.Thread(target=watch, daemon=True).start()
    from .run_cell import main

    try:
        rc = main(request["argv"])
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported like an uncaught error in a fresh process
        import traceback

        traceback.print_exc()
        rc = 1
    sys.stdout.flush()
    sys.stderr.flush()
    conn.sendall((json.dumps({"rc": rc}) + "\n").encode())
    return int(rc)


def serve(path: str, idle_exit: float = 0.0, parent: int | None = None, log=print) -> int:
    """Preload, then fork a child per connection until the parent process ends (or `idle_exit` s pass
    without a cell). The socket appears only once the imports are done."""
    parent = os.getppid() if parent is None else parent
    t0 = time.perf_counter()
    preload()
    log(f"warm worker: imports done in {time.perf_counter() - t0:.1f} s; serving on {path}")
    if os.path.exists(path):
        os.unlink(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(tmp)
    srv.listen(64)
    os.replace(tmp, path)  # appears whole: a job sees no socket, or one that accepts
    srv.settimeout(0.5)
    children: set[int] = set()
    last = time.monotonic()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            for pid in list(children):
                try:
                    done, _status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    children.discard(pid)
            if parent and os.getppid() != parent:
                log("warm worker: the workflow that started it is gone; exiting")
                break
            if idle_exit and not children and time.monotonic() - last > idle_exit:
                log(f"warm worker: no cell for {idle_exit:g} s; exiting")
                break
            try:
                conn, _ = srv.accept()
            except (TimeoutError, socket.timeout):
                continue
            last = time.monotonic()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                srv.close()
                code = 1
                try:
                    code = _child(conn)
                finally:
                    os._exit(code)
            conn.close()
            children.add(pid)
            log(f"warm worker: cell started as pid {pid}")
    finally:
        srv.close()
        try:
            os.unlink(path)
        except OSError:
            pass
    return 0


# --- starting and stopping it from the workflow ----------------------------------------------------

def gpu_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU (device files or driver), read without importing torch.

    The workflow leaves the worker off there unless PEFTDECK_WARM=1: a CUDA call made while importing
    in the worker (before the fork) would make CUDA unusable in every forked cell, and that has not
    been checked on a GPU machine yet. GPU cells are long, so their start-up matters less.
    """
    return os.path.exists("/proc/driver/nvidia") or any(
        name.startswith("nvidia") and name[6:].isdigit() for name in _listdir("/dev"))


def socket_path(directory: str, owner_pid: int) -> str:
    """Where the worker of the Snakemake process `owner_pid` listens."""
    return os.path.join(directory, f"peftdeck-warm-{owner_pid}.sock")


def sweep_stale(directory: str) -> list[str]:
    """Remove the sockets of workflows that no longer run (a `kill -9` gives a worker no chance to)."""
    removed = []
    for name in _listdir(directory):
        if not (name.startswith("peftdeck-warm-") and name.endswith(".sock")):
            continue
        pid = name[len("peftdeck-warm-"):-len(".sock")]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            os.unlink(os.path.join(directory, name))
            removed.append(name)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, not ours to touch
        return True
    return True


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def start(path: str, log_path: str, python: str = sys.executable, wait_s: float = 60.0,
          extra_env: dict[str, str] | None = None) -> Any:
    """Start a worker for this process (it ends with it); with `wait_s` > 0, wait until its socket is there.

    Returns the Popen, or None if it failed or did not come up in `wait_s` (jobs then start cold)."""
    import subprocess

    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    env = {**os.environ, **OFFLINE, **(extra_env or {})}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([python, "-m", "peftdeck.warm", "serve", "--socket", path,
                                 "--parent", str(os.getpid())], stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    if wait_s <= 0:  # jobs that start before the socket exists run their cells themselves
        return proc
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        if os.path.exists(path):
            return proc
        time.sleep(0.1)
    proc.terminate()
    return None


def stop(proc: Any, path: str | None = None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            proc.kill()
    if path and os.path.exists(path):
        try:
            os.unlink(path)
        except OSError:
            pass


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m peftdeck.warm", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="preload and serve cells on a Unix socket")
    s.add_argument("--socket", required=True)
    s.add_argument("--idle-exit", type=float, default=0.0, help="exit after this many seconds without a cell")
    s.add_argument("--parent", type=int, default=None, help="exit when this process is no longer our parent")
    args = ap.parse_args(argv)
    return serve(args.socket, args.idle_exit, args.parent, log=lambda m: print(m, flush=True))


if __name__ == "__main__":
    sys.exit(main())
