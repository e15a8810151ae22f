"""workflow/scripts/study_table.py: the results-page table, checked on hand-computed cases."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "study_table.py"
spec = importlib.util.spec_from_file_location("study_table", SCRIPT)
study_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study_table)


def rows(method, kind, label, scores, status="learned", p=0.001):
    return [{"experiment": "glue", "task": "sst2", "method": method, "method_kind": kind, "method_label": label,
             "primary_metric": "accuracy", "primary": s, "baseline_accuracy": 50.0, "lr": 1e-4, "batch_size": 16,
             "seed": i + 1, "status": status, "baseline_p": p} for i, s in enumerate(scores)]


def test_scores_baseline_interval_and_gain_kept():
    df = pd.DataFrame(rows("full_ft", "full_ft", "Full FT", [80.0, 82.0, 84.0])
                      + rows("bitfit", "bitfit", "BitFit", [65.0, 66.0, 67.0])
                      + rows("prompt_tuning", "prompt_tuning", "Prompt tuning", [49.0, 50.0, 54.0],
                             status="not_learned", p=0.6))
    lines = study_table.table(df, "glue").splitlines()
    full, bitfit, prompt = lines[2], lines[3], lines[4]
    assert "accuracy 82.0 ± 2.0" in full and "| 100% |" in full and "3 of 3" in full
    # (66 - 50) / (82 - 50) = 50% of Full FT's gain; every resample of [65, 66, 67] stays above 50.
    assert "accuracy 66.0 ± 1.0" in bitfit and "| 50% |" in bitfit and "| yes |" in bitfit
    # Mean 51: 3% of the gain, an interval that reaches below the baseline, no seed learned.
    assert "| 3% |" in prompt and "| no |" in prompt and "0 of 3" in prompt and "| 0.6 |" in prompt


def test_two_seeds_give_no_interval():
    df = pd.DataFrame(rows("full_ft", "full_ft", "Full FT", [80.0, 84.0]))
    line = study_table.table(df, "glue").splitlines()[2]
    assert "| n/a |" in line and "| no |" in line


def test_seeds_together_read_from_the_cells(tmp_path):
    import json

    # Two seeds on 100 examples, right on the first 60 and the first 56 (pooled p = 0.0498 by hand,
    # tests/unit/test_health.py); a third method whose cells carry no per-example record.
    spec = rows("full_ft", "full_ft", "Full FT", [60.0, 56.0]) + rows("bitfit", "bitfit", "BitFit", [55.0, 54.0])
    for i, r in enumerate(spec):
        r["path"] = f"runs/{i}/metrics.json"
        cell = tmp_path / r["path"]
        cell.parent.mkdir(parents=True)
        right = (60, 56)[i] if i < 2 else None
        pred = {"correct": "1" * right + "0" * (100 - right)} if right else {}
        cell.write_text(json.dumps({"predictions": pred}))
    lines = study_table.table(pd.DataFrame(spec), "glue", tmp_path).splitlines()
    assert lines[0].endswith("| seeds together: p |")
    assert lines[2].endswith("| 0.05 |") and lines[3].endswith("| n/a |")
