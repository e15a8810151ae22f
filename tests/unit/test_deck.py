"""The deck template renders from a summary, states only supported findings, leaks no nan/None."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from peftdeck import aggregate, deck
from synthetic_cells import small_config, write_results

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "templates" / "deck.md.j2"

SECTIONS = [
    "# Agenda", "# Metrics per task", "# Methods overview", "# Memory and compute per method",
    "# Part I — setup", "# Part I — results", "# Part I — observations", "# Part I — Parameter efficiency",
    "# Part I — Compute and memory", "# Part I — Scores vs majority baseline", "# Part I — Pareto front: score vs cost",
    "# Part I — Training health: loss curves",
    "# Part II — SQuAD v1.1: hypothesis",
    "# Part II — setup", "# Part II — fixed epochs vs step budget", "# Part II — F1 score",
    "# Part II — Exact match (EM)", "# Part II — Scores vs training-set size",
    "# Part II — who wins where", "# Part II — conclusion", "# Conclusions", "# Summary",
]
BANNER = "DEMO — generated data, not real results"


def summary_for(tmp_path, demo=True, skip=lambda c: False, seeds=None, **changes):
    cfg = small_config(demo=demo, seeds=seeds, **changes)
    write_results(cfg, tmp_path, skip=skip, collapsed=lambda c: c.task == "rte" and c.method == "prompt_tuning")
    df, missing = aggregate.collect(cfg, allow_missing=True, root=tmp_path)
    return aggregate.build_summary(df, missing, cfg, config_path="config/demo.yaml")


def render(summary):
    return deck.render_markdown(summary, TEMPLATE)


def slides(md):
    body = md.split("\n---\n", 2)[2]  # after the front matter
    return [s for s in body.split("\n---\n")]


def test_every_section_present_and_no_leaks(tmp_path):
    md = render(summary_for(tmp_path))
    for heading in SECTIONS:
        assert heading in md, heading
    assert "# Missing cells" not in md
    assert not re.search(r"\b(nan|NaN|None|inf|undefined)\b", md)
    assert BANNER in md
    assert md.startswith("---\nmarp: true\n")
    for name in ("parameter_efficiency", "flops", "glue_results", "loss_curves", "pareto", "squad_curves"):
        assert f"](figures/{name}.png)" in md
    # Every separator stands alone between blank lines, so no paragraph turns into a heading.
    lines = md.splitlines()
    for i, line in enumerate(lines[1:], 1):
        if line == "---" and i > lines[1:].index("---") + 1:
            assert lines[i - 1] == "" and lines[i + 1] == ""


def test_banner_absent_for_real_data(tmp_path):
    md = render(summary_for(tmp_path, demo=False))
    assert BANNER not in md and "demo numbers" not in md
    assert "Hugging Face Hub" in md


def test_findings_shown_only_when_supported(tmp_path):
    summary = summary_for(tmp_path)
    md = render(summary)
    # The synthetic data: LoRA beats Full FT on SST-2 only; BitFit beats no task.
    assert "**LoRA (r=8)** matches or beats Full FT on SST-2" in md
    assert "**BitFit** matches or beats Full FT on SST-2" not in md
    assert not re.search(r"\*\*BitFit\*\* matches or beats Full FT on (SST-2|MRPC|RTE)", md)
    assert "has the best score on every task" not in md
    assert "Prompt tuning on RTE" in md and "52.70 †" in md
    assert "crossover near" in md
    # Take the LoRA claim away: the sentence goes with it.
    for o in summary["glue"]["observations"]:
        o["supported"] = False
    summary["conclusions"] = []
    md = render(summary)
    assert "matches or beats Full FT on SST-2" not in md
    assert "No comparison is supported" in md


def test_tasks_near_baseline_sentence_leads_the_observations(tmp_path):
    summary = summary_for(tmp_path)
    summary["glue"]["observations"].insert(0, {
        "id": "tasks_near_baseline", "supported": True,
        "data": {"alpha": 0.05, "tasks": [{"task": "mrpc", "best": 81.5, "best_label": "BitFit", "baseline": 81.2}]}})
    md = render(summary)
    observations = next(s for s in slides(md) if s.lstrip().startswith("# Part I — observations"))
    first = observations.split("1. ", 1)[1]
    assert first.startswith("No method learned MRPC (best 81.50, BitFit, vs 81.20 for the majority class): "
                            "no run there is distinguishable from the majority-class baseline (one-sided test at 5%)")


def test_missing_cells_marked_and_listed(tmp_path):
    md = render(summary_for(tmp_path, skip=lambda c: c.task == "mrpc" and c.method == "lora"))
    assert "# Missing cells" in md
    assert "*missing*" in md
    assert "snakemake --cores N deck --configfile config/demo.yaml" in md
    assert not re.search(r"\b(nan|None)\b", md)


def test_sections_of_unconfigured_experiments_are_left_out(tmp_path):
    cfg = small_config()
    experiments = {"glue": cfg["experiments"]["glue"]}
    md = render(summary_for(tmp_path, experiments={"glue": {k: v for k, v in experiments["glue"].items()
                                                            if k in ("tasks", "methods", "train_sizes", "schedules", "seeds")}}))
    assert "# Part I — results" in md
    assert "Part II" not in md and "squad_curves" not in md
    assert not re.search(r"\b(nan|None)\b", md)


def test_epochs_slide_says_when_not_configured(tmp_path):
    from synthetic_cells import SMALL_CONFIG

    exps = {k: v for k, v in SMALL_CONFIG["experiments"].items() if k != "squad_epochs"}
    md = render(summary_for(tmp_path, experiments=exps))
    assert "# Part II — fixed epochs vs step budget" in md
    assert "is not configured in this study" in md


def test_multi_seed_shows_std(tmp_path):
    md = render(summary_for(tmp_path, seeds=[1, 2]))
    assert " ± " in md
    assert "Means ± standard deviation over seeds 1, 2" in md


def test_long_tables_split_over_slides(tmp_path):
    summary = summary_for(tmp_path)
    rows = summary["squad"]["comparisons"][0]["rows"]
    summary["squad"]["comparisons"][0]["rows"] = (rows * 4)[:13]
    md = render(summary)
    assert "# Part II — F1 score (1/2)" in md and "# Part II — F1 score (2/2)" in md
    for s in slides(md):
        assert sum(1 for line in s.splitlines() if line.startswith("| ")) <= 14


@pytest.mark.parametrize("value,expected", [
    (None, "—"), (float("nan"), "—"), ({"mean": 91.234, "std": None, "n": 1}, "91.23"),
    ({"mean": 91.234, "std": 0.5, "n": 2}, "91.23 ± 0.50"),
])
def test_score_filter(value, expected):
    assert deck.fmt_score(value) == expected


def test_other_filters():
    assert deck.fmt_pct(0.09540) == "0.095%" and deck.fmt_pct(100.0) == "100%" and deck.fmt_pct(0.2708) == "0.27%"
    assert deck.fmt_signed(-0.004) == "+0.00" and deck.fmt_signed(9.77) == "+9.77" and deck.fmt_signed(None) == "—"
    assert deck.fmt_int(109483778.0) == "109,483,778"
    assert deck.fmt_size({"train_size": "all", "n_train": 88524}) == "all (88,524)"
    assert deck.fmt_bytes(2.2 * 2**30) == "2.20 GiB" and deck.fmt_flops(1.2e14) == "120 TFLOP"
    assert deck.fmt_ratio(0.5) == "0.50×" and deck.fmt_g(2e-05) == "2e-05"
    assert deck.fmt_ratio(0.0037) == "0.0037×" and deck.fmt_ratio(0.00004) == "0.00004×"  # never a bare 0.00×
    assert deck.fmt_schedule({"steps": 2000, "epochs": 2}).startswith("max(2,000 steps")
    assert deck.fmt_schedule({"steps": 120, "epochs": 1}) == "max(120 steps, 1 epoch's worth of steps)"
    assert deck.fmt_schedule({"epochs": 1}) == "1 epoch" and deck.fmt_schedule({"epochs": 0.5}) == "0.5 epochs"


def test_build_cli(tmp_path):
    import json

    summary = summary_for(tmp_path)
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    out = tmp_path / "slides" / "deck.md"
    assert deck.main(["build", "--summary", str(path), "--template", str(TEMPLATE), "--out", str(out)]) == 0
    assert out.read_text().startswith("---\nmarp: true")


def test_plots_make_all(tmp_path):
    import matplotlib.image as mpimg
    import pandas as pd

    from peftdeck import plots

    summary = summary_for(tmp_path, seeds=[1, 2])
    df = pd.DataFrame()
    written = plots.make_all(df, summary, tmp_path / "figures")
    assert sorted(p.name for p in written) == sorted(f"{f['name']}.png" for f in summary["figures"])
    for p in written:
        img = mpimg.imread(p)
        assert img.shape[1] >= 1500 and img.std() > 0.05, p  # slide-sized, not blank


def test_figures_are_saved_with_a_palette_that_keeps_their_colours(tmp_path):
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from peftdeck.plots._style import save

    colours = ["#1f3a68", "#d95f02", "#e6ab02", "#1b9e77"]
    fig, ax = plt.subplots(figsize=(6, 3))
    for i, c in enumerate(colours):
        ax.add_patch(plt.Rectangle((i, 0), 0.9, 1, color=c))
        ax.plot(np.linspace(i, i + 1, 200), np.sin(np.linspace(0, 20, 200)) + 2, color=c, lw=2)
    ax.set_xlim(0, 4), ax.set_ylim(0, 3.5)
    fig.canvas.draw()
    drawn = np.array(fig.canvas.buffer_rgba())[..., :3]
    path = save(fig, tmp_path, "chart")
    with Image.open(path) as im:
        assert im.mode == "P" and len(im.getcolors(256)) <= 256
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(int)
    for c in colours:
        rgb = np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)])
        assert np.abs(drawn.reshape(-1, 3).astype(int) - rgb).max(axis=1).min() == 0  # the colour was drawn
        assert np.abs(pixels - rgb).max(axis=1).min() <= 2, c  # and survives the palette


def test_runs_judged_against_the_baseline_and_diverged_runs_get_the_fix(tmp_path):
    """Through aggregation: a run at the baseline is marked and left out of the averages, a run whose
    loss blew up is called diverged with the fix, and the table gives the share of Full FT's gain."""
    from synthetic_cells import cell_result

    cfg = small_config(demo=True)
    write_results(cfg, tmp_path)
    for cell in (c for c in aggregate.experiment_cells(cfg, "glue") if c.task == "sst2"):
        if cell.method == "bitfit":  # 51.5% on 400 examples against 50.9%: not learned (p = 0.43)
            res = cell_result(cfg, cell, {"accuracy": 51.5})
        elif cell.method == "prompt_tuning":  # the loss ends far above its start
            res = cell_result(cfg, cell, {"accuracy": 50.9})
            res["compute"]["train_loss_curve"] = [[10, 0.7], [20, 40.0], [30, 333.7]]
        else:
            continue
        (tmp_path / cell.path).write_text(__import__("json").dumps(res))
    df, missing = aggregate.collect(cfg, root=tmp_path)
    assert dict(zip(df["method"] + "/" + df["task"], df["status"]))["bitfit/sst2"] == "not_learned"
    assert dict(zip(df["method"] + "/" + df["task"], df["status"]))["prompt_tuning/sst2"] == "diverged"
    summary = aggregate.build_summary(df, missing, cfg, config_path="config/demo.yaml")
    md = render(summary)
    results = next(s for s in slides(md) if s.lstrip().startswith("# Part I — results"))
    assert "Gain kept" in results
    bitfit_row = next(line for line in results.splitlines() if line.startswith("| BitFit |"))
    assert "51.50 °" in bitfit_row and " * |" in bitfit_row  # marked, and its average is over two tasks
    assert "° not learned" in results and "× diverged" in results
    bitfit = next(m for m in summary["glue"]["methods"] if m["method"] == "bitfit")
    learned = [t for t in ("mrpc", "rte") if bitfit["scores"][t]["status"] == "learned"]
    assert bitfit["average"] == pytest.approx(sum(bitfit["scores"][t]["mean"] for t in learned) / len(learned))
    assert "Diverged (training loss not finite, or ending above where it started): Prompt tuning on SST-2" in md
    assert "Rerun with a lower learning rate." in md
    assert "BitFit on SST-2 (51.50 vs 50.90, p = 0.42" in md
    assert "](figures/loss_curves.png)" in md


def test_small_data_sentences_follow_outcomes_that_go_up_and_down(tmp_path):
    """Tie at 100, loss at 300, tie at 1,000 and at the full set: the deck must not say BitFit
    "matches or beats up to 1,000" nor that it "falls behind with more"."""
    from synthetic_cells import default_metrics

    cfg = small_config()
    deltas = {100: 0.3, 300: -4.0, 1000: 0.2, "all": -0.5}

    def metrics(cell):
        m = default_metrics(cfg, cell)
        if cell.task == "squad" and cell.method == "bitfit" and cell.sched.startswith("st"):
            ref = default_metrics(cfg, cell.__class__(**{**cell.__dict__, "method": "full_ft"}))
            return {k: ref[k] + deltas[cell.train_size] for k in m}
        return m

    write_results(cfg, tmp_path, metrics=lambda c: metrics(c) if c.task == "squad" else None)
    df, missing = aggregate.collect(cfg, root=tmp_path)
    md = render(aggregate.build_summary(df, missing, cfg))
    assert "falls behind with more" not in md
    assert "up to 1,000 examples" not in md
    assert "matches or beats Full FT on F1 up to 100 examples and falls behind at 300, level again at 1,000" in md
    assert ("but falls behind at 300 (-4.00); it is level again or ahead at 1,000 "
            "and at the largest size, 2,000 (the full set) (-0.50).") in md


def test_a_task_learned_in_some_runs_says_how_many(tmp_path):
    summary = summary_for(tmp_path)
    summary["glue"]["observations"].insert(0, {
        "id": "tasks_near_baseline", "supported": True,
        "data": {"alpha": 0.05, "some_runs_learned": True,
                 "tasks": [{"task": "rte", "best": 58.5, "best_label": "LoRA", "baseline": 52.7,
                            "runs_learned": 4, "runs": 15}]}})
    md = render(summary)
    observations = next(s for s in slides(md) if s.lstrip().startswith("# Part I — observations"))
    first = observations.split("1. ", 1)[1]
    assert first.startswith("No method learned RTE in every run (best 58.50, LoRA, vs 52.70 for the majority "
                            "class; 4 of 15 runs distinguishable from it): by the one-sided test at 5%, no "
                            "method there is distinguishable from the majority-class baseline in all of its runs")


def test_a_task_with_its_own_schedule_is_named_on_the_setup_slide(tmp_path):
    from synthetic_cells import SMALL_CONFIG

    exps = {k: dict(v) for k, v in SMALL_CONFIG["experiments"].items()}
    exps["glue"]["task_schedules"] = {"rte": [{"steps": 50, "epochs": 0.01}]}
    md = render(summary_for(tmp_path, experiments=exps))
    setup = next(s for s in slides(md) if "# Part I — setup" in s)
    line = next(x for x in setup.splitlines() if x.startswith("- **Schedule:**"))
    assert line.startswith("- **Schedule:** 3 epochs; RTE: max(50 steps, 0.01 epochs' worth of steps) · ")


def test_entries_learned_with_their_seeds_together_are_named(tmp_path):
    summary = summary_for(tmp_path)
    summary["glue"]["observations"].append({
        "id": "learned_together", "supported": True,
        "data": {"alpha": 0.05, "entries": [{"task": "rte", "method": "full_ft", "label": "Full FT", "score": 57.4,
                                             "baseline": 52.7, "lower": 53.1, "p_value": 0.021, "runs": 3,
                                             "n": 277, "runs_passed": 1}]}})
    summary["glue"]["observations"].insert(0, {
        "id": "tasks_near_baseline", "supported": True,
        "data": {"alpha": 0.05, "pooled": True, "some_runs_learned": True,
                 "tasks": [{"task": "mrpc", "best": 81.5, "best_label": "BitFit", "baseline": 81.2,
                            "runs_learned": 1, "runs": 6}]}})
    md = render(summary)
    assert ("Learned with the seeds taken together, though not by every seed alone: Full FT on RTE (mean "
            "accuracy 57.40 vs 52.70 for the majority class, at least 53.10 with 95% confidence; 3 seeds on "
            "the same 277 examples, one-sided p = 0.02; 1 of 3 seeds passes alone). It counts in the averages "
            "and claims.") in md
    observations = next(s for s in slides(md) if s.lstrip().startswith("# Part I — observations"))
    first = observations.split("1. ", 1)[1]
    assert first.startswith("No method learned MRPC (best 81.50, BitFit, vs 81.20 for the majority class; 1 of 6 "
                            "runs distinguishable from it alone): with each method's seeds tested together on "
                            "the same examples (one-sided, 5%), none is distinguishable")
