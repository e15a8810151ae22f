"""Benchmark one training cell three ways, and the numbers that explain the difference.

    python benchmarks/trainer_vs_cell.py --quick                 # smoke run: tiny random BERT, generated data, seconds
    python benchmarks/trainer_vs_cell.py                         # full: all-MiniLM-L6-v2 (package), SST-2 subset
    python benchmarks/trainer_vs_cell.py --model-config <folder> # random weights at that config's scale (e.g. BERT-base)
    python benchmarks/trainer_vs_cell.py --memory [--model-config <folder>]  # training memory by kind only

(--memory defaults to the BERT-base config.) The benchmark uses the installed `peftdeck` like any
user would; from a checkout without `pip install -e .` it falls back to the checkout's `src/`.
Its pieces: bench_inputs.py (data, model folders, the cell), bench_spawn.py (child processes),
bench_workers.py (what runs inside them), bench_runs.py (the runs), bench_report.py (the report).
See README.md beside this file for results and how to read them.

The same cell (model, data, hyper-parameters, seed) runs as

* ``ours``: ``python -m peftdeck.run_cell``, the pipeline's own training path (dynamic padding,
  length-grouped batches, AdamW over trainable tensors only, no evaluation in the timed loop);
* ``trainer_ref``: a plain ``transformers.Trainer`` set up the way the reference reports ran it:
  every example padded to ``max_length``, fp32, evaluation at the end of every epoch;
* ``trainer_best``: ``Trainer`` at its best: ``DataCollatorWithPadding`` (dynamic padding), length
  grouping, no evaluation during training, fused AdamW, bf16 on GPUs, pinned memory and loader
  workers on GPUs;

each in its own subprocess so peak memory (process RSS on CPU) is per variant. Then: BitFit vs Full
FT through our path (same model and data), the fixed cost of a cell (a tiny cell through
``python -m peftdeck.run_cell``, process start to first training step, and the import breakdown),
and the machine's dense matmul peak (fp32 on CPU, bf16 on GPU) that utilisation is measured against.
``--makespan`` also times several small cells run one after another vs all at once on one device.
Every report shows the training memory by kind (``peftdeck.memory``) of the Full FT and BitFit runs
next to the analytic count; ``--memory`` measures only that, one training step per method on random
weights at BERT-base scale (or ``--model-config``), without data or the Trainer runs.

Nothing here asserts timings; ``--json`` keeps every number. Exit status 0 unless a variant failed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the sibling modules, also when this file is imported rather than run
    sys.path.insert(0, str(HERE))
try:
    import peftdeck  # noqa: F401
except ImportError:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(HERE.parent / "src"))

from bench_report import render, render_memory  # noqa: E402
from bench_runs import memory_report, run  # noqa: E402
from bench_workers import WORKERS  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python benchmarks/trainer_vs_cell.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny random model on generated data: a smoke run (seconds)")
    ap.add_argument("--model", help="model folder with model.safetensors (default: the all-MiniLM-L6-v2 package)")
    ap.add_argument("--model-config", help="folder with config.json + vocab: random weights at that scale")
    ap.add_argument("--data", help="SST-2 folder with train.tsv/dev.tsv (default: <shared data>/glue/SST-2)")
    ap.add_argument("--n-train", type=int, help="training examples (default 1000; quick 64)")
    ap.add_argument("--n-eval", type=int, help="evaluation examples, the first N dev rows (default 400; quick 32)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4, help="Full FT learning rate (all variants)")
    ap.add_argument("--lr-bitfit", type=float, default=5e-3, help="learning rate of the BitFit comparison run")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--eval-batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for every variant (0: torch's default)")
    ap.add_argument("--precision", choices=["auto", "bf16_native"], default="auto",
                    help="auto: fp32 on CPU (bf16 on GPUs); bf16_native: bf16 autocast also on a CPU with native "
                         "bf16 instructions, for ours and for the best-configured Trainer alike")
    ap.add_argument("--repeats", type=int, help="rounds of ours / best Trainer / BitFit; the median run is reported "
                    "(default 3; quick 1)")
    ap.add_argument("--fixed-cost-repeats", type=int, default=3)
    ap.add_argument("--makespan", type=int, default=0, metavar="N", help="also time N small cells sequential vs concurrent")
    ap.add_argument("--variant-timeout", type=float, default=None, help="seconds before a Trainer variant is stopped")
    ap.add_argument("--memory", action="store_true",
                    help="only the training-memory breakdown: one measured step per method on random weights at "
                         "--model-config's scale (default: BERT-base config from PEFTDECK_BERT_BASE_CONFIG or the "
                         "shared data); skipped with a message when no config is found")
    ap.add_argument("--memory-methods", default="full_ft,bitfit,lora", help="methods of --memory (comma-separated)")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--work-dir", help="keep the runs' folders here (default: a temporary folder, removed)")
    ap.add_argument("--silent", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        job = json.loads(Path(args.job).read_text())
        result = WORKERS[args.worker](job)
        Path(args.result).write_text(json.dumps(result))
        return 0
    if args.quick and (args.model or args.model_config or args.data):
        print("error: --quick uses its own tiny model and data; drop --model/--model-config/--data", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    if args.memory:
        return _main_memory(args, t0)
    try:
        report = run(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report["benchmark_wall_s"] = time.perf_counter() - t0
    text = render(report)
    print(text)
    print(f"\n(benchmark took {report['benchmark_wall_s']:.0f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    failed = [n for n, r in {**report["variants"], "bitfit": report.get("bitfit", {})}.items() if "error" in r]
    for n in failed:
        r = report["variants"].get(n) or report.get("bitfit")
        print(f"\n{n} failed ({r['error']}); log tail:\n{r.get('log_tail', '')}", file=sys.stderr)
    return 1 if failed or "error" in report.get("fixed_cost", {}) or "error" in (report.get("makespan") or {}) else 0


def _main_memory(args: argparse.Namespace, t0: float) -> int:
    keep = args.work_dir is not None
    work = Path(args.work_dir) if keep else Path(tempfile.mkdtemp(prefix="peftdeck-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        report = memory_report(args, work)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    report["benchmark_wall_s"] = time.perf_counter() - t0
    print(render_memory(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    failed = [m for m, r in report.get("methods", {}).items() if "error" in r]
    for m in failed:
        print(f"\n{m} failed ({report['methods'][m]['error']}); log tail:\n{report['methods'][m].get('log_tail', '')}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
