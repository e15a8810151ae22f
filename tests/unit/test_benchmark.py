"""The benchmark's quick mode runs end to end and reports every row; timings are not checked."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_prints_every_row_and_ratio(tmp_path):
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate: pip install 'peftdeck[test]'")
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "workflow" / "scripts" / "benchmark.py"), "--quick", "--threads", "1",
         "--silent", "--json", str(out_json), "--work-dir", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=900, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    for row in ("ours (peftdeck.run_cell)", "Trainer, reference-style", "Trainer, at its best",
                "| Full FT |", "| BitFit |", "fixed cost", "import torch", "machine peak", "targets"):
        assert row in text, f"missing {row!r} in:\n{text}"
    assert "failed" not in text, text

    report = json.loads(out_json.read_text())
    variants = report["variants"]
    assert set(variants) == {"ours", "trainer_ref", "trainer_best"}
    for name, r in variants.items():
        assert "error" not in r, (name, r.get("log_tail"))
        assert r["examples_per_s"] > 0 and r["train_s"] > 0 and r["peak_rss_bytes"] > 0, name
        assert 0 <= r["metric"] <= 100, name
        assert r["train_flops"] > 0 and r["utilisation_pct"] is not None, name
    for name in ("trainer_ref", "trainer_best"):
        assert variants[name]["ours_over_this"] > 0
    # Every variant trains the same examples for the same number of epochs.
    assert len({r["examples"] for r in variants.values()}) == 1
    # The reference-style run pads to max_length, so it executes more FLOPs per example than ours.
    assert variants["trainer_ref"]["train_flops"] > variants["ours"]["train_flops"]
    # BitFit skips the weight-gradient matmuls of every frozen weight.
    assert report["bitfit"]["params_trainable"] < variants["ours"]["params_trainable"]
    assert report["bitfit_flops_fraction"] < 0.9
    assert report["fixed_cost"]["median"]["startup_s"] > 0
    assert report["peak"]["peak_flops"] > 0
    assert len(report["targets"]) == 5
