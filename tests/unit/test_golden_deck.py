"""The whole reporting side on fixed synthetic results, compared with a committed deck.

A fixed set of synthetic cell results (every core section and the wider study: grid search, LoRA
ranks, training fractions; one run that collapsed, one that did not learn, one cell missing) goes
through aggregation, the findings and the templates; the deck Markdown must equal
tests/golden/deck.md line for line. A difference fails with a unified diff.

The compared text is made deterministic: the generation time is fixed and the temporary results
folder is written as `<results>`.

After a deliberate change to the findings or the templates, regenerate the golden file and review
the change before committing it:

    PEFTDECK_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_golden_deck.py
    git diff tests/golden/deck.md
"""
from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from peftdeck import aggregate, deck
from synthetic_cells import cell_result, wider_config, write_results

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "templates" / "deck.md.j2"
GOLDEN = REPO / "tests" / "golden" / "deck.md"
UPDATE = os.environ.get("PEFTDECK_UPDATE_GOLDEN") == "1"
FIXED_TIME = "2026-01-01 00:00 UTC"


def golden_deck(root: Path) -> str:
    """The deck of the golden study, its results written under `root`."""
    cfg = wider_config("grid", "ranks", "fractions", demo=True)
    # Prompt tuning collapses on RTE; BitFit at the largest SQuAD size of the step-budget sweep has no
    # result yet.
    write_results(cfg, root, collapsed=lambda c: c.task == "rte" and c.method == "prompt_tuning",
                  skip=lambda c: c.task == "squad" and c.method == "bitfit" and c.train_size == "all"
                  and c.sched.startswith("st"))
    # BitFit on SST-2 does not learn: 51.5% of 400 examples against a majority class of 50.9%.
    cell = next(c for c in aggregate.experiment_cells(cfg, "glue") if c.task == "sst2" and c.method == "bitfit")
    (root / cell.path).write_text(json.dumps(cell_result(cfg, cell, {"accuracy": 51.5})))
    df, missing = aggregate.collect(cfg, allow_missing=True, root=root)
    summary = aggregate.build_summary(df, missing, cfg, config_path="config/demo.yaml")
    summary["meta"]["generated_utc"] = FIXED_TIME
    return deck.render_markdown(summary, TEMPLATE).replace(str(root), "<results>")


def test_deck_matches_the_golden_file(tmp_path):
    text = golden_deck(tmp_path)
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
        pytest.skip(f"wrote {GOLDEN.relative_to(REPO)}; review it with git diff before committing")
    if not GOLDEN.is_file():
        pytest.fail(f"{GOLDEN.relative_to(REPO)} is missing: create it with PEFTDECK_UPDATE_GOLDEN=1 "
                    "python -m pytest tests/unit/test_golden_deck.py", pytrace=False)
    expected = GOLDEN.read_text()
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), text.splitlines(keepends=True),
                                            fromfile="tests/golden/deck.md (committed)",
                                            tofile="deck.md (rendered now)"))
        pytest.fail("the rendered deck differs from the golden file; if the change is intended, regenerate it "
                    "with PEFTDECK_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_golden_deck.py\n\n" + diff,
                    pytrace=False)


def test_golden_deck_is_deterministic(tmp_path):
    """Two builds in different folders give the same text (no time, no path, no random draw leaks in)."""
    assert golden_deck(tmp_path / "a") == golden_deck(tmp_path / "b")
