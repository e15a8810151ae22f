"""Command line for one training cell, as the Snakemake rule calls it.

    python -m peftdeck.run_cell --spec '<resolved cell JSON>' --out results/.../metrics.json [--attempt N]
    python -m peftdeck.run_cell --config config/demo.yaml --out results/.../metrics.json

With --config the cell is read back from the output path, so a cell can be run by hand by its address.
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m peftdeck.run_cell", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", help="resolved cell as JSON (what the Snakemake rule passes)")
    src.add_argument("--config", help="study config; the cell is parsed from --out")
    ap.add_argument("--out", required=True, help="the cell's metrics.json path")
    ap.add_argument("--attempt", type=int, default=1, help="retry number; each retry halves the micro-batch")
    args = ap.parse_args(argv)

    from .config import ConfigError, load_config, resolve_cell
    from .paths import parse_cell_path

    try:
        if args.spec:
            spec = json.loads(args.spec)
        else:
            spec = resolve_cell(load_config(args.config), parse_cell_path(args.out))
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from .train import run_cell

    try:
        run_cell(spec, args.out, attempt=args.attempt, log=lambda m: print(m, flush=True))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
