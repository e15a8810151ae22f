"""benchmarks/gpu_bench.py in its CPU smoke mode: every step of the GPU figures run (matmul
peak, per-method measurement, cells sharing a device in separate processes, projection of the
reference study) on a tiny random BERT. The numbers mean nothing; the plumbing is what is checked."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from peftdeck.config import all_cells, load_config

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_bench.py"


def test_gpu_bench_smoke_run(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--json", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["smoke"] and report["peak"]["tflops"] > 0
    methods = {(r["task"], r["method"]) for r in report["methods"]}
    for m in ("full_ft", "bitfit", "bitfit_subset", "lora", "prompt_tuning"):
        assert ("sst2", m) in methods
    assert {("squad", "full_ft_qa"), ("squad", "bitfit_qa")} <= methods
    for r in report["methods"]:
        assert r["examples_per_s"] > 0 and r["flops_per_step"] > 0 and r["mfu_pct"] > 0
    full, bitfit = (next(r for r in report["methods"] if r["task"] == "sst2" and r["method"] == m)
                    for m in ("full_ft", "bitfit"))
    assert bitfit["trainable"] < full["trainable"]
    assert bitfit["flops_per_step"] < full["flops_per_step"]  # no weight gradients for frozen weights
    runs = report["sharing"]["runs"]["full_ft"]
    assert [r["processes"] for r in runs] == [1, 2] and all(r["examples_per_s"] > 0 for r in runs)
    proj = report["projection"]
    assert proj["cells"] == len(all_cells(load_config(REPO / "config" / "config.yaml"))) == 35
    assert proj["serial_s"] > 0 and set(proj["shared_s"]) == {"1", "2"}
    assert "Projected wall time of the reference study (35 cells)" in proc.stdout
