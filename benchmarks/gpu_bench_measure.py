"""The measurements of gpu_bench.py: the device's matmul peak, one method at one shape, and several
processes sharing the device (each a `gpu_bench.py --worker` child started by file path)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).resolve().with_name("gpu_bench.py")


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device, smoke: bool) -> dict[str, Any]:
    import torch

    n, dtype = (512, torch.float32) if smoke else (8192, torch.bfloat16)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    best = 0.0
    iters = 5 if smoke else 50
    for _ in range(3 if smoke else 5):
        t0 = time.perf_counter()
        for _ in range(iters):
            a @ b
        _sync(device)
        best = max(best, 2 * n ** 3 * iters / (time.perf_counter() - t0))
    return {"tflops": best / 1e12, "shape": f"{n}x{n}x{n}", "dtype": str(dtype).replace("torch.", "")}


def build(job: dict[str, Any]):
    """Model with its method applied, optimizer, one random batch, autocast: what a cell trains."""
    import torch

    from peftdeck.methods import apply_method, count_parameters
    from peftdeck.tasks import get_task
    from peftdeck.train import load_model, make_optimizer, seed_everything

    device = torch.device(job["device"])
    task = get_task(job["task"])
    seed_everything(0)
    model = load_model({"source": "random", "location": job["model_dir"]}, task, task.num_labels)
    model = apply_method(model, job["kind"], task.kind, job["options"])
    trainable, _ = count_parameters(model)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(params, 1e-4, 0.0, device)
    bsz, length = job["batch_size"], job["length"]
    vocab = model.config.vocab_size if hasattr(model, "config") else 1000
    g = torch.Generator().manual_seed(1)
    batch = {"input_ids": torch.randint(100, vocab, (bsz, length), generator=g),
             "attention_mask": torch.ones(bsz, length, dtype=torch.long),
             "token_type_ids": torch.zeros(bsz, length, dtype=torch.long)}
    if task.kind == "qa":
        batch["start_positions"] = torch.randint(0, length, (bsz,), generator=g)
        batch["end_positions"] = torch.randint(0, length, (bsz,), generator=g)
    elif task.kind == "regression":
        batch["labels"] = torch.rand(bsz, generator=g) * 5
    else:
        batch["labels"] = torch.randint(0, task.num_labels or 2, (bsz,), generator=g)
    batch = {k: v.to(device) for k, v in batch.items()}
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16)

    def step() -> None:
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return model, step, batch, autocast, trainable, "bf16" if use_bf16 else "fp32"


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """Examples/s, peak memory and FLOPs of one method at one shape (in this process)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = torch.device(job["device"])
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model, step, batch, autocast, trainable, precision = build(job)
    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    for _ in range(job["warmup"]):
        step()
    _sync(device)
    steps, t0 = 0, time.perf_counter()
    while steps < job["min_steps"] or time.perf_counter() - t0 < job["seconds"]:
        step()
        steps += 1
        if steps % 5 == 0:
            _sync(device)
    _sync(device)
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    # evaluation: forward only, at the evaluation batch size
    model.eval()
    eval_batch = {k: v[:1].expand(job["eval_batch_size"], *v.shape[1:]).contiguous()
                  for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad(), autocast:
        model(**eval_batch)
        _sync(device)
        n_eval, e0 = 0, time.perf_counter()
        while n_eval < 3 or time.perf_counter() - e0 < job["seconds"] / 3:
            model(**eval_batch)
            n_eval += 1
        _sync(device)
        eval_dt = time.perf_counter() - e0
    bsz = job["batch_size"]
    return {"method": job["method"], "task": job["task"], "kind": job["kind"], "batch_size": bsz,
            "length": job["length"], "precision": precision, "trainable": trainable, "steps": steps,
            "seconds": dt, "examples_per_s": bsz * steps / dt, "step_ms": 1000 * dt / steps,
            "flops_per_step": flops, "tflops": flops * steps / dt / 1e12, "peak_mem_gib": peak,
            "eval_examples_per_s": job["eval_batch_size"] * n_eval / eval_dt}


def worker(job: dict[str, Any]) -> int:
    """One of several processes sharing the device: build, warm up, say ready, wait for go, time."""
    import torch

    from peftdeck.train import process_age_s

    device = torch.device(job["device"])
    _, step, _, _, _, _ = build(job)
    ready_s = process_age_s()  # process start -> model on the device, imports included: a cell's start-up
    for _ in range(job["warmup"]):
        step()
    _sync(device)
    Path(job["ready"]).write_text("ready")
    deadline = time.time() + 300
    while not Path(job["go"]).exists():
        if time.time() > deadline:
            return 2
        time.sleep(0.01)
    t0 = time.time()
    for i in range(job["steps"]):
        step()
        if i % 5 == 4:
            _sync(device)
    _sync(device)
    t1 = time.time()
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    Path(job["result"]).write_text(json.dumps({"start": t0, "end": t1, "examples": job["steps"] * job["batch_size"],
                                               "startup_s": ready_s, "peak_mem_gib": peak}))
    return 0


def shared_run(job: dict[str, Any], n: int, work: Path) -> dict[str, Any]:
    """n processes started together, each timing job['steps'] steps on the same device."""
    work.mkdir(parents=True, exist_ok=True)
    go = work / "go"
    procs, files = [], []
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for i in range(n):
        files.append((work / f"ready{i}", work / f"result{i}.json"))
        w = {**job, "ready": str(files[-1][0]), "go": str(go), "result": str(files[-1][1])}
        procs.append(subprocess.Popen([sys.executable, str(SCRIPT), "--worker", json.dumps(w)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    deadline = time.time() + 300
    while not all(r.exists() for r, _ in files):
        if time.time() > deadline or any(p.poll() not in (None, 0) for p in procs):
            for p in procs:
                p.kill()
            outs = [p.communicate()[0][-2000:] for p in procs]
            raise RuntimeError(f"shared run of {n} did not get ready:\n" + "\n".join(outs))
        time.sleep(0.05)
    go.write_text("go")
    for p in procs:
        out, _ = p.communicate(timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"worker failed ({p.returncode}):\n{out[-3000:]}")
    res = [json.loads(f.read_text()) for _, f in files]
    span = max(r["end"] for r in res) - min(r["start"] for r in res)
    total = sum(r["examples"] for r in res)
    peaks = [r["peak_mem_gib"] for r in res if r["peak_mem_gib"] is not None]
    return {"processes": n, "examples_per_s": total / span, "span_s": span,
            "per_process_examples_per_s": [r["examples"] / (r["end"] - r["start"]) for r in res],
            "startup_s": max(r["startup_s"] for r in res), "peak_mem_gib_sum": sum(peaks) if peaks else None}
