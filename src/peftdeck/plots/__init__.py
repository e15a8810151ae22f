"""The deck's figures, drawn from summary.json (and cells.csv for individual seeds).

    python -m peftdeck.plots --summary results/demo/tables/summary.json \\
        --cells results/demo/tables/cells.csv --out-dir slides/demo/figures

Every figure is sized for a 16:9 slide (12 x 6 in, fonts 14 pt and up) and gives each method the
same colour everywhere (the summary's `palette`, keyed by method label). Shared style and helpers
live in `_style`; the figures in `part1` (scores), `cost` (compute, memory, Pareto fronts),
`part2` (SQuAD curves) and `wider` (grid search, LoRA ranks, training fractions).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import argparse  # noqa: E402
import json  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402

from ..findings import FIGURES  # noqa: E402
from ._style import DPI, FIGSIZE, GREY, apply_style  # noqa: E402
from .cost import BYTE_UNITS, FLOP_UNITS, MEMORY_COLORS, MEMORY_LABELS, flops, memory_stack, pareto  # noqa: E402
from .part1 import glue_results, loss_curves, parameter_efficiency  # noqa: E402
from .part2 import squad_curves  # noqa: E402
from .wider import fractions, grid_heatmap, lora_ranks  # noqa: E402

__all__ = ["BYTE_UNITS", "DPI", "DRAW", "FIGSIZE", "FLOP_UNITS", "GREY", "MEMORY_COLORS", "MEMORY_LABELS",
           "expected_figures", "flops", "fractions", "glue_results", "grid_heatmap", "lora_ranks", "loss_curves",
           "main", "make_all", "memory_stack", "parameter_efficiency", "pareto", "squad_curves"]

DRAW = {"parameter_efficiency": parameter_efficiency, "flops": flops, "glue_results": glue_results,
        "loss_curves": loss_curves, "pareto": pareto,
        "squad_curves": squad_curves}


def expected_figures(summary: dict[str, Any]) -> list[str]:
    """Names of the figures the summary calls for (what make_all draws)."""
    return [f["name"] for f in summary.get("figures", [])]


def make_all(df: pd.DataFrame | None, summary: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw every figure the summary lists; returns the paths written."""
    apply_style()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fig in summary.get("figures", []):
        name, section = fig["name"], fig.get("section") or FIGURES.get(fig["name"], (None,))[0]
        if name == "squad_curves":
            written.append(squad_curves(summary, out, df))
        elif name in DRAW:
            written.append(DRAW[name](summary, out))
        elif section == "grid":
            written.append(grid_heatmap(summary, out, fig["task"], name))
        elif section == "lora_ranks":
            written.append(lora_ranks(summary, out, name))
        elif section == "fractions":
            written.append(fractions(summary, out, name))
        else:
            raise ValueError(f"plots: no drawing function for figure {name!r} (section {section!r})")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m peftdeck.plots", description="Draw the deck's figures.")
    ap.add_argument("--summary", required=True, help="summary.json written by peftdeck.aggregate")
    ap.add_argument("--cells", help="cells.csv written by peftdeck.aggregate (individual seeds)")
    ap.add_argument("--out-dir", default="slides/demo/figures")
    args = ap.parse_args(argv)
    summary = json.loads(Path(args.summary).read_text())
    df = pd.read_csv(args.cells) if args.cells and Path(args.cells).is_file() else None
    for path in make_all(df, summary, args.out_dir):
        print(f"plots: wrote {path}")
    return 0
