"""Command line for one training cell, as the Snakemake rule calls it.

    python -m peftdeck.run_cell --spec '<resolved cell JSON>' --out results/.../metrics.json [--attempt N]
    python -m peftdeck.run_cell --config config/demo.yaml --out results/.../metrics.json

With --config the cell is read back from the output path, so a cell can be run by hand by its address.

On a local Snakemake run the cell is handed to the warm worker (peftdeck.warm), which skips the
imports; PEFTDECK_WARM=0 runs it in this process.

Exit status: 0 done, 1 bad input (the message names it), 2 bad arguments or config, 3 out of GPU memory
(retry with --attempt N+1: half the micro-batch, same effective batch), 4 no free GPU slot in time
(see peftdeck.devices: PEFTDECK_CELLS_PER_GPU, PEFTDECK_GPU_SLOT_TIMEOUT).
Fault injection for tests: PEFTDECK_SIMULATE_OOM_ABOVE_MICRO_BATCH=N makes every training micro-batch
larger than N fail as if the GPU ran out of memory (see peftdeck.faults); PEFTDECK_SIMULATE_FAILURE_FOR=TEXT
makes every cell whose --out path contains TEXT fail (status 1) before it starts.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    # On a local Snakemake run a warm worker (peftdeck.warm) has torch and transformers imported
    # already: hand the cell to it and return its exit status; without one, run the cell here.
    from . import warm

    path = warm.usable()
    if path:
        rc = warm.submit(path, sys.argv[1:] if argv is None else argv)
        if rc is not None:
            return rc
    ap = argparse.ArgumentParser(prog="python -m peftdeck.run_cell", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", help="resolved cell as JSON (what the Snakemake rule passes)")
    src.add_argument("--config", help="study config; the cell is parsed from --out")
    ap.add_argument("--out", required=True, help="the cell's metrics.json path")
    ap.add_argument("--attempt", type=int, default=1, help="retry number; each retry halves the micro-batch")
    args = ap.parse_args(argv)

    try:
        if args.spec:
            spec = json.loads(args.spec)
        else:  # the config machinery (yaml) is only imported when there is a config to read
            from .config import load_config, resolve_cell
            from .paths import parse_cell_path

            spec = resolve_cell(load_config(args.config), parse_cell_path(args.out))
    except ValueError as exc:  # includes ConfigError and malformed JSON
        print(f"error: {exc}", file=sys.stderr)
        return 2

    fail_for = os.environ.get("PEFTDECK_SIMULATE_FAILURE_FOR")
    if fail_for and fail_for in args.out:
        print(f"error: simulated failure of {args.out} (PEFTDECK_SIMULATE_FAILURE_FOR={fail_for})", file=sys.stderr)
        return 1

    # A GPU of its own (PEFTDECK_CELLS_PER_GPU cells share one), taken before torch initialises
    # CUDA; nothing happens on a machine without GPUs. The slot is freed when the process ends.
    from .devices import SlotTimeout, claim_for_cell, release_held

    try:
        claim_for_cell(log=lambda m: print(m, flush=True))
    except (SlotTimeout, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4

    import torch

    from .train import micro_batch_for, run_cell

    try:
        run_cell(spec, args.out, attempt=args.attempt, log=lambda m: print(m, flush=True))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError) as exc:
        micro, _ = micro_batch_for(int(spec["cell"]["batch_size"]), args.attempt)
        print(f"error: out of GPU memory with micro-batch {micro} (attempt {args.attempt}): {exc}\n"
              "Retrying halves the micro-batch and keeps the effective batch: run Snakemake with "
              f"--retries 2 (the profiles do), or by hand with --attempt {args.attempt + 1}.", file=sys.stderr)
        return 3
    finally:
        release_held()
    return 0


if __name__ == "__main__":
    code = main()
    # The result is on disk (written atomically, fsynced). Tearing down an interpreter that holds
    # torch and transformers takes about a second of CPU on a small machine, which every cell would
    # pay; flush the streams and leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
