"""A two-stage study through Snakemake: the grid runs, the `choose_settings` checkpoint picks each task's
and method's setting on held-out data, and only then do part I's cells exist and run."""
from __future__ import annotations

import json

import pytest
from test_pipeline import snakemake

from repo_copy import workdir_copy  # noqa: E402

from peftdeck import paths
from peftdeck.config import all_cells, experiment_cells, load_config

TUNED = "tests/workflow/configs/tiny-tuned.yaml"


@pytest.mark.slow
def test_a_tuned_study_chooses_on_held_out_data_then_runs_the_chosen_cells(tmp_path):
    repo = workdir_copy(tmp_path)
    cfg = load_config(repo / TUNED)
    dry = snakemake("-n", "deck", "--configfile", TUNED, cwd=repo)
    # Before the grid has run, part I has no cells yet: only the grid's 16 are planned.
    assert "train_cell" in dry.stdout and experiment_cells(cfg, "glue", repo) == []
    snakemake("--cores", "2", "deck", "--configfile", TUNED, cwd=repo)
    chosen = json.loads((repo / paths.chosen_json("tiny-tuned", "glue")).read_text())
    cells = experiment_cells(cfg, "glue", repo)
    assert len(cells) == 3 * 2 * 2
    for cell in cells:
        pick = chosen["settings"][cell.task][cell.method]
        assert (cell.lr, cell.batch_size) == (pick["lr"], pick["batch_size"])
        result = json.loads((repo / cell.path).read_text())
        assert result["hparams"]["lr"] == pick["lr"] and "selection" not in result
        # The choice is the best mean held-out score of the grid's points, recomputed here.
        source = "mrpc" if cell.task == "rte" else cell.task
        assert pick.get("chosen_on") == ("mrpc" if cell.task == "rte" else None)
        grid = [json.loads((repo / g.path).read_text()) for g in experiment_cells(cfg, "grid", repo)
                if g.task == source and g.method == cell.method]
        pm = grid[0]["task"]["primary_metric"]
        best = max(g["selection"]["metrics"][pm] for g in grid)
        assert pick["heldout"] == pytest.approx(best)
    assert len(all_cells(cfg, repo)) == 16 + 12
    deck = (repo / "slides/tiny-tuned/deck.md").read_text()
    assert "on the held-out 20% of train by the grid `grid`, never on dev" in deck
    assert "RTE runs at MRPC's choice (not tuned on its own held-out split)\n- **Runs:**" in deck
    again = snakemake("-n", "deck", "--configfile", TUNED, cwd=repo)
    assert "Nothing to be done" in again.stdout + again.stderr
