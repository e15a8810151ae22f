#!/usr/bin/env python
"""Benchmark one training cell: our path vs transformers.Trainer (reference-style and at its best).

A thin entry point; everything lives in `peftdeck.bench` (see `python -m peftdeck.bench --help`
and docs/benchmarks.md).

    python workflow/scripts/benchmark.py --quick        # smoke run, seconds of training
    python workflow/scripts/benchmark.py                # full run on MiniLM + an SST-2 subset
"""
from __future__ import annotations

import sys
from pathlib import Path

try:
    from peftdeck.bench import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from peftdeck.bench import main

if __name__ == "__main__":
    sys.exit(main())
