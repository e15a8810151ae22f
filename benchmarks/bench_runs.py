"""The benchmark's runs: plan the inputs, run every variant in interleaved rounds, the fixed cost,
the makespan of several cells, and `--memory`'s measurements."""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_inputs import (MINILM_PACKAGE, bert_base_config_dir, cell_spec, config_only_copy, generated_sst2,
                          minilm_dir, shared_data_dir, sst2_subset, tiny_model, word_vocab)
from bench_report import _derive
from bench_spawn import _checkout, child_env, run_ours, run_worker


def fixed_cost(work: Path, spec: dict[str, Any], repeats: int) -> dict[str, Any]:
    runs = []
    for i in range(repeats):
        r = run_ours(spec, work, f"fixed_cost_{i + 1}")
        if "error" in r:
            return {"error": r["error"], "log_tail": r.get("log_tail")}
        runs.append({k: r[k] for k in ("startup_s", "startup_cpu_s", "process_wall_s", "process_cpu_s", "train_s")})
    med = {k: statistics.median(x[k] for x in runs if x[k] is not None) for k in runs[0]}
    return {"runs": runs, "median": med}


def makespan(work: Path, spec_of, n_cells: int) -> dict[str, Any]:
    """Several small cells one after another vs all at once on the same device."""
    specs = [spec_of(i) for i in range(n_cells)]
    t0 = time.perf_counter()
    for i, s in enumerate(specs):
        run_ours(s, work, f"makespan_seq_{i}")
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "peftdeck.run_cell", "--spec", json.dumps(s), "--out",
                               str(work / f"makespan_par_{i}" / "metrics.json")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=_checkout(),
                              # all of them on one GPU at once (else each waits for its own GPU slot)
                              env={**child_env(), "PEFTDECK_CELLS_PER_GPU": str(n_cells)})
             for i, s in enumerate(specs)]
    codes = [p.wait() for p in procs]
    concurrent = time.perf_counter() - t0
    failed = [i for i in range(n_cells) if not (work / f"makespan_seq_{i}" / "metrics.json").is_file()]
    if failed or any(codes):
        return {"error": f"cells failed (sequential {failed}, concurrent exit codes {codes}); "
                         f"see {work}/makespan_seq_*/log.txt"}
    return {"cells": n_cells, "sequential_s": sequential, "concurrent_s": concurrent,
            "speedup": sequential / concurrent if concurrent else None, "exit_codes": codes}


def plan(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Folders and the cell for this run; raises with a clear message when an input is missing."""
    seed = args.seed
    if args.quick:
        data = generated_sst2(work / "data" / "sst2", args.n_train or 64, args.n_eval or 32, seed)
        model = tiny_model(work / "model", vocab=word_vocab(data), hidden=32, layers=2, heads=2)
        return {"mode": "quick", "n_train": args.n_train or 64, "model_dir": model, "model_source": "random", "data_dir": data,
                "model_label": "tiny BERT (2 layers, hidden 32, random weights)", "data_label": "generated SST-2-shaped sentences",
                "fixed_model_dir": model}
    shared = Path(args.data) if args.data else None
    if shared is None:
        root = shared_data_dir()
        if root is None:
            raise FileNotFoundError("SST-2 not found: pass --data <folder with train.tsv/dev.tsv> or set PEFTDECK_SHARED_DATA")
        shared = root / "glue" / "SST-2"
    data = sst2_subset(shared, work / "data" / "sst2", args.n_train or 1000, args.n_eval or 400, seed)
    if args.model_config:
        model = config_only_copy(Path(args.model_config), work / "model")
        source, label = "random", f"{Path(args.model_config).name} (config only, random weights)"
    else:
        found = Path(args.model) if args.model else minilm_dir()
        if found is None:
            raise FileNotFoundError(f"no model: install {MINILM_PACKAGE.replace('_', '-')}, or pass --model <folder with "
                                    "model.safetensors> or --model-config <folder with config.json>")
        model, source, label = found, "local", found.parent.name if found.name == "model" else found.name
    fixed = tiny_model(work / "fixed_cost_config", vocab_from=model, hidden=32, layers=1, heads=2)
    return {"mode": "full", "n_train": args.n_train or 1000, "model_dir": model, "model_source": source, "data_dir": data, "model_label": label,
            "data_label": f"SST-2: {args.n_train or 1000} train rows (seed {seed}), first {args.n_eval or 400} dev rows",
            "fixed_model_dir": fixed}


def run(args: argparse.Namespace) -> dict[str, Any]:
    keep = args.work_dir is not None
    work = Path(args.work_dir) if keep else Path(tempfile.mkdtemp(prefix="peftdeck-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, work)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _memory_entry(run: dict[str, Any]) -> dict[str, Any]:
    """A cell's training memory by kind next to the analytic count (fp32 weights, gradients, AdamW)."""
    from peftdeck.memory import analytic_adamw

    if "error" in run or not run.get("training_memory"):
        return {"error": run.get("error", "the cell recorded no training memory")}
    return {"training_memory": run["training_memory"], "params_trainable": run["params_trainable"],
            "params_total": run["params_total"],
            "analytic": analytic_adamw(run["params_total"], run["params_trainable"])}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median examples/s (all runs' rates kept under `runs_examples_per_s`)."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    ok.sort(key=lambda r: r["examples_per_s"])
    med = dict(ok[(len(ok) - 1) // 2])
    med["runs_examples_per_s"] = [r["examples_per_s"] for r in runs if "error" not in r]
    med["repeats"] = len(runs)
    return med


def _paired(num: list[dict[str, Any]], den: list[dict[str, Any]]) -> dict[str, Any] | None:
    ratios = [a["examples_per_s"] / b["examples_per_s"] for a, b in zip(num, den)
              if "error" not in a and "error" not in b and b.get("examples_per_s")]
    return {"per_round": ratios, "median": statistics.median(ratios)} if ratios else None


def _run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    p = plan(args, work)
    quick = p["mode"] == "quick"
    repeats = max(1, args.repeats if args.repeats is not None else (1 if quick else 3))
    common = dict(batch_size=args.batch_size, epochs=args.epochs, seed=args.seed, max_length=args.max_length,
                  eval_batch_size=args.eval_batch_size, threads=args.threads,
                  precision=getattr(args, "precision", "auto"))
    spec = cell_spec(p["model_dir"], p["model_source"], p["data_dir"], "full_ft", lr=args.lr, **common)
    bitfit_spec = cell_spec(p["model_dir"], p["model_source"], p["data_dir"], "bitfit", lr=args.lr_bitfit, **common)
    say = (lambda m: None) if args.silent else (lambda m: print(m, file=sys.stderr, flush=True))
    report: dict[str, Any] = {"mode": p["mode"], "model": p["model_label"], "data": p["data_label"],
                              "cell": {"method": "full_ft", "lr": args.lr, "lr_bitfit": args.lr_bitfit, **common},
                              "repeats": repeats, "variants": {}}
    timeout = args.variant_timeout
    peak_job = {"threads": args.threads, "n": 256 if quick else None, "seconds": 0.05 if quick else 0.5,
                "repeats": 2 if quick else 5}

    def trainer(style: str, name: str) -> dict[str, Any]:
        return run_worker("trainer", {"spec": spec, "style": style, "output_dir": str(work / name / "out")},
                          work, name, timeout=timeout)

    say("[bench] machine peak (dense matmul)")
    peaks = [run_worker("peak", peak_job, work, "peak_1")]
    # Rounds interleave the variants so that a change in machine load hits them alike; the median
    # run of each is reported. The reference-style run is slow and far from the others, so it runs once.
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "trainer_best": [], "bitfit": []}
    ref = None
    for r in range(1, repeats + 1):
        say(f"[bench] round {r}/{repeats}: ours (python -m peftdeck.run_cell)")
        runs["ours"].append(run_ours(spec, work, f"ours_{r}"))
        say(f"[bench] round {r}/{repeats}: Trainer at its best")
        runs["trainer_best"].append(trainer("best", f"trainer_best_{r}"))
        say(f"[bench] round {r}/{repeats}: ours with BitFit")
        runs["bitfit"].append(run_ours(bitfit_spec, work, f"ours_bitfit_{r}"))
        if ref is None:
            say("[bench] Trainer reference-style (once)")
            ref = trainer("ref", "trainer_ref")
    report["variants"] = {"ours": _median_run(runs["ours"]), "trainer_best": _median_run(runs["trainer_best"]),
                          "trainer_ref": ref}
    report["bitfit"] = _median_run(runs["bitfit"])
    report["training_memory"] = {name: _memory_entry(r) for name, r in
                                 (("full_ft", report["variants"]["ours"]), ("bitfit", report["bitfit"]))}
    # Paired ratios: ours against the run made right after it in the same round (same machine load).
    report["paired"] = {
        "ours_over_trainer_best": _paired(runs["ours"], runs["trainer_best"]),
        "bitfit_over_ours": _paired(runs["bitfit"], runs["ours"]),
    }
    say("[bench] fixed cost (tiny cell) and imports")
    # A tiny model with saved weights: a real cell loads with from_pretrained, and that path (and the
    # interpreter teardown after it) is part of what every cell pays.
    fixed_dir = work / "fixed_cost_model"
    shutil.copytree(p["fixed_model_dir"], fixed_dir, dirs_exist_ok=True)
    made = run_worker("weights", {"dir": str(fixed_dir)}, work, "fixed_cost_weights")
    tiny_spec = cell_spec(fixed_dir, "random" if "error" in made else "local", p["data_dir"], "bitfit", lr=1e-3,
                          **{**common, "batch_size": 16, "epochs": 1}, train_size=32)
    report["fixed_cost"] = fixed_cost(work, tiny_spec, 1 if quick else args.fixed_cost_repeats)
    report["imports"] = run_worker("imports", {}, work, "imports").get("imports")
    if args.makespan:
        say(f"[bench] makespan: {args.makespan} cells")
        report["makespan"] = makespan(work, lambda i: cell_spec(
            p["model_dir"], p["model_source"], p["data_dir"], "bitfit" if i % 2 else "full_ft",
            lr=args.lr_bitfit if i % 2 else args.lr, **{**common, "seed": args.seed + i},
            train_size=min(200, p["n_train"])), args.makespan)
    say("[bench] machine peak again")
    peaks.append(run_worker("peak", peak_job, work, "peak_2"))
    good = [x for x in peaks if "error" not in x]
    report["peak"] = max(good, key=lambda x: x["peak_flops"]) if good else peaks[0]
    report["peak"]["runs_flops"] = [x.get("peak_flops") for x in peaks]
    _derive(report)
    return report


def memory_report(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """`--memory`: one measured step per method at BERT-base scale (random weights), nothing else."""
    folder = Path(args.model_config) if args.model_config else bert_base_config_dir()
    if folder is None or not (folder / "config.json").is_file():
        where = args.model_config or "PEFTDECK_BERT_BASE_CONFIG / <shared data>/models/no-weights/bert-base-uncased"
        return {"mode": "memory", "skipped": f"no BERT config found ({where}); pass --model-config <folder with "
                                              "config.json and vocab.txt> or set PEFTDECK_BERT_BASE_CONFIG"}
    model = config_only_copy(folder, work / "model")
    say = (lambda m: None) if args.silent else (lambda m: print(m, file=sys.stderr, flush=True))
    runs = {}
    for method in args.memory_methods.split(","):
        say(f"[bench] training memory: {method}")
        job = {"model_dir": str(model), "method": method, "batch_size": args.batch_size, "max_length": args.max_length,
               "threads": args.threads, "seed": args.seed}
        runs[method] = run_worker("memory", job, work, f"memory_{method}")
    return {"mode": "memory", "model": f"{folder.name} (config only, random weights)",
            "batch": f"{args.batch_size} x {args.max_length} tokens (random ids, no padding)", "methods": runs}
