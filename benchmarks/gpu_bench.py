#!/usr/bin/env python
"""GPU figures for the reference study, in one run of under 10 minutes on one H100/H200:

    python benchmarks/gpu_bench.py --json gpu_bench.json            # on the GPU machine
    python benchmarks/gpu_bench.py --smoke                          # tiny model on the CPU, seconds

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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:  # gpu_bench_measure.py beside this file, also when this file is imported
    sys.path.insert(0, str(HERE))
try:
    import peftdeck  # noqa: F401
except ImportError:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO / "src"))

from gpu_bench_measure import matmul_peak, measure, shared_run, worker  # noqa: E402

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
              "Token lengths: " + "; ".join(f"{t} {v['length']} ({v['source']})" for t, v in report["lengths"].items()),
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
