"""Running the benchmark's pieces each in its own process: a cell through `python -m peftdeck.run_cell`,
or a worker of this benchmark (its entry script, by file path, with `--worker`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).resolve().with_name("trainer_vs_cell.py")


def _checkout() -> str | None:
    """The repository root when running from a checkout (children then import its `src/`)."""
    return str(REPO) if (REPO / "src" / "peftdeck").is_dir() else None


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    src = str(REPO / "src")
    if (REPO / "src" / "peftdeck").is_dir() and src not in env.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def spawn(argv: list[str], log_path: Path, timeout: float | None = None,
          env_update: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Run a child process; wall time from spawn to exit, its CPU time and peak RSS (kernel's numbers).

    `env_update` sets variables of the child's environment (None removes one)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = child_env()
    for key, value in (env_update or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=_checkout())
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": proc.returncode, "process_wall_s": wall, "process_cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_bytes": usage.ru_maxrss * 1024, "log": str(log_path)}


def _tail(path: str, n: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def run_ours(spec: dict[str, Any], work: Path, name: str,
             env_update: dict[str, str | None] | None = None) -> dict[str, Any]:
    out = work / name / "metrics.json"
    proc = spawn([sys.executable, "-m", "peftdeck.run_cell", "--spec", json.dumps(spec), "--out", str(out)],
                 work / name / "log.txt", env_update=env_update)
    if proc["rc"] != 0 or not out.is_file():
        return {"variant": name, "error": f"exit {proc['rc']}", "log_tail": _tail(proc["log"]), **proc}
    cell = json.loads(out.read_text())
    c = cell["compute"]
    primary = cell["task"]["primary_metric"]
    return {
        "variant": name, **proc,
        "examples_per_s": c["train_examples_per_s"], "train_s": c["train_s"], "examples": round(c["epochs"] * cell["task"]["n_train_features"]),
        "metric_name": primary, "metric": cell["metrics"][primary],
        "train_flops": c["train_flops"], "startup_s": c["startup_s"], "startup_cpu_s": c.get("startup_cpu_s"),
        "warm_start": c.get("warm_start", False), "steps": c["steps"], "compile_s": c.get("compile_s"),
        "train_tokens": c.get("train_tokens"), "train_tokens_padded": c.get("train_tokens_padded"),
        "device": c["device"], "device_name": c["device_name"], "precision": c["precision"],
        "threads": c.get("threads"), "attn_implementation": c.get("attn_implementation"),
        "params_trainable": cell["params"]["trainable"], "params_total": cell["params"]["total"],
        "gpu_peak_bytes": c.get("cuda_max_allocated_bytes",
                                c.get("peak_memory_bytes") if c.get("memory_kind") == "cuda_max_allocated" else None),
        "training_memory": c.get("training_memory"), "grad_accum_steps": c.get("grad_accum_steps"),
        "optimizer": "AdamW (fused where available)", "padding": "dynamic, length-grouped", "eval_in_training": False,
    }


def run_worker(kind: str, job: dict[str, Any], work: Path, name: str, timeout: float | None = None) -> dict[str, Any]:
    job_path, res_path = work / name / "job.json", work / name / "result.json"
    job_path.parent.mkdir(parents=True, exist_ok=True)
    job_path.write_text(json.dumps(job))
    proc = spawn([sys.executable, str(SCRIPT), "--worker", kind, "--job", str(job_path),
                  "--result", str(res_path)], work / name / "log.txt", timeout=timeout)
    if proc["rc"] != 0 or not res_path.is_file():
        return {"variant": name, "error": f"exit {proc['rc']}", "log_tail": _tail(proc["log"]), **proc}
    return {"variant": name, **proc, **json.loads(res_path.read_text())}
