"""A short fine-tuning run of a real pretrained encoder on real GLUE data learns the task."""
from __future__ import annotations

import json

import pytest

from peftdeck.config import resolve_cell, validate
from peftdeck.paths import Cell

pytestmark = [pytest.mark.real, pytest.mark.slow]


def test_minilm_learns_sst2_subset_above_majority(shared_data, minilm_dir, tmp_path):
    from peftdeck.train import run_cell

    config = validate({
        "study": "realcheck",
        "model": {"source": "local", "path": str(minilm_dir)},
        "data": {"sst2": {"source": "local", "path": str(shared_data / "glue" / "SST-2"), "eval_size": 300}},
        "training": {"max_length": 64, "eval_batch_size": 64},
        "experiments": {"glue": {"tasks": ["sst2"], "methods": ["full_ft"]}},
    })
    cell = Cell("realcheck", "sst2", "full_ft", 500, "ep2", 1e-4, 16, 42)
    out = tmp_path / "metrics.json"
    result = run_cell(resolve_cell(config, cell), str(out), log=lambda m: None)
    assert json.loads(out.read_text())["metrics"] == result["metrics"]
    acc, base = result["metrics"]["accuracy"], result["baseline"]["accuracy"]
    assert result["task"]["n_train"] == 500 and result["task"]["n_eval"] == 300
    assert acc >= base + 10, f"accuracy {acc:.1f} is not clearly above the majority baseline {base:.1f}"
    assert not result["predictions"]["collapsed"]
