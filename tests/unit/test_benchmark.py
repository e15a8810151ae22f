"""benchmarks/trainer_vs_cell.py: its quick mode runs end to end and reports every row (timings are not
checked); --memory reports each kind of training memory. The benchmark's modules are importable here
because pytest puts benchmarks/ on sys.path (pyproject.toml)."""
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
        [sys.executable, str(REPO / "benchmarks" / "trainer_vs_cell.py"), "--quick", "--threads", "1",
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
    # Training memory of the Full FT and BitFit cells, by kind, next to the analytic count.
    assert "training memory by kind" in text and "| optimizer state (AdamW) |" in text
    full, bitfit = report["training_memory"]["full_ft"], report["training_memory"]["bitfit"]
    assert full["training_memory"]["gradients"] == full["analytic"]["gradients"]
    assert bitfit["training_memory"]["gradients"] < 0.05 * full["training_memory"]["gradients"]


def _memory_args(tmp_path, **changes):
    from trainer_vs_cell import build_parser

    args = build_parser().parse_args(["--memory", "--threads", "1", "--silent", "--batch-size", "4",
                                      "--max-length", "16", "--work-dir", str(tmp_path / "work")])
    for key, value in changes.items():
        setattr(args, key, value)
    return args


def test_memory_mode_reports_each_kind_next_to_the_analytic_count(tmp_path):
    pytest.importorskip("peft", reason="the LoRA row needs peft")
    from bench_inputs import tiny_model
    from bench_report import render_memory
    from bench_runs import memory_report

    model = tiny_model(tmp_path / "tiny", vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"], hidden=32,
                       layers=2, heads=2)
    report = memory_report(_memory_args(tmp_path, model_config=str(model)), tmp_path / "work")
    runs = report["methods"]
    assert set(runs) == {"full_ft", "bitfit", "lora"}
    for method, r in runs.items():
        assert "error" not in r, (method, r.get("log_tail"))
        mem, expect = r["training_memory"], r["analytic"]
        assert mem["weights"] == expect["weights"] and mem["gradients"] == expect["gradients"], method
        assert mem["optimizer_state"] - r["optimizer_step_counter_bytes"] == expect["optimizer_state"], method
    full, bitfit = runs["full_ft"]["training_memory"], runs["bitfit"]["training_memory"]
    assert bitfit["gradients"] < 0.05 * full["gradients"] and bitfit["peak"] < full["peak"]
    text = render_memory(report)
    for row in ("| weights |", "| gradients |", "| optimizer state (AdamW) |", "| activations saved for backward |",
                "| peak of a step |", "Full FT measured", "BitFit analytic", "LoRA r=8 measured"):
        assert row in text, f"missing {row!r} in:\n{text}"


def test_memory_mode_without_a_config_says_it_skipped(tmp_path, monkeypatch):
    from trainer_vs_cell import main

    monkeypatch.setenv("PEFTDECK_BERT_BASE_CONFIG", str(tmp_path / "nowhere"))
    out = tmp_path / "memory.json"
    assert main(["--memory", "--silent", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert "no BERT config found" in report["skipped"]


@pytest.mark.slow
def test_cell_ab_startup_runs_both_variants_and_prints_the_ratio(tmp_path):
    """benchmarks/cell_ab.py startup: a fresh process and the warm worker on the same tiny cell (timings
    are not checked; the script itself asserts that each run started the way it claims)."""
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "cell_ab.py"), "startup", "--repeats", "1"],
                          capture_output=True, text=True, timeout=600, cwd=REPO / "benchmarks")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("fresh process") for line in lines), proc.stdout
    assert any(line.startswith("warm worker") for line in lines), proc.stdout
    ratio = next(line for line in lines if line.startswith("ratio"))
    assert ratio.split()[1].endswith("x"), ratio
