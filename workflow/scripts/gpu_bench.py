#!/usr/bin/env python
"""GPU figures for the reference study, in one run of under 10 minutes on one H100/H200:

    python workflow/scripts/gpu_bench.py --json gpu_bench.json            # on the GPU machine
    python workflow/scripts/gpu_bench.py --smoke                          # tiny model on the CPU, seconds

Measured with BERT-base-uncased built from its config (random weights: speed and memory do not
depend on the weight values), in bf16 autocast, with peftdeck's own model loading, methods and
optimizer (`peftdeck.train`), on random token ids:

1. the device's bf16 matmul peak (best of several timed 8192^2 matmuls), which utilisation is measured against;
2. per method of the reference study (Full FT, BitFit, BitFit subset, LoRA, prompt tuning on the GLUE
   tasks; Full FT and BitFit on SQuAD): training examples/s, peak CUDA memory and model-FLOPs
   utilisation (FLOPs of one step counted by torch.utils.flop_counter, times steps per second, over the
   peak), each at the batch size of the study and the mean padded length of the task's training
   batches (computed from the real data with the model's tokenizer where the data is found, else the
   task's max_length), plus evaluation examples/s;
3. one cell alone vs 2 and 4 cells sharing the device (separate processes started together, each
   timing the same number of steps): total examples/s and the speed-up over one cell;
4. from these, the projected wall time of the whole reference study (config/config.yaml: every cell's
   training examples = steps x batch from its schedule and train size, plus evaluation and a fixed
   start-up per cell) on one GPU, one cell at a time and with 2 or 4 cells sharing it.

Inputs: --model-config (or PEFTDECK_BERT_BASE_CONFIG) is a folder with BERT-base's config.json and
vocabulary, by default <shared data>/models/no-weights/bert-base-uncased with the shared data folder
from PEFTDECK_SHARED_DATA (default ../shared/data beside the checkout); the GLUE TSVs and SQuAD JSON
of the same folder give the token lengths.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

# Split sizes of the original datasets (training rows, dev rows); SQuAD counts questions.
SPLITS = {"sst2": (67_349, 872), "mrpc": (3_668, 408), "rte": (2_490, 277), "cola": (8_551, 1_043),
          "stsb": (5_749, 1_500), "squad": (87_599, 10_570)}
GLUE_DIRS = {"sst2": ("SST-2", ["sentence"]), "mrpc": ("MRPC", ["#1 String", "#2 String"]),
             "rte": ("RTE", ["sentence1", "sentence2"])}
SHARE_COUNTS = (1, 2, 4)
SHARE_METHODS = ("full_ft", "bitfit")


def shared_data() -> Path:
    return Path(os.environ.get("PEFTDECK_SHARED_DATA") or REPO.parent / "shared" / "data")


def default_model_config() -> Path | None:
    for cand in (os.environ.get("PEFTDECK_BERT_BASE_CONFIG"),
                 shared_data() / "models" / "no-weights" / "bert-base-uncased"):
        if cand and (Path(cand) / "config.json").is_file():
            return Path(cand)
    return None


def tiny_model_dir(out: Path) -> Path:
    """A config-only 2-layer BERT (hidden 32) for the smoke run."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 1000, "hidden_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "layer_norm_eps": 1e-12,
        "pad_token_id": 0}))
    return out


# --- the study: which cells, how many examples -------------------------------------------------------

def study_plan(config_path: Path) -> dict[str, Any]:
    """Cells of the study with the method, task, batch size and schedule of each."""
    from peftdeck.config import all_cells, load_config, resolve_cell

    cfg = load_config(config_path)
    cells = []
    for cell in all_cells(cfg):
        spec = resolve_cell(cfg, cell)
        cells.append({"task": cell.task, "method": cell.method, "kind": spec["method"]["kind"],
                      "options": spec["method"]["options"], "train_size": cell.train_size,
                      "batch_size": cell.batch_size, "schedule": spec["schedule"]})
    return {"study": cfg["study"], "training": cfg["training"], "cells": cells}


def padded_lengths(task: str, model_dir: Path, max_length: int, qa_max_length: int, doc_stride: int,
                   batch_size: int, sample: int = 4000) -> dict[str, Any] | None:
    """Mean width of length-grouped training batches (what a cell pays for) and features per example."""
    import torch
    from transformers import AutoTokenizer

    from peftdeck.train import length_grouped_order

    data = shared_data()
    rng = random.Random(0)
    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError):
        return None
    if task in GLUE_DIRS:
        folder, cols = GLUE_DIRS[task]
        path = data / "glue" / folder / "train.tsv"
        if not path.is_file():
            return None
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        rows = rng.sample(rows, min(sample, len(rows)))
        texts = [[r[c] for c in cols] for r in rows]
        enc = tok(*zip(*texts), truncation=True, max_length=max_length) if len(cols) == 2 else \
            tok([t[0] for t in texts], truncation=True, max_length=max_length)
        lengths = [len(x) for x in enc["input_ids"]]
        per_example = 1.0
    elif task == "squad":
        files = sorted((data / "squad").glob("train*.json"))
        if not files:
            return None
        qs, ctxs = [], []
        for art in json.loads(files[0].read_text())["data"]:
            for para in art["paragraphs"]:
                for qa in para["qas"]:
                    qs.append(qa["question"])
                    ctxs.append(para["context"])
        idx = rng.sample(range(len(qs)), min(sample, len(qs)))
        enc = tok([qs[i] for i in idx], [ctxs[i] for i in idx], truncation="only_second", max_length=qa_max_length,
                  stride=doc_stride, return_overflowing_tokens=True)
        lengths = [len(x) for x in enc["input_ids"]]
        per_example = len(lengths) / len(idx)
    else:
        return None
    batches = length_grouped_order(lengths, batch_size, torch.Generator().manual_seed(0), True)
    width = sum(max(lengths[i] for i in b) * len(b) for b in batches) / len(lengths)
    return {"padded_length": width, "mean_length": sum(lengths) / len(lengths),
            "features_per_example": per_example, "sampled": len(lengths), "source": "data"}


# --- measurements -------------------------------------------------------------------------------

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
        procs.append(subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(w)], env=env,
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


# --- projection ---------------------------------------------------------------------------------

def project(plan: dict[str, Any], per_cell: dict[tuple[str, str], dict[str, Any]], lengths: dict[str, Any],
            speedups: dict[int, float], startup_s: float) -> dict[str, Any]:
    from peftdeck.train import total_steps

    rows, total = [], 0.0
    for c in plan["cells"]:
        n_train, n_dev = SPLITS[c["task"]]
        size = c["train_size"]
        if size == "all":
            n = n_train
        elif isinstance(size, str) and size.endswith("%"):
            n = round(n_train * float(size[:-1]) / 100)
        else:
            n = min(int(size), n_train)
        fpe = lengths.get(c["task"], {}).get("features_per_example", 1.0)
        n_feat = math.ceil(n * fpe)
        steps = total_steps(c["schedule"], n_feat, c["batch_size"])
        m = per_cell.get((c["method"], c["task"])) or next(v for (meth, _), v in per_cell.items() if meth == c["method"])
        train_s = steps * c["batch_size"] / m["examples_per_s"]
        eval_s = math.ceil(n_dev * fpe) / m["eval_examples_per_s"]
        t = train_s + eval_s + startup_s
        total += t
        rows.append({"task": c["task"], "method": c["method"], "train_size": size, "steps": steps,
                     "examples": steps * c["batch_size"], "train_s": train_s, "eval_s": eval_s, "total_s": t})
    return {"cells": len(rows), "serial_s": total, "startup_s_per_cell": startup_s,
            "shared_s": {k: total / v for k, v in speedups.items()}, "rows": rows}


# --- the run ------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    t_all = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f"peftdeck-gpu-bench-{os.getpid()}-"))  # removed by main()
    if args.smoke:
        device = "cpu"
        model_dir = tiny_model_dir(work / "tiny-bert")
        seconds, warmup, min_steps, share_steps = 0.2, 1, 2, 3
        shares = (1, 2)
        torch.set_num_threads(1)
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device: run with --smoke on a CPU machine")
        device = "cuda"
        model_dir = Path(args.model_config) if args.model_config else default_model_config()
        if model_dir is None or not (model_dir / "config.json").is_file():
            raise SystemExit("BERT-base config not found: pass --model-config <folder with config.json> "
                             "or set PEFTDECK_BERT_BASE_CONFIG / PEFTDECK_SHARED_DATA")
        seconds, warmup, min_steps, share_steps = args.seconds, 5, 10, args.share_steps
        shares = SHARE_COUNTS
    plan = study_plan(Path(args.config))
    tr = plan["training"]
    report: dict[str, Any] = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu (smoke run)",
                              "torch": torch.__version__, "model_dir": model_dir.name,
                              "study": plan["study"], "config": args.config, "smoke": args.smoke}
    report["peak"] = matmul_peak(torch.device(device), args.smoke)
    peak = report["peak"]["tflops"]

    # shapes: each (method, task) pair of the study at the study's batch size and the task's width
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for c in plan["cells"]:
        pairs.setdefault((c["method"], c["task"]), c)
    measured = pairs
    if args.smoke:  # every code path, fewer shapes: one GLUE task and SQuAD
        first = next((t for _, t in pairs if t != "squad"), None)
        measured = {k: v for k, v in pairs.items() if k[1] in (first, "squad")}
    lengths: dict[str, Any] = {}
    for task in sorted({t for _, t in measured}):
        cap = tr["qa_max_length"] if task == "squad" else tr["max_length"]
        bs = next(c["batch_size"] for (_, t), c in pairs.items() if t == task)
        got = None if args.smoke else padded_lengths(task, model_dir, tr["max_length"], tr["qa_max_length"],
                                                      tr["doc_stride"], bs)
        lengths[task] = got or {"padded_length": min(cap, 32) if args.smoke else cap, "features_per_example": 1.0,
                                "source": "max_length (no data found)"}
        lengths[task]["length"] = min(cap, max(8, int(math.ceil(lengths[task]["padded_length"] / 8) * 8)))
    report["lengths"] = lengths

    per_cell: dict[tuple[str, str], dict[str, Any]] = {}
    for (method, task), c in sorted(measured.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        job = {"device": device, "model_dir": str(model_dir), "method": method, "task": task, "kind": c["kind"],
               "options": c["options"], "batch_size": c["batch_size"], "length": lengths[task]["length"],
               "eval_batch_size": tr["eval_batch_size"] if not args.smoke else 16,
               "seconds": seconds, "warmup": warmup, "min_steps": min_steps}
        r = measure(job)
        r["mfu_pct"] = 100 * r["tflops"] / peak
        per_cell[(method, task)] = r
        print(f"  {task:6s} {method:14s} {r['examples_per_s']:8.1f} ex/s  {r['tflops']:7.2f} TFLOP/s "
              f"({r['mfu_pct']:.1f} %)  peak {r['peak_mem_gib'] or 0:.2f} GiB", file=sys.stderr, flush=True)
    report["methods"] = [per_cell[k] for k in per_cell]

    # one cell alone vs several sharing the device (GLUE shape of the first GLUE task)
    glue_task = next((t for t in ("sst2", "mrpc", "rte") if t in lengths), next(iter(lengths)))
    sharing: dict[str, Any] = {}
    for method in SHARE_METHODS[:1] if args.smoke else SHARE_METHODS:
        if (method, glue_task) not in pairs:
            continue
        c = pairs[(method, glue_task)]
        job = {"device": device, "model_dir": str(model_dir), "method": method, "task": glue_task, "kind": c["kind"],
               "options": c["options"], "batch_size": c["batch_size"], "length": lengths[glue_task]["length"],
               "warmup": warmup, "steps": share_steps}
        runs = [shared_run(job, n, work / f"share-{method}-{n}") for n in shares]
        for r in runs:
            r["speedup"] = r["examples_per_s"] / runs[0]["examples_per_s"]
        sharing[method] = runs
        print(f"  sharing {method}: " + ", ".join(f"{r['processes']}: {r['examples_per_s']:.1f} ex/s "
                                                     f"(x{r['speedup']:.2f})" for r in runs), file=sys.stderr, flush=True)
    report["sharing"] = {"task": glue_task, "runs": sharing}
    speedups = {n: sum(r[i]["speedup"] for r in sharing.values()) / max(1, len(sharing))
                for i, n in enumerate(shares)}
    startup = max((r[0]["startup_s"] for r in sharing.values()), default=5.0)
    report["projection"] = project(plan, per_cell, lengths, speedups, startup)
    report["wall_s"] = time.perf_counter() - t_all
    return report


def _h(s: float) -> str:
    return f"{s / 3600:.2f} h" if s >= 3600 else f"{s / 60:.1f} min"


def render(report: dict[str, Any]) -> str:
    p = report["peak"]
    lines = [f"Device: {report['device']} (torch {report['torch']}); model: {report['model_dir']} "
             f"(config only, random weights); {p['dtype']} matmul peak {p['tflops']:.1f} TFLOP/s ({p['shape']}).",
             "", "| task | method | batch x length | trainable | examples/s | TFLOP/s | MFU % | peak GiB | eval ex/s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["methods"]:
        peak = "n/a" if r["peak_mem_gib"] is None else f"{r['peak_mem_gib']:.2f}"
        lines.append(f"| {r['task']} | {r['method']} | {r['batch_size']} x {r['length']} | {r['trainable']:,} | "
                     f"{r['examples_per_s']:.1f} | {r['tflops']:.2f} | {r['mfu_pct']:.1f} | {peak} | "
                     f"{r['eval_examples_per_s']:.0f} |")
    lines += ["", f"Cells sharing the device ({report['sharing']['task']}, processes started together):", "",
              "| method | processes | total examples/s | speed-up | peak GiB (sum) |", "|---|---:|---:|---:|---:|"]
    for method, runs in report["sharing"]["runs"].items():
        for r in runs:
            peak = "n/a" if r["peak_mem_gib_sum"] is None else f"{r['peak_mem_gib_sum']:.2f}"
            lines.append(f"| {method} | {r['processes']} | {r['examples_per_s']:.1f} | {r['speedup']:.2f} | {peak} |")
    pr = report["projection"]
    shared = ", ".join(f"{k} at a time: {_h(v)}" for k, v in pr["shared_s"].items() if k > 1)
    lines += ["", f"Projected wall time of the {report['study']} study ({pr['cells']} cells) on this one device: "
              f"{_h(pr['serial_s'])} one cell at a time; {shared} "
              f"(start-up {pr['startup_s_per_cell']:.1f} s per cell included: imports and model set-up, "
              "not the tokenization of the training split).",
              f"Token lengths: " + "; ".join(f"{t} {v['length']} ({v['source']})" for t, v in report["lengths"].items()),
              f"Script wall time: {report['wall_s']:.0f} s."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny random BERT on the CPU: checks the script, no meaning")
    ap.add_argument("--config", default=str(REPO / "config" / "config.yaml"), help="the study to project")
    ap.add_argument("--model-config", help="folder with BERT-base's config.json and vocabulary")
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds per method measurement")
    ap.add_argument("--share-steps", type=int, default=60, help="timed steps per process in the sharing runs")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    try:
        report = run(args)
    finally:
        for work in Path(tempfile.gettempdir()).glob(f"peftdeck-gpu-bench-{os.getpid()}-*"):
            shutil.rmtree(work, ignore_errors=True)
    text = render(report)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
