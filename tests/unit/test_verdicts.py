"""Verdicts and winners the deck prints, decided in peftdeck.findings and only worded by the templates.

Outcomes that go up and down across sizes (tie, lose, tie) must give sentences that say so; long
tables and lists are split across slides, never cut.
"""
from __future__ import annotations

import copy
from pathlib import Path

import jinja2
import pytest

from peftdeck import deck
from peftdeck import findings as F
from peftdeck.findings.part2 import regime_span, winner
from test_deck import render, slides, summary_for
from test_findings import rows, squad_rows

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def sentences():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(deck.FILTERS)
    return env.get_template("_sentences.md.j2").module


def sizes(*ns):
    return [{"train_size": n, "n_train": n} for n in ns]


# --- Part II: how far "matches or beats with little data" reaches ---------------------------------

def test_tie_lose_tie_is_level_again_at_the_largest_size():
    ext = F.small_data_extent(sizes(100, 300, 1000), ["ties", "loses", "ties"], [0.5, -3.0, 0.2])
    assert ext["holds_up_to"] == {"train_size": 100, "n_train": 100}
    assert ext["first_loss"]["train_size"] == 300 and ext["level_again"]["train_size"] == 1000
    assert ext["behind_at_largest"] is False
    assert ext["up_to_beyond_smallest"] is False  # holds only at the smallest size
    assert ext["largest_after_level_again"] is None  # the largest size is the one level again


def test_tie_lose_tie_lose_is_behind_at_the_largest_size():
    ext = F.small_data_extent(sizes(100, 300, 1000, 3000), ["ties", "loses", "ties", "loses"], [0.5, -3, 0.2, -4])
    assert ext["level_again"]["train_size"] == 1000
    assert ext["behind_at_largest"] is True and ext["largest_after_level_again"] == "behind"


def test_win_tie_lose_tie_tie_holds_up_to_and_is_level_at_the_largest():
    ext = F.small_data_extent(sizes(100, 300, 1000, 3000, 9000), ["wins", "ties", "loses", "ties", "ties"],
                              [3, 0.5, -2, 0.1, 0.3])
    assert ext["holds_up_to"]["train_size"] == 300 and ext["up_to_beyond_smallest"] is True
    assert ext["level_again"]["train_size"] == 3000 and ext["largest_after_level_again"] == "level"


def test_never_behind_has_no_loss_and_no_level_again():
    ext = F.small_data_extent(sizes(100, 300), ["wins", "ties"], [2.0, 0.1])
    assert ext["first_loss"] is None and ext["level_again"] is None
    assert ext["holds_up_to"]["train_size"] == 300 and ext["largest_after_level_again"] is None


def hypothesis_of(deltas):
    s = F.size_sweep(squad_rows(deltas), tolerance=1.0)
    return s, s["comparisons"][0]


def test_hypothesis_sentence_tie_lose_tie():
    s, comp = hypothesis_of({(100, 100): 0.5, (300, 300): -3.0, (1000, 1000): 0.2})
    hyp = comp["hypothesis"]["f1"]
    assert hyp["verdict"] == "partial"
    text = str(sentences().hypothesis(hyp, "BitFit", "Full FT", "F1"))
    assert text == ("The hypothesis holds only in part: **BitFit** matches or beats Full FT on F1 with little data "
                    "(+0.50 at 100 examples) but falls behind at 300 (-3.00); it is level again or ahead at 1,000.")


def test_hypothesis_sentence_tie_lose_tie_lose():
    s, comp = hypothesis_of({(100, 100): 0.5, (300, 300): -3.0, (1000, 1000): 0.2, (3000, 3000): -4.0})
    text = str(sentences().hypothesis(comp["hypothesis"]["f1"], "BitFit", "Full FT", "F1"))
    assert text.endswith("it is level again or ahead at 1,000 and behind at the largest size, 3,000 (-4.00).")


def test_hypothesis_sentence_win_tie_lose_tie_tie():
    s, comp = hypothesis_of({(100, 100): 3.0, (300, 300): 0.5, (1000, 1000): -2.0, (3000, 3000): 0.1,
                             (9000, 9000): 0.3})
    text = str(sentences().hypothesis(comp["hypothesis"]["f1"], "BitFit", "Full FT", "F1"))
    assert "(+3.00 at 100 examples, and up to 300)" in text
    assert text.endswith("level again or ahead at 3,000 and at the largest size, 9,000 (+0.30).")


# --- Part II: who wins each size and each run of sizes ----------------------------------------------

def test_winner_in_words():
    assert winner("wins", False, "BitFit", "Full FT") == "BitFit"
    assert winner("loses", True, "BitFit", "Full FT") == "Full FT"
    assert winner("ties", True, "BitFit", "Full FT") == "no clear difference"
    assert winner("ties", False, "BitFit", "Full FT") == "tie"
    assert winner(None, False, "BitFit", "Full FT") is None


def test_regime_spans():
    def spans(outcomes):
        regs = F.regime_table(list(range(len(outcomes))), [0.0] * len(outcomes), outcomes=outcomes)
        return [regime_span(r) for r in regs]

    assert spans(["wins", "wins", "wins"]) == ["all"]
    assert spans(["ties", "ties", "loses", "ties"]) == ["up_to", "one", "one"]
    assert spans(["wins", "loses", "loses", "wins"]) == ["one", "between", "one"]
    assert spans(["wins", "wins", "loses", "loses"]) == ["up_to", "from"]


def test_size_sweep_winners_go_tie_lose_tie():
    s, comp = hypothesis_of({(100, 100): 0.5, (300, 300): -3.0, (1000, 1000): 0.2})
    assert [r["f1"]["winner"] for r in comp["rows"]] == ["tie", "FULL_FT", "tie"]
    regs = comp["regimes"]["f1"]
    assert [(g["winner"], g["span"]) for g in regs] == [("tie", "one"), ("FULL_FT", "one"), ("tie", "one")]
    assert comp["trainable_pct"] == pytest.approx(10.0)
    assert s["all_n_train"] is None


def test_squad_tables_print_the_winner_per_size(tmp_path):
    summary = summary_for(tmp_path)
    comp = summary["squad"]["comparisons"][0]
    md = render(summary)
    table = next(s for s in slides(md) if s.lstrip().startswith("# Part II — F1 score"))
    for r in comp["rows"]:
        assert f"| {r['f1']['winner'] or '—'} |" in table


# --- Part I: lists of runs named in a sentence ----------------------------------------------------

def test_not_learned_sentence_lists_six_and_counts_the_rest():
    spec = []
    for i in range(8):
        task = f"t{i}"
        spec += [(task, "full_ft", "full_ft", 90.0), (task, "bitfit", "bitfit", 50.0)]
    s = F.methods_summary(rows(spec, n_eval=1000))
    (o,) = [o for o in s["observations"] if o["id"] == "not_learned_runs"]
    assert len(o["data"]["runs"]) == 8 and len(o["data"]["listed"]) == 6 and o["data"]["n_unlisted"] == 2
    text = str(sentences().observation(o, {}))
    assert text.count("BITFIT on") == 6 and text.endswith(", and others (8 in all).")


# --- the wider study: every decision made by interval or every one by the tolerance ----------------

def test_fraction_and_rank_verdicts_say_whether_every_call_had_an_interval(tmp_path):
    from synthetic_cells import wider_config, write_results
    from peftdeck import aggregate

    cfg = wider_config("ranks", "fractions", core=False)
    write_results(cfg, tmp_path)
    df, missing = aggregate.collect(cfg, root=tmp_path)
    summary = aggregate.build_summary(df, missing, cfg)
    for part in ("fractions", "lora_ranks"):
        for f in summary[part]["findings"]:
            if f["id"] in ("fraction_verdict", "rank_vs_reference"):
                assert f["data"]["all_ci"] == (f["data"]["decided_by"] == ["ci"])


def test_level_and_share_filters():
    assert deck.fmt_level(0.95) == "95%" and deck.fmt_level(0.05) == "5%" and deck.fmt_level(None) == "—"
    assert deck.fmt_share(0.1) == "10%" and deck.fmt_share(0.125) == "12.5%" and deck.fmt_share(None) == "—"


# --- long tables are split across slides, never cut ------------------------------------------------

def _many_methods(glue, n):
    methods = []
    for i in range(n):
        m = copy.deepcopy(glue["methods"][i % len(glue["methods"])])
        m["label"] = f"Method {i:02d}"
        methods.append(m)
    return methods


def test_summary_and_extra_tables_keep_every_method(tmp_path):
    summary = summary_for(tmp_path)
    summary["glue"]["methods"] = _many_methods(summary["glue"], 12)
    summary["extra"] = [{"name": "more", "kind": "methods", "data": copy.deepcopy(summary["glue"])}]
    md = render(summary)
    pages = slides(md)
    summary_pages = [s for s in pages if s.lstrip().startswith("# Summary")]
    extra_pages = [s for s in pages if "# Experiment `more`" in s]
    assert [p.strip().splitlines()[0] for p in summary_pages] == ["# Summary (1/2)", "# Summary (2/2)"]
    assert len(extra_pages) == 2
    for i in range(12):
        assert sum(f"| Method {i:02d} |" in p for p in summary_pages) == 1
        assert sum(f"| Method {i:02d} |" in p for p in extra_pages) == 1
    assert "The first" not in md


def test_every_part_one_conclusion_is_shown(tmp_path):
    summary = summary_for(tmp_path)
    glue_c = [c for c in summary["conclusions"] if c["part"] == "glue"]
    assert len(glue_c) > 5  # the synthetic data give more than fit on one slide
    md = render(summary)
    pages = [s for s in slides(md) if s.lstrip().startswith("<!-- _class: dense -->\n# Conclusions (")]
    assert len(pages) == 2
    assert sum(p.count("\n- ") for p in pages) == len(glue_c) + len([c for c in summary["conclusions"]
                                                                      if c["part"] == "squad"])


def test_fraction_rows_and_missing_cells_are_split(tmp_path):
    from synthetic_cells import wider_config, write_results
    from peftdeck import aggregate

    cfg = wider_config("fractions", core=False)
    write_results(cfg, tmp_path, skip=lambda c: c.seed == 3)
    df, missing = aggregate.collect(cfg, allow_missing=True, root=tmp_path)
    summary = aggregate.build_summary(df, missing, cfg)
    t = summary["fractions"]["per_task"][0]
    t["rows"] = [copy.deepcopy(t["rows"][i % len(t["rows"])]) for i in range(13)]
    md = render(summary)
    label = summary["tasks"][t["task"]]["label"]
    pages = [s for s in slides(md) if f"# Training fraction — {label} (" in s]
    assert len(pages) == 2 and sum(p.count("\n| ") - 1 for p in pages) == 13  # less the header row of each
    n_missing = summary["missing"]["count"]
    missing_pages = [s for s in slides(md) if "# Missing cells" in s]
    assert n_missing > 24 and len(missing_pages) == -(-n_missing // 12)
