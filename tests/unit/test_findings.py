"""Hand-computed cases for every claim the deck can make."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from peftdeck import findings as F


def rows(spec, experiment="glue", **common):
    """Build a tidy frame from (task, method, kind, score[, extra dict]) tuples."""
    out = []
    for item in spec:
        task, method, kind, score, *extra = item
        row = {"experiment": experiment, "task": task, "method": method, "method_label": method.upper(),
               "method_kind": kind, "train_size": "all", "n_train": 1000, "n_eval": 100, "schedule": "ep3",
               "lr": 1e-3, "batch_size": 16, "seed": 42, "primary_metric": "accuracy", "accuracy": score,
               "primary": score, "baseline_accuracy": 50.0, "collapsed": False, "trainable_params": 100,
               "total_params": 1000, "trainable_pct": 10.0, "peak_memory_bytes": 1000.0,
               "memory_kind": "cuda_max_allocated", "train_flops": 10.0, "train_s": 1.0, "steps": 10,
               "missing": False, "path": f"{task}/{method}/{len(out)}"}
        row.update(common)
        if extra:
            row.update(extra[0])
        out.append(row)
    return pd.DataFrame(out)


def obs(summary, oid):
    return [o for o in summary["observations"] if o["id"] == oid]


# --- mean and std ---------------------------------------------------------------------------------

def test_mean_std_single_seed_has_no_std():
    assert F.mean_std([80.0]) == {"mean": 80.0, "std": None, "n": 1}


def test_mean_std_sample_std_over_seeds():
    r = F.mean_std([1.0, 2.0, 3.0, float("nan"), None])
    assert r["mean"] == pytest.approx(2.0)
    assert r["std"] == pytest.approx(1.0)  # sample std (ddof=1) of 1, 2, 3
    assert r["n"] == 3


def test_mean_std_empty():
    assert F.mean_std([]) == {"mean": None, "std": None, "n": 0}


def test_seed_entry_in_table():
    df = rows([("sst2", "full_ft", "full_ft", 90.0, {"seed": 1}), ("sst2", "full_ft", "full_ft", 92.0, {"seed": 2}),
               ("sst2", "bitfit", "bitfit", 85.0, {"seed": 1}), ("sst2", "bitfit", "bitfit", 85.0, {"seed": 2})])
    s = F.methods_summary(df)
    ref = next(m for m in s["methods"] if m["method"] == "full_ft")
    e = ref["scores"]["sst2"]
    assert e["mean"] == pytest.approx(91.0)
    assert e["std"] == pytest.approx(math.sqrt(2.0))
    assert e["n"] == 2 and s["multi_seed"]


# --- part I -------------------------------------------------------------------------------------

def test_best_per_task_and_percent_of_full_ft():
    df = rows([
        ("sst2", "full_ft", "full_ft", 90.0), ("rte", "full_ft", "full_ft", 60.0),
        ("sst2", "lora", "lora", 91.0), ("rte", "lora", "lora", 54.0),
        ("sst2", "bitfit", "bitfit", 81.0), ("rte", "bitfit", "bitfit", 57.0),
    ], n_eval=1000)  # 1,000 evaluation examples: 54% against a 50% majority rate is learned (p = 0.006)
    s = F.methods_summary(df)
    assert s["reference"] == "full_ft"
    assert s["task_info"]["sst2"]["best"]["method"] == "lora"
    assert s["task_info"]["rte"]["best"]["method"] == "full_ft"
    by = {m["method"]: m for m in s["methods"]}
    # LoRA: (91/90 + 54/60) / 2 * 100 = (1.01111 + 0.9) / 2 * 100
    assert by["lora"]["pct_of_reference"] == pytest.approx((91 / 90 + 54 / 60) / 2 * 100)
    assert by["bitfit"]["pct_of_reference"] == pytest.approx((81 / 90 + 57 / 60) / 2 * 100)
    assert by["full_ft"]["pct_of_reference"] == pytest.approx(100.0)
    assert by["lora"]["average"] == pytest.approx(72.5)
    # Table order: reference first, then by average.
    assert [m["method"] for m in s["methods"]] == ["full_ft", "lora", "bitfit"]
    # The sentence "LoRA matches or beats Full FT on SST-2" is supported; BitFit's is not.
    beats = {o["data"]["method"]: o for o in obs(s, "matches_or_beats_reference")}
    assert beats["lora"]["supported"] and beats["lora"]["data"]["tasks"] == ["sst2"]
    assert not beats["bitfit"]["supported"]
    assert not obs(s, "reference_best_everywhere")[0]["supported"]
    # Share of Full FT's gain over the majority baseline (50): LoRA (41/40 + 4/10) / 2 = 71.25%,
    # BitFit (31/40 + 7/10) / 2 = 73.75%: BitFit keeps more of the gain although its % of the
    # score is lower, because LoRA learned little of RTE.
    assert by["lora"]["gain_share"] == pytest.approx((41 / 40 + 4 / 10) / 2 * 100)
    assert by["bitfit"]["gain_share"] == pytest.approx((31 / 40 + 7 / 10) / 2 * 100)
    assert by["full_ft"]["gain_share"] == pytest.approx(100.0)
    closest = obs(s, "closest_to_reference")[0]
    assert closest["supported"] and closest["data"]["label"] == "BITFIT"
    assert closest["data"]["gain_share"] == pytest.approx(73.75)
    assert closest["data"]["pct_of_reference"] == pytest.approx((81 / 90 + 57 / 60) / 2 * 100)
    gap = obs(s, "gap_by_task")[0]["data"]
    assert gap["largest_task"] == "rte" and gap["largest_gap"] == pytest.approx(3.0)
    assert gap["smallest_task"] == "sst2" and gap["smallest_other_ahead"]


def test_reference_best_everywhere_supported_only_when_true():
    df = rows([("sst2", "full_ft", "full_ft", 90.0), ("sst2", "bitfit", "bitfit", 80.0),
               ("rte", "full_ft", "full_ft", 70.0), ("rte", "bitfit", "bitfit", 60.0)])
    s = F.methods_summary(df)
    assert obs(s, "reference_best_everywhere")[0]["supported"]
    assert not obs(s, "matches_or_beats_reference")[0]["supported"]


def test_reference_is_not_called_best_where_nothing_else_learned():
    # SST-2: a real comparison. MRPC: every other run collapsed. RTE: the best run is at the baseline.
    df = rows([("sst2", "full_ft", "full_ft", 77.0), ("sst2", "lora", "lora", 75.0),
               ("mrpc", "full_ft", "full_ft", 70.0), ("mrpc", "lora", "lora", 68.0, {"collapsed": True}),
               ("rte", "full_ft", "full_ft", 50.0), ("rte", "lora", "lora", 49.0)])
    s = F.methods_summary(df)
    o = obs(s, "reference_best_everywhere")[0]
    assert o["supported"]
    assert o["data"]["tasks"] == ["sst2"] and o["data"]["not_compared"] == ["mrpc", "rte"]
    # With no task where the methods can be compared there is no claim at all.
    s = F.methods_summary(df[df["task"] != "sst2"])
    assert not obs(s, "reference_best_everywhere")[0]["supported"]


def test_differences_to_the_reference_only_where_both_learned():
    # Three seeds on 100 examples against a 50% majority rate. SST-2: both learned (80-82 vs 75-77),
    # so LoRA's difference gets its interval and is a loss. RTE: every run sits at 50-52, which the
    # one-sided test cannot tell from the majority class: no difference is reported, although the
    # seeds alone would call LoRA's +1 "clearly ahead".
    spec = []
    for seed, (ff, lo) in enumerate([(80.0, 75.0), (81.0, 76.0), (82.0, 77.0)], start=1):
        spec += [("sst2", "full_ft", "full_ft", ff, {"seed": seed}), ("sst2", "lora", "lora", lo, {"seed": seed})]
    for seed, (ff, lo) in enumerate([(50.0, 51.0), (50.0, 51.0), (51.0, 52.0)], start=1):
        spec += [("rte", "full_ft", "full_ft", ff, {"seed": seed}), ("rte", "lora", "lora", lo, {"seed": seed})]
    s = F.methods_summary(rows(spec))
    lora = next(m for m in s["methods"] if m["method"] == "lora")
    sst2 = lora["vs_reference"]["sst2"]
    assert sst2["delta"] == pytest.approx(-5.0) and sst2["outcome"] == "loses" and sst2["decided_by"] == "ci"
    assert lora["vs_reference"]["rte"] is None
    assert lora["not_learned_tasks"] == ["rte"]


def test_a_task_learned_in_some_runs_only_counts_them():
    # RTE on 100 examples against a 50% majority: Full FT's seeds at 60 (P(X >= 60) = 0.028, learned)
    # and 55 (not), BitFit's at 52 and 51 (not): no method learned it in every run, 1 run of 4 did.
    spec = [("rte", "full_ft", "full_ft", 60.0, {"seed": 1}), ("rte", "full_ft", "full_ft", 55.0, {"seed": 2}),
            ("rte", "bitfit", "bitfit", 52.0, {"seed": 1}), ("rte", "bitfit", "bitfit", 51.0, {"seed": 2}),
            ("sst2", "full_ft", "full_ft", 80.0, {"seed": 1}), ("sst2", "full_ft", "full_ft", 81.0, {"seed": 2}),
            ("sst2", "bitfit", "bitfit", 76.0, {"seed": 1}), ("sst2", "bitfit", "bitfit", 77.0, {"seed": 2})]
    near = obs(F.methods_summary(rows(spec)), "tasks_near_baseline")[0]
    assert near["supported"] and near["data"]["some_runs_learned"]
    (rte,) = near["data"]["tasks"]
    assert (rte["task"], rte["runs_learned"], rte["runs"]) == ("rte", 1, 4)


def test_tasks_at_the_baseline_carry_no_claims():
    # RTE: 51 and 50 correct of 100 against a 50% majority rate: indistinguishable from guessing.
    df = rows([("sst2", "full_ft", "full_ft", 80.0), ("sst2", "bitfit", "bitfit", 76.0),
               ("rte", "full_ft", "full_ft", 50.0), ("rte", "bitfit", "bitfit", 51.0)])
    s = F.methods_summary(df)
    near = obs(s, "tasks_near_baseline")[0]
    assert near["supported"] and [x["task"] for x in near["data"]["tasks"]] == ["rte"]
    assert near["data"]["tasks"][0]["best"] == pytest.approx(51.0)
    # Runs that did not learn stay out of the averages: BitFit's % of Full FT is SST-2's alone,
    # marked incomplete, and so is its average.
    by = {m["method"]: m for m in s["methods"]}
    assert by["bitfit"]["pct_of_reference"] == pytest.approx(95.0)
    assert not by["bitfit"]["pct_of_reference_complete"]
    assert by["bitfit"]["average"] == pytest.approx(76.0) and not by["bitfit"]["average_complete"]
    assert by["bitfit"]["not_learned_tasks"] == ["rte"]
    assert by["bitfit"]["scores"]["rte"]["status"] == "not_learned"
    # The claims use SST-2 only: no "BitFit beats Full FT on RTE".
    assert not {o["data"]["method"]: o for o in obs(s, "matches_or_beats_reference")}["bitfit"]["supported"]
    closest = obs(s, "closest_to_reference")[0]["data"]
    assert closest["pct_of_reference"] == pytest.approx(95.0) and closest["over_tasks"] == ["sst2"]
    assert closest["gain_share"] == pytest.approx(26 / 30 * 100)
    assert obs(s, "reference_best_everywhere")[0]["data"]["tasks"] == ["sst2"]
    # The test, by hand: P(X >= 60 | n=100, p=0.5) = 0.028 < 0.05 is learned; P(X >= 58) = 0.067 is not.
    df2 = rows([("rte", "full_ft", "full_ft", 60.0), ("rte", "bitfit", "bitfit", 58.0)])
    s2 = F.methods_summary(df2)
    assert not obs(s2, "tasks_near_baseline")[0]["supported"]
    by2 = {m["method"]: m for m in s2["methods"]}
    assert by2["full_ft"]["scores"]["rte"]["status"] == "learned"
    assert by2["bitfit"]["scores"]["rte"]["status"] == "not_learned"
    run = obs(s2, "not_learned_runs")[0]["data"]["runs"][0]
    assert run["label"] == "BITFIT" and run["p_value"] == pytest.approx(0.0666, abs=5e-4)


def test_collapsed_run_is_flagged_and_excluded_from_who_wins():
    df = rows([
        ("rte", "full_ft", "full_ft", 60.0),
        ("rte", "prompt", "prompt_tuning", 65.0, {"collapsed": True}),  # would "win" if counted
        ("rte", "bitfit", "bitfit", 58.0),
    ], n_eval=1000)
    s = F.methods_summary(df)
    best = s["task_info"]["rte"]["best"]
    assert best["method"] == "full_ft"
    assert best["excluded"] == ["PROMPT"]
    by = {m["method"]: m for m in s["methods"]}
    assert by["prompt"]["scores"]["rte"]["collapsed"]
    assert by["prompt"]["collapsed_tasks"] == ["rte"]
    assert by["prompt"]["pct_of_reference"] is None  # no usable task left
    assert not {o["data"]["method"]: o for o in obs(s, "matches_or_beats_reference")}["prompt"]["supported"]
    runs = obs(s, "not_learned_runs")[0]
    assert runs["supported"] and [(r["method"], r["status"]) for r in runs["data"]["runs"]] == [("prompt", "collapsed")]


def test_no_reference_means_no_relative_claims():
    df = rows([("sst2", "lora", "lora", 91.0), ("sst2", "bitfit", "bitfit", 80.0)])
    s = F.methods_summary(df)
    assert s["reference"] is None
    assert all(m["pct_of_reference"] is None for m in s["methods"])
    assert not any(o["supported"] for o in s["observations"]
                   if o["id"] in ("reference_best_everywhere", "closest_to_reference", "memory_savings"))


def test_memory_and_flops_relative_to_full_ft():
    df = rows([
        ("sst2", "full_ft", "full_ft", 90.0, {"peak_memory_bytes": 2000.0, "train_flops": 30.0}),
        ("rte", "full_ft", "full_ft", 60.0, {"peak_memory_bytes": 4000.0, "train_flops": 30.0}),
        ("sst2", "bitfit", "bitfit", 85.0, {"peak_memory_bytes": 1000.0, "train_flops": 20.0}),
        ("rte", "bitfit", "bitfit", 55.0, {"peak_memory_bytes": 3000.0, "train_flops": 10.0}),
    ])
    s = F.methods_summary(df)
    b = next(m for m in s["methods"] if m["method"] == "bitfit")
    assert b["memory"]["ratio"] == pytest.approx((0.5 + 0.75) / 2)
    assert b["memory"]["value"] == pytest.approx(2000.0)
    assert b["flops"]["ratio"] == pytest.approx((20 / 30 + 10 / 30) / 2)
    mem = obs(s, "memory_savings")[0]
    assert mem["supported"] and mem["data"]["min"] == pytest.approx(0.625)
    assert not obs(s, "memory_not_lower")[0]["supported"]


def test_memory_claim_not_made_when_peft_uses_more():
    df = rows([("sst2", "full_ft", "full_ft", 90.0, {"peak_memory_bytes": 1000.0}),
               ("sst2", "lora", "lora", 85.0, {"peak_memory_bytes": 1100.0})])
    s = F.methods_summary(df)
    assert not obs(s, "memory_savings")[0]["supported"]
    assert obs(s, "memory_not_lower")[0]["data"]["labels"] == ["LORA"]


def test_missing_cells_are_marked_and_average_withheld():
    df = rows([("sst2", "full_ft", "full_ft", 90.0), ("rte", "full_ft", "full_ft", 60.0),
               ("sst2", "lora", "lora", 88.0),
               ("rte", "lora", "lora", float("nan"), {"missing": True, "primary": float("nan")})])
    s = F.methods_summary(df)
    lora = next(m for m in s["methods"] if m["method"] == "lora")
    assert lora["scores"]["rte"]["missing"]
    assert lora["missing_tasks"] == ["rte"]
    assert lora["average"] == pytest.approx(88.0) and not lora["average_complete"]
    assert lora["pct_of_reference"] == pytest.approx(88 / 90 * 100)
    assert not lora["pct_of_reference_complete"]


def test_best_learning_rate_is_selected():
    df = rows([("sst2", "full_ft", "full_ft", 90.0),
               ("sst2", "bitfit", "bitfit", 70.0, {"lr": 1e-4}), ("sst2", "bitfit", "bitfit", 86.0, {"lr": 1e-3})])
    s = F.methods_summary(df)
    e = next(m for m in s["methods"] if m["method"] == "bitfit")["scores"]["sst2"]
    assert e["mean"] == 86.0 and e["n_settings"] == 2 and e["setting"]["lr"] == 1e-3


def test_below_baseline_observation():
    df = rows([("mrpc", "full_ft", "full_ft", 88.0), ("mrpc", "prompt", "prompt_tuning", 80.0)],
              baseline_accuracy=81.2)
    s = F.methods_summary(df)
    o = obs(s, "not_learned_runs")[0]
    assert o["supported"] and o["data"]["runs"][0]["label"] == "PROMPT"
    assert o["data"]["runs"][0]["status"] == "not_learned" and o["data"]["runs"][0]["baseline"] == 81.2


# --- part II ------------------------------------------------------------------------------------

def test_crossover_interpolates_on_log_size():
    # +10 at 1,000 and -10 at 4,000: zero half-way in log space, sqrt(1000 * 4000) = 2000.
    r = F.crossover([500, 1000, 4000, 8000], [12.0, 10.0, -10.0, -11.0])
    assert r["supported"]
    assert r["n"] == pytest.approx(2000.0)
    assert (r["lower"], r["upper"]) == (1000.0, 4000.0)
    assert r["direction"] == "challenger_then_reference"


def test_crossover_unequal_deltas():
    # +5 at 1,000, -15 at 10,000: log10 n = 3 + 5/20 * 1 = 3.25
    r = F.crossover([1000, 10000], [5.0, -15.0])
    assert r["n"] == pytest.approx(10 ** 3.25)


def test_crossover_at_an_exact_zero_and_reverse_direction():
    r = F.crossover([100, 200, 400], [-3.0, 0.0, 4.0])
    assert r["n"] == pytest.approx(200.0) and r["direction"] == "reference_then_challenger"


def test_no_crossover_when_the_sign_never_changes():
    assert F.crossover([100, 1000, 10000], [-1.0, -5.0, -9.0]) == {
        "supported": False, "n": None, "lower": None, "upper": None, "direction": None}
    assert not F.crossover([100], [3.0])["supported"]


def test_regime_table_with_tolerance():
    sizes = [500, 1000, 2000, 3000, 5000]
    deltas = [9.8, 5.2, -0.7, -4.6, -11.2]
    reg = F.regime_table(sizes, deltas, tolerance=1.0)
    assert [(r["outcome"], r["sizes"]) for r in reg] == [
        ("wins", [500, 1000]), ("ties", [2000]), ("loses", [3000, 5000])]
    assert reg[0]["delta_min"] == pytest.approx(5.2) and reg[0]["delta_max"] == pytest.approx(9.8)
    assert reg[0]["is_first"] and reg[-1]["is_last"] and not reg[1]["is_first"]
    # A wider tolerance turns the 1,000 result into a tie too.
    assert [r["outcome"] for r in F.regime_table(sizes, deltas, tolerance=6.0)] == ["wins", "ties", "loses"]


def test_hypothesis_verdicts():
    assert F.hypothesis_small_data(["wins", "ties", "loses"])["verdict"] == "partial"
    assert F.hypothesis_small_data(["wins", "ties"])["verdict"] == "holds"
    assert F.hypothesis_small_data(["loses", "wins"])["verdict"] == "rejected"
    assert not F.hypothesis_small_data([None])["supported"]


def squad_rows(deltas, experiment="squad", sched="st150x2", bitfit_shift=0.0, steps=(150, 150)):
    spec = []
    for (size, n), d in deltas.items():
        ft = 40.0 + n / 100.0
        for method, kind, f1, st in (("full_ft", "full_ft", ft, steps[0]), ("bitfit", "bitfit", ft + d + bitfit_shift, steps[1])):
            spec.append(("squad", method, kind, f1 - 10, {
                "train_size": size, "n_train": n, "schedule": sched, "f1": f1, "exact_match": f1 - 10,
                "primary_metric": "exact_match", "accuracy": float("nan"), "baseline_accuracy": float("nan"),
                "steps": st}))
    return rows(spec, experiment=experiment)


def test_size_sweep_deltas_regimes_and_crossover():
    df = squad_rows({(500, 500): 10.0, (2000, 2000): -0.5, ("all", 8000): -10.0})
    s = F.size_sweep(df, tolerance=1.0)
    assert s["reference"] == "full_ft" and s["metrics"] == ["f1", "exact_match"]
    comp = s["comparisons"][0]
    assert comp["method"] == "bitfit"
    assert [r["f1"]["delta"] for r in comp["rows"]] == pytest.approx([10.0, -0.5, -10.0])
    assert [r["f1"]["outcome"] for r in comp["rows"]] == ["wins", "ties", "loses"]
    assert comp["rows"][-1]["n_train"] == 8000 and comp["rows"][-1]["is_all"]
    # Sign changes between 500 (+10) and 2,000 (-0.5): log n = log 500 + 10/10.5 * log 4
    assert comp["crossover"]["f1"]["n"] == pytest.approx(500 * 4 ** (10 / 10.5))
    assert comp["hypothesis"]["f1"]["verdict"] == "partial"
    assert [g["outcome"] for g in comp["regimes"]["f1"]] == ["wins", "ties", "loses"]
    assert comp["regimes"]["f1"][-1]["first_n"] == 8000


def test_schedule_comparison_epochs_vs_steps():
    steps = squad_rows({(100, 100): 5.0, (1000, 1000): -2.0})
    epochs = squad_rows({(100, 100): -8.0, (1000, 1000): -6.0}, experiment="squad_epochs", sched="ep2", steps=(13, 13))
    c = F.schedule_comparison(steps, epochs)
    assert [r["train_size"] for r in c["rows"]] == [100, 1000]
    assert c["rows"][0]["schedules"]["epochs"]["deltas"]["bitfit"]["f1"] == pytest.approx(-8.0)
    assert c["rows"][0]["schedules"]["steps"]["deltas"]["bitfit"]["f1"] == pytest.approx(5.0)
    widen = next(f for f in c["findings"] if f["id"] == "epochs_schedule_widens_gap" and f["metric"] == "f1")
    assert widen["supported"]
    assert widen["data"]["mean_delta_epochs"] == pytest.approx(-7.0)
    assert widen["data"]["mean_delta_steps"] == pytest.approx(1.5)
    fewer = next(f for f in c["findings"] if f["id"] == "epochs_schedule_fewer_steps")
    assert fewer["supported"] and fewer["data"]["steps_epochs"] == 13


def test_schedule_comparison_not_made_without_shared_sizes():
    steps = squad_rows({(100, 100): 5.0})
    epochs = squad_rows({(1000, 1000): -6.0}, experiment="squad_epochs", sched="ep2")
    assert F.schedule_comparison(steps, epochs) is None
    assert F.schedule_comparison(steps, steps.iloc[0:0]) is None


def test_conclusions_only_supported_claims():
    df = rows([("sst2", "full_ft", "full_ft", 90.0), ("sst2", "bitfit", "bitfit", 80.0)])
    glue = F.methods_summary(df)
    squad = F.size_sweep(squad_rows({(100, 100): -3.0, (1000, 1000): -5.0}))
    out = F.conclusions(glue, squad)
    assert all(o["supported"] for o in out)
    ids = [o["id"] for o in out]
    assert "matches_or_beats_reference" not in ids  # BitFit is behind: no such sentence
    assert "crossover" not in ids  # the sign never changes
    hyp = next(o for o in out if o["id"] == "hypothesis")
    assert hyp["data"]["verdict"] == "rejected"


def test_clean_makes_json_safe():
    out = F.clean({"a": float("nan"), "b": [1, float("inf")], "c": pd.NA})
    assert out == {"a": None, "b": [1, None], "c": None}


def test_small_data_extent_when_outcomes_go_up_and_down():
    sizes = [{"train_size": n, "n_train": n} for n in (100, 300, 1000, 3000)]
    # tie, lose, tie, tie: "matches or beats up to 100", falls behind at 300, level again at 1,000;
    # never "falls behind with more", since it is level at the largest size.
    e = F.small_data_extent(sizes, ["ties", "loses", "ties", "ties"], [0.5, -3.0, 0.2, -0.4])
    assert e["holds_up_to"]["train_size"] == 100
    assert e["first_loss"]["train_size"] == 300 and e["first_loss_delta"] == -3.0
    assert e["level_again"]["train_size"] == 1000 and e["behind_at_largest"] is False
    e = F.small_data_extent(sizes, ["wins", "ties", "loses", "loses"], [3.0, 0.5, -2.0, -4.0])
    assert e["holds_up_to"]["train_size"] == 300 and e["first_loss"]["train_size"] == 1000
    assert e["level_again"] is None and e["behind_at_largest"] is True
    e = F.small_data_extent(sizes, ["wins", None, "ties", "wins"], [3.0, None, 0.5, 2.0])
    assert e["holds_up_to"]["train_size"] == 3000 and e["first_loss"] is None


def test_pareto_front_by_hand():
    # (score, cost): B dominates D (higher and cheaper); A is cheapest; C scores highest.
    pts = {"A": (80.0, 1.0), "B": (85.0, 10.0), "C": (90.0, 100.0), "D": (84.0, 20.0), "E": (85.0, 10.0)}
    assert sorted(F.pareto_front(pts)) == ["A", "B", "C", "E"]  # equal points do not dominate each other
    assert F.pareto_front({"A": (80.0, 1.0)}) == ["A"]


def test_pareto_fronts_leave_out_runs_that_did_not_learn():
    df = rows([("sst2", "full_ft", "full_ft", 90.0, {"peak_memory_bytes": 1000.0, "train_s": 10.0}),
               ("sst2", "lora", "lora", 88.0, {"peak_memory_bytes": 400.0, "train_s": 8.0, "trainable_params": 10}),
               ("sst2", "bitfit", "bitfit", 86.0, {"peak_memory_bytes": 500.0, "train_s": 12.0, "trainable_params": 5}),
               # cheapest of all, but at the baseline: not a choice worth offering
               ("sst2", "prompt", "prompt_tuning", 50.0, {"peak_memory_bytes": 100.0, "train_s": 1.0})])
    s = F.methods_summary(df)
    mem = s["pareto"]["tasks"]["sst2"]["peak_memory_bytes"]
    assert mem["front"] == ["lora", "full_ft"] and mem["dominated_labels"] == ["BITFIT"]
    assert "prompt" not in mem["points"]
    params = s["pareto"]["tasks"]["sst2"]["trainable_params"]
    # By trainable parameters every learned method is on the front: each step up in cost buys score.
    assert params["front"] == ["bitfit", "lora", "full_ft"]
    assert obs(s, "pareto_memory")[0]["data"]["tasks"] == [{"task": "sst2", "front": ["LORA", "FULL_FT"],
                                                           "dominated": ["BITFIT"]}]


def test_storage_for_one_and_a_hundred_tasks():
    df = rows([("sst2", "full_ft", "full_ft", 90.0, {"task_bytes": 400.0, "base_model_bytes": 400.0}),
               ("sst2", "lora", "lora", 88.0, {"task_bytes": 4.0, "base_model_bytes": 400.0})])
    s = F.methods_summary(df)
    by = {m["method"]: m["storage"] for m in s["methods"]}
    assert by["full_ft"]["tasks"] == {"1": 400.0, "100": 40_000.0}  # a whole model per task
    assert by["lora"]["tasks"] == {"1": 404.0, "100": 800.0}  # the base once, then 4 bytes a task
    assert by["lora"]["ratio"] == pytest.approx(0.01)
    assert s["has_storage"] and s["storage_base_model_bytes"] == 400.0


def _right(start, stop, n=100):
    return "".join("1" if start <= i < stop else "0" for i in range(n))


def test_seeds_that_recorded_their_examples_are_judged_together():
    # RTE on 100 examples against a 50% majority. Full FT's seeds at 60, 55 and 56 on partly
    # different examples: only the first passes alone (P(X >= 60) = 0.028; 55 and 56: 0.18, 0.14),
    # the three together do (mean 57.0, pooled p = 0.043). BitFit's seeds at 52 and 51 on the same
    # examples: not learned either way. SST-2 carries no per-example record: each run alone decides.
    spec = [("rte", "full_ft", "full_ft", 60.0, {"seed": 1, "correct": _right(0, 60)}),
            ("rte", "full_ft", "full_ft", 55.0, {"seed": 2, "correct": _right(10, 65)}),
            ("rte", "full_ft", "full_ft", 56.0, {"seed": 3, "correct": _right(20, 76)}),
            ("rte", "bitfit", "bitfit", 52.0, {"seed": 1, "correct": _right(0, 52)}),
            ("rte", "bitfit", "bitfit", 51.0, {"seed": 2, "correct": _right(0, 51)}),
            ("rte", "bitfit", "bitfit", 51.0, {"seed": 3, "correct": _right(0, 51)}),
            ("sst2", "full_ft", "full_ft", 80.0, {"seed": 1}), ("sst2", "full_ft", "full_ft", 81.0, {"seed": 2}),
            ("sst2", "full_ft", "full_ft", 80.0, {"seed": 3}),
            ("sst2", "bitfit", "bitfit", 76.0, {"seed": 1}), ("sst2", "bitfit", "bitfit", 77.0, {"seed": 2}),
            ("sst2", "bitfit", "bitfit", 55.0, {"seed": 3})]
    s = F.methods_summary(rows(spec))
    by = {m["method"]: m for m in s["methods"]}
    ft, bf = by["full_ft"]["scores"]["rte"], by["bitfit"]["scores"]["rte"]
    assert ft["pooled_test"]["p_value"] == pytest.approx(0.0433, abs=1e-4)
    assert not ft["not_learned"] and ft["status"] == "learned" and ft["n_not_learned"] == 2
    assert bf["pooled_test"]["p_value"] > 0.3 and bf["not_learned"]
    # SST-2 BitFit: seed 3 at 55 fails alone (P(X >= 55) = 0.18) and there is no pooled test.
    assert "pooled_test" not in by["bitfit"]["scores"]["sst2"] and by["bitfit"]["scores"]["sst2"]["not_learned"]
    assert by["full_ft"]["not_learned_tasks"] == [] and by["bitfit"]["not_learned_tasks"] == ["rte", "sst2"]
    # RTE is learned (by Full FT), so it is not a task near the baseline; the deck says on what evidence.
    near = obs(s, "tasks_near_baseline")[0]
    assert not near["supported"] and near["data"]["tasks"] == []
    together = obs(s, "learned_together")[0]
    assert together["supported"]
    (entry,) = together["data"]["entries"]
    assert (entry["task"], entry["method"], entry["runs"], entry["runs_passed"]) == ("rte", "full_ft", 3, 1)
    assert entry["score"] == pytest.approx(57.0) and entry["lower"] > 50.0
    # Full FT's seeds that failed alone are no longer listed as left out; BitFit's are.
    left_out = {(r["task"], r["method"], r["seed"]) for r in s["not_learned_runs"]}
    assert not any(m == "full_ft" for _, m, _ in left_out)
    assert {("rte", "bitfit", 1), ("rte", "bitfit", 2), ("rte", "bitfit", 3), ("sst2", "bitfit", 3)} == left_out


def test_a_collapsed_seed_still_rules_out_a_pooled_entry():
    spec = [("rte", "full_ft", "full_ft", 60.0, {"seed": 1, "correct": _right(0, 60)}),
            ("rte", "full_ft", "full_ft", 58.0, {"seed": 2, "correct": _right(30, 88)}),
            ("rte", "full_ft", "full_ft", 50.0, {"seed": 3, "correct": _right(0, 50), "collapsed": True})]
    entry = F.methods_summary(rows(spec))["methods"][0]["scores"]["rte"]
    assert entry["pooled_test"]["learned"]  # the test alone would pass
    assert entry["collapsed"] and entry["status"] == "collapsed" and entry["not_learned"]
