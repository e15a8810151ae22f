"""Serving cost per method (compute.inference): hand-computed ratios, merged LoRA, cells without it."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from peftdeck import aggregate, deck
from peftdeck import findings as F
from synthetic_cells import small_config, write_results
from test_findings import rows

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "templates" / "deck.md.j2"
NAN = math.nan


def serving(throughput, latency, merged_throughput=NAN, merged_latency=NAN, method="timed"):
    return {"infer_throughput": throughput, "infer_latency_ms": latency,
            "infer_throughput_merged": merged_throughput, "infer_latency_ms_merged": merged_latency,
            "infer_method": method}


def by_method(summary):
    return {m["method"]: m["serving"] for m in summary["methods"]}


def test_ratios_to_full_ft_are_taken_task_by_task_then_averaged():
    df = rows([("sst2", "full_ft", "full_ft", 90.0, serving(100.0, 10.0)),
               ("mrpc", "full_ft", "full_ft", 80.0, serving(200.0, 20.0)),
               ("sst2", "lora", "lora", 88.0, serving(50.0, 20.0, 100.0, 10.0)),
               ("mrpc", "lora", "lora", 79.0, serving(100.0, 30.0, 180.0, 20.0)),
               ("sst2", "bitfit", "bitfit", 87.0, serving(100.0, 12.0)),
               ("mrpc", "bitfit", "bitfit", 78.0, serving(100.0, 20.0))])
    s = F.methods_summary(df)
    by = by_method(s)
    ref = by["full_ft"]
    assert (ref["throughput"], ref["latency_ms"]) == (150.0, 15.0)
    assert (ref["throughput_ratio"], ref["latency_ratio"]) == (1.0, 1.0)
    assert ref["merged"] is None and ref["merge_speedup"] is None
    lora = by["lora"]
    assert lora["throughput"] == 75.0 and lora["latency_ms"] == 25.0
    assert lora["throughput_ratio"] == pytest.approx(0.5)         # 50/100 and 100/200
    assert lora["latency_ratio"] == pytest.approx(1.75)           # mean of 20/10 and 30/20
    # Merged against Full FT as trained: 100/100 and 180/200; 10/10 and 20/20.
    assert lora["merged"]["throughput_ratio"] == pytest.approx(0.95)
    assert lora["merged"]["latency_ratio"] == pytest.approx(1.0)
    assert lora["merged"]["throughput"] == 140.0 and lora["merged"]["latency_ms"] == 15.0
    assert lora["merge_speedup"] == pytest.approx(1.75)           # mean of 20/10 and 30/20 (unmerged / merged)
    bitfit = by["bitfit"]
    # Not the ratio of the means (15 / 16 = 0.9375): the mean of 100/100 and 100/200, of 12/10 and 20/20.
    assert bitfit["throughput_ratio"] == pytest.approx(0.75)
    assert bitfit["latency_ratio"] == pytest.approx(1.1)
    assert bitfit["merged"] is None and bitfit["merge_speedup"] is None
    assert s["has_serving"] and s["has_serving_merged"] and s["serving_method"] == "timed"


def test_cells_without_serving_figures_leave_them_out():
    """Older cells: no inference columns at all, or NaN (measurement switched off)."""
    df = rows([("sst2", "full_ft", "full_ft", 90.0), ("sst2", "lora", "lora", 88.0)])
    s = F.methods_summary(df)
    for entry in by_method(s).values():
        assert entry["throughput"] is None and entry["latency_ratio"] is None
        assert entry["merged"] is None and not entry["supported"]
    assert not s["has_serving"] and not s["has_serving_merged"] and s["serving_method"] is None
    df = rows([("sst2", "full_ft", "full_ft", 90.0, serving(NAN, NAN, method=NAN)),
               ("sst2", "lora", "lora", 88.0, serving(NAN, NAN, method=NAN))])
    s = F.methods_summary(df)
    assert not s["has_serving"] and s["serving_method"] is None


def test_ratios_only_over_tasks_where_both_were_measured():
    df = rows([("sst2", "full_ft", "full_ft", 90.0, serving(100.0, 10.0)),
               ("mrpc", "full_ft", "full_ft", 80.0, serving(NAN, NAN)),   # an older reference cell
               ("sst2", "lora", "lora", 88.0, serving(80.0, 12.0, 100.0, 10.0)),
               ("mrpc", "lora", "lora", 79.0, serving(40.0, 30.0, 50.0, 20.0))])
    lora = by_method(F.methods_summary(df))["lora"]
    assert lora["throughput"] == 60.0                              # its own mean: both tasks
    assert lora["throughput_ratio"] == pytest.approx(0.8)          # sst2 only
    assert lora["merged"]["latency_ratio"] == pytest.approx(1.0)
    assert lora["merge_speedup"] == pytest.approx((1.2 + 1.5) / 2)  # its own cells: both tasks


def test_no_reference_gives_figures_without_ratios():
    df = rows([("sst2", "lora", "lora", 88.0, serving(80.0, 12.0, 100.0, 10.0))])
    lora = by_method(F.methods_summary(df))["lora"]
    assert lora["throughput"] == 80.0 and lora["throughput_ratio"] is None
    assert lora["merged"]["throughput"] == 100.0 and lora["merged"]["throughput_ratio"] is None
    assert lora["merge_speedup"] == pytest.approx(1.2)


def test_measurement_text_from_the_cells():
    df = rows([("sst2", "full_ft", "full_ft", 90.0, serving(1.0, 1.0, method="a")),
               ("sst2", "lora", "lora", 88.0, serving(1.0, 1.0, method=NAN)),
               ("mrpc", "lora", "lora", 88.0, serving(1.0, 1.0, method="b")),
               ("mrpc", "full_ft", "full_ft", 88.0, serving(1.0, 1.0, method="a"))])
    assert F.serving_method(df) == "a / b"
    assert F.serving_method(df.drop(columns=["infer_method"])) is None


def deck_for(tmp_path, inference=True):
    cfg = small_config(demo=True)
    write_results(cfg, tmp_path)
    if not inference:  # cells written before serving was measured
        for path in tmp_path.rglob("*.json"):
            data = json.loads(path.read_text())
            if "compute" in data:
                data["compute"].pop("inference", None)
                path.write_text(json.dumps(data))
    df, missing = aggregate.collect(cfg, allow_missing=True, root=tmp_path)
    summary = aggregate.build_summary(df, missing, cfg, config_path="config/demo.yaml")
    return summary, deck.render_markdown(summary, TEMPLATE)


def serving_slide(md):
    return next(s for s in md.split("\n---\n") if "# Serving cost per method" in s)


def test_serving_slide_from_synthetic_cells(tmp_path):
    summary, md = deck_for(tmp_path)
    slide = serving_slide(md)
    # Synthetic timings (synthetic_cells.SERVING): Full FT 1000/s and 5 ms, LoRA 800/s and 6 ms as
    # trained, 1000/s and 5 ms merged; prompt tuning 900/s and 5.5 ms.
    assert "| Full FT | 1,000 | 1.00× | 5.00 ms | 1.00× | — | — |" in slide
    lora = next(m for m in summary["glue"]["methods"] if m["kind"] == "lora")
    assert f"| {lora['label']} | 800 | 0.80× | 6.00 ms | 1.20× | 1.00× | 1.00× |" in slide
    assert "| Prompt tuning | 900 | 0.90× | 5.50 ms | 1.10× | — | — |" in slide
    assert (f"**{lora['label']}** merged: 1.00× Full FT's throughput, 1.00× its batch-1 latency; unmerged: 0.80× "
            "and 1.20× (a batch-1 pass takes 1.20× as long as merged).") in slide
    assert "synthetic timings" in slide
    assert "nan" not in slide.lower() and "None" not in slide


def test_no_serving_slide_without_serving_figures(tmp_path):
    summary, md = deck_for(tmp_path, inference=False)
    assert not summary["glue"]["has_serving"]
    assert "# Serving cost per method" not in md and "# Storage per method" in md
