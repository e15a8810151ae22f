"""Bootstrap intervals for differences between methods: cases small enough to enumerate by hand."""
from __future__ import annotations

import numpy as np
import pytest

from peftdeck import deck
from peftdeck import findings as F


# --- the interval of a mean --------------------------------------------------------------------

def test_identical_scores_give_a_zero_interval():
    same = {1: 90.0, 2: 91.5, 3: 89.25}
    c = F.compare_scores(same, dict(same))
    assert c["paired"] and c["ci"] == [0.0, 0.0] and c["delta"] == 0.0
    assert c["outcome"] == "ties" and c["decided_by"] == "ci"
    # Unpaired (different seeds), identical values on both sides: still [0, 0].
    c = F.compare_scores({1: 80.0, 2: 80.0, 3: 80.0}, {7: 80.0, 8: 80.0, 9: 80.0})
    assert not c["paired"] and c["ci"] == [0.0, 0.0]


def test_three_values_enumerated_by_hand():
    # Resamples of (0, 3, 6): 27 equally likely triples; their mean is 0, 1, ..., 6 with counts
    # 1, 3, 6, 7, 6, 3, 1 (sums of three draws from {0, 1, 2}, times 3, over 3).
    # CDF: 1/27, 4/27, 10/27, 17/27, 23/27, 26/27, 1.
    # 80%: lower = first value with CDF >= 0.10 -> 1; upper, from the top -> 5.
    assert F.bootstrap_mean_ci([0.0, 3.0, 6.0], level=0.80) == (1.0, 5.0)
    # 95%: CDF(0) = 0.037 >= 0.025 -> lower 0; upper 6.
    assert F.bootstrap_mean_ci([0.0, 3.0, 6.0], level=0.95) == (0.0, 6.0)
    # 50%: CDF(2) = 0.37 >= 0.25 -> lower 2; upper 4.
    assert F.bootstrap_mean_ci([0.0, 3.0, 6.0], level=0.50) == (2.0, 4.0)


def test_two_values_enumerated_by_hand():
    # (1, 3): resample means 1, 2, 2, 3 -> P = 1/4, 1/2, 1/4.
    assert F.bootstrap_mean_ci([1.0, 3.0], level=0.50) == (1.0, 3.0)  # tails of 25%: CDF(1) = 0.25
    assert F.bootstrap_mean_ci([1.0, 3.0], level=0.40) == (2.0, 2.0)  # tails of 30%: CDF(1) < 0.30


def test_unpaired_difference_enumerated_by_hand():
    # Reference (0, 0) always averages 0; the challenger (1, 3) averages 1, 2, 2, 3: 16 equally likely pairs.
    assert F.bootstrap_diff_ci([0.0, 0.0], [1.0, 3.0], level=0.95) == (1.0, 3.0)
    assert F.bootstrap_diff_ci([0.0, 0.0], [1.0, 3.0], level=0.40) == (2.0, 2.0)
    # Both sides vary: (0, 2) vs (0, 2): differences of two means in {0, 1, 2} (P 1/4, 1/2, 1/4 each):
    # -2 with P 1/16; 95% keeps 2.5% tails -> the extremes -2 and +2 stay inside.
    assert F.bootstrap_diff_ci([0.0, 2.0], [0.0, 2.0], level=0.95) == (-2.0, 2.0)
    # 80% (10% tails): P(<= -2) = 1/16 < 0.1, P(<= -1) = 5/16 -> lower -1; upper +1.
    assert F.bootstrap_diff_ci([0.0, 2.0], [0.0, 2.0], level=0.80) == (-1.0, 1.0)


def test_monte_carlo_path_is_fixed_and_close_to_the_exact_one():
    values = [0.3, -1.2, 2.5, 0.8, 1.1]  # 5**5 = 3,125 resamples: enumerated with the default budget
    exact = F.bootstrap_mean_ci(values)
    mc = F.bootstrap_mean_ci(values, n_resamples=2000)  # below 3,125: drawn at random
    assert mc == F.bootstrap_mean_ci(values, n_resamples=2000)  # the RNG seed is fixed
    assert mc[0] == pytest.approx(exact[0], abs=0.15) and mc[1] == pytest.approx(exact[1], abs=0.15)
    assert mc[0] <= np.mean(values) <= mc[1]
    # Seven seeds (7**7 > 10,000): random resamples; constant differences still give a point interval.
    assert F.bootstrap_mean_ci([0.5] * 7) == (0.5, 0.5)


def test_bad_input():
    with pytest.raises(ValueError):
        F.bootstrap_mean_ci([float("nan")])
    with pytest.raises(ValueError):
        F.bootstrap_diff_ci([], [1.0])


# --- from intervals to wins and losses ---------------------------------------------------------------

def test_win_only_when_the_interval_excludes_zero():
    ref = {1: 80.0, 2: 81.0, 3: 82.0}
    # Paired differences (1, 2, 2): every resample mean lies in [1, 2]; 1 has P 1/27 >= 2.5%.
    c = F.compare_scores(ref, {1: 81.0, 2: 83.0, 3: 84.0})
    assert c["paired"] and c["ci"] == [1.0, 2.0] and c["outcome"] == "wins"
    assert c["delta"] == pytest.approx(5 / 3)
    # Differences (-1, 3, 3): mean +1.67, beyond the 1-point tolerance, but the interval [-1, 3]
    # includes zero: no clear difference.
    c = F.compare_scores(ref, {1: 79.0, 2: 84.0, 3: 85.0})
    assert c["ci"] == [-1.0, 3.0] and c["outcome"] == "ties" and c["decided_by"] == "ci"
    assert F.signed_outcome(c["delta"]) == "wins"  # what the tolerance rule alone would have said
    # All differences negative: a loss.
    c = F.compare_scores(ref, {1: 78.0, 2: 80.0, 3: 80.5})
    assert c["ci"][1] < 0 and c["outcome"] == "loses"


def test_too_few_seeds_fall_back_to_the_tolerance_rule():
    c = F.compare_scores({1: 80.0, 2: 81.0}, {1: 83.0, 2: 84.0})
    assert c["ci"] is None and c["decided_by"] == "tolerance" and c["outcome"] == "wins"
    c = F.compare_scores({42: 80.0}, {42: 80.5})
    assert c["outcome"] == "ties" and c["delta"] == pytest.approx(0.5)
    assert F.compare_scores({}, {1: 1.0})["outcome"] is None


def test_different_seeds_are_compared_unpaired():
    c = F.compare_scores({1: 80.0, 2: 80.0, 3: 80.0}, {4: 81.0, 5: 82.0, 6: 83.0})
    assert not c["paired"] and c["outcome"] == "wins"
    # Challenger means of 27 resamples of (81, 82, 83) range over [81, 83]; the reference is constant.
    assert c["ci"] == [1.0, 3.0]


def test_entries_with_collapsed_runs_are_not_compared():
    ok = {"mean": 80.0, "collapsed": False, "seeds": {"1": 80.0, "2": 80.0, "3": 80.0}}
    bad = {**ok, "collapsed": True}
    assert F.compare_entries(ok, bad) is None and F.compare_entries(None, ok) is None
    assert F.compare_entries(ok, ok)["ci"] == [0.0, 0.0]


def test_deck_wording():
    win = {"delta": 1.5, "ci": [0.5, 2.0], "outcome": "wins", "decided_by": "ci"}
    tie = {"delta": 1.5, "ci": [-0.5, 2.0], "outcome": "ties", "decided_by": "ci"}
    tol = {"delta": -2.0, "ci": None, "outcome": "loses", "decided_by": "tolerance"}
    assert deck.fmt_ci(win) == "+1.50 [+0.50, +2.00]" and deck.fmt_ci(tol) == "-2.00"
    assert deck.fmt_verdict(win) == "clearly ahead" and deck.fmt_verdict(tie) == "no clear difference"
    assert deck.fmt_verdict(tol, 1.0) == "behind by > 1" and deck.fmt_verdict(None) == "—"
