"""The deck's numbers, recomputed from cells.csv with plain pandas, must be the numbers on the slides.

Nothing here calls peftdeck.findings: the part I table (scores, gain kept), the Summary table and
the memory ratios are worked out again from the tidy table that aggregation wrote, then looked up
in the rendered deck.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from peftdeck import aggregate, deck
from synthetic_cells import cell_result, small_config, write_results

from test_deck import TEMPLATE, slides


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    cfg = small_config(demo=True)
    write_results(cfg, root)
    # One run that did not learn (BitFit on SST-2, 51.5% of 400 against 50.9%), so the table and the
    # averages must leave it out.
    cell = next(c for c in aggregate.experiment_cells(cfg, "glue") if c.task == "sst2" and c.method == "bitfit")
    (root / cell.path).write_text(json.dumps(cell_result(cfg, cell, {"accuracy": 51.5})))
    df, missing = aggregate.collect(cfg, root=root)
    summary = aggregate.write_tables(df, missing, cfg, root / "tables", config_path="config/demo.yaml")
    md = deck.render_markdown(summary, TEMPLATE)
    cells = pd.read_csv(root / "tables" / "cells.csv")
    return cells[cells["experiment"] == "glue"], md


def _row(md: str, heading: str, label: str) -> list[str]:
    slide = next(s for s in slides(md) if s.lstrip().startswith(heading))
    line = next(ln for ln in slide.splitlines() if ln.startswith(f"| {label} |") or ln.startswith(f"| **{label}** |"))
    cols = [c.strip() for c in line.strip("|").split("|")]
    return [c[2:-2] if c.startswith("**") and c.endswith("**") else c for c in cols]  # bold: the best


def test_part_one_table_and_gain_kept(built):
    glue, md = built
    labels = dict(zip(glue["method"], glue["method_label"]))
    ref = glue[glue["method_kind"] == "full_ft"]
    for method, rows in glue.groupby("method", sort=False):
        cols = _row(md, "# Part I — results", labels[method])
        gains, scores = [], []
        for i, task in enumerate(["sst2", "mrpc", "rte"]):
            r = rows[rows["task"] == task].iloc[0]
            assert cols[1 + i].split()[0] == f"{r['primary']:.2f}"
            if r["status"] != "learned":
                assert cols[1 + i].endswith("°")
                continue
            b = r[f"baseline_{r['primary_metric']}"]
            f = ref[ref["task"] == task].iloc[0]["primary"]
            gains.append(100 * (r["primary"] - b) / (f - b))
            scores.append(r["primary"])
        avg, gain = cols[4], cols[6]
        assert avg.split()[0] == f"{sum(scores) / len(scores):.2f}"
        assert gain.split()[0] == f"{sum(gains) / len(gains):.0f}%"
        assert avg.endswith("*") == (len(scores) < 3)


def test_summary_table_and_memory_ratios(built):
    glue, md = built
    labels = dict(zip(glue["method"], glue["method_label"]))
    ref = glue[glue["method_kind"] == "full_ft"].set_index("task")
    for method, rows in glue.groupby("method", sort=False):
        rows = rows.set_index("task")
        mem = (rows["peak_memory_bytes"] / ref["peak_memory_bytes"]).mean()
        flops = (rows["train_flops"] / ref["train_flops"]).mean()
        cols = _row(md, "# Summary", labels[method])
        assert cols[4] == f"{mem:.2f}×" and cols[5] == f"{flops:.2f}×"
        learned = rows[rows["status"] == "learned"].index
        pct = (100 * rows.loc[learned, "primary"] / ref.loc[learned, "primary"]).mean()
        assert cols[1].split()[0] == f"{pct:.1f}%"
        mem_cols = _row(md, "# Memory and compute per method", labels[method])
        assert mem_cols[2] == f"{mem:.2f}×"
