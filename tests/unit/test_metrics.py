"""Metrics against hand-computed values and the official SQuAD v1.1 definitions."""
from __future__ import annotations

import math

import numpy as np
import pytest

from peftdeck import metrics as M


# --- classification --------------------------------------------------------------------------


def test_accuracy_percent():
    assert M.accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == pytest.approx(50.0)
    assert M.accuracy(np.array([2, 2]), np.array([2, 2])) == 100.0


def test_binary_f1_hand_computed():
    # tp=2 fp=1 fn=1 -> 2*2 / (2*2 + 1 + 1)
    assert M.binary_f1([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]) == pytest.approx(400 / 6)
    # positive class is 1 even when 0 is predicted perfectly
    assert M.binary_f1([0, 0, 1], [0, 0, 0]) == 0.0
    # no positives anywhere: defined as 0, not NaN
    assert M.binary_f1([0, 0], [0, 0]) == 0.0


def test_matthews_hand_computed_and_degenerate():
    # tp=1 tn=2 fp=0 fn=1 -> (1*2 - 0*1) / sqrt(1 * 2 * 2 * 3)
    assert M.matthews([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(100 * 2 / math.sqrt(12))
    assert M.matthews([1, 0, 1, 0], [1, 0, 1, 0]) == pytest.approx(100.0)
    assert M.matthews([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-100.0)
    # a constant predictor carries no information
    assert M.matthews([1, 0, 1, 1], [1, 1, 1, 1]) == 0.0


def test_matthews_matches_sklearn_multiclass():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    p[:80] = y[:80]
    assert M.matthews(y, p) == pytest.approx(100 * sklearn_metrics.matthews_corrcoef(y, p))


def test_length_mismatch_and_empty_raise():
    with pytest.raises(ValueError, match="length mismatch"):
        M.accuracy([1, 0], [1])
    with pytest.raises(ValueError, match="empty"):
        M.binary_f1([], [])


# --- correlations --------------------------------------------------------------------------


def test_pearson_hand_computed():
    # x-mean = [-1, 0, 1], y-mean = [-1, -1, 2] -> 3 / sqrt(2 * 6)
    assert M.pearson([1, 2, 3], [1, 1, 4]) == pytest.approx(100 * 3 / math.sqrt(12))
    assert M.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(100.0)
    assert M.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-100.0)


def test_correlations_undefined_are_zero():
    assert M.pearson([1, 2, 3], [2.7, 2.7, 2.7]) == 0.0
    assert M.spearman([1, 2, 3], [2.7, 2.7, 2.7]) == 0.0
    assert M.pearson([1, 2, 3], [1, np.nan, 3]) == 0.0


def test_spearman_averages_ties():
    # ranks: x -> [1, 2.5, 2.5, 4], y -> [1, 3, 2, 4]
    expected = np.corrcoef([1, 2.5, 2.5, 4], [1, 3, 2, 4])[0, 1] * 100
    assert M.spearman([10, 20, 20, 30], [0.1, 0.5, 0.3, 0.9]) == pytest.approx(expected)
    # monotone but non-linear: rank correlation is perfect, Pearson is not
    x = np.arange(1, 8, dtype=float)
    assert M.spearman(x, x**3) == pytest.approx(100.0)
    assert M.pearson(x, x**3) < 100.0


def test_spearman_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    x = rng.integers(0, 6, 300).astype(float)
    y = x + rng.normal(0, 2, 300).round(0)
    assert M.spearman(x, y) == pytest.approx(100 * stats.spearmanr(x, y)[0])
    assert M.pearson(x, y) == pytest.approx(100 * stats.pearsonr(x, y)[0])


# --- SQuAD v1.1 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, normalised",
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  a   cat\tand\nAN owl ", "cat and owl"),
        ("U.S. (Army)!", "us army"),
        ("theatre thematic", "theatre thematic"),  # articles only as whole words
        ("the-end", "theend"),  # punctuation goes first, so no article is left to drop
        ("", ""),
    ],
)
def test_normalize_answer(raw, normalised):
    assert M.normalize_answer(raw) == normalised


def test_exact_match_edge_cases():
    assert M.squad_exact_match("the Eiffel Tower.", ["Eiffel Tower"]) == 1.0
    assert M.squad_exact_match("Eiffel  tower", "eiffel tower") == 1.0
    assert M.squad_exact_match("Eiffel", ["Eiffel Tower"]) == 0.0
    # max over several gold answers
    assert M.squad_exact_match("Denver Broncos", ["Broncos", "Denver Broncos", "Denver"]) == 1.0
    assert M.squad_exact_match("", ["Denver"]) == 0.0


def test_f1_edge_cases():
    # pred tokens [big, red, dog], gold [red, dog, barked]: p = r = 2/3
    assert M.squad_f1("The big red dog", ["red dog barked"]) == pytest.approx(2 / 3)
    # best over gold answers: second gold gives p = 1, r = 1/2 -> 2/3; third is exact
    assert M.squad_f1("red dog", ["cat", "red dog barked loudly", "a red dog"]) == pytest.approx(1.0)
    assert M.squad_f1("red dog", ["cat", "red dog barked loudly"]) == pytest.approx(2 / 3)
    # repeated tokens count once per occurrence
    assert M.squad_f1("dog dog", ["dog"]) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert M.squad_f1("", ["Denver"]) == 0.0
    # official v1.1 quirk: a gold answer that normalises to nothing matches an empty prediction
    # exactly but has no tokens to share, so F1 stays 0
    assert M.squad_exact_match("", ["The"]) == 1.0
    assert M.squad_f1("", ["The"]) == 0.0


def test_squad_evaluate_averages_over_questions_and_counts_missing_as_zero():
    refs = {"q1": ["Denver Broncos"], "q2": ["Santa Clara", "Levi's Stadium"], "q3": ["gold"]}
    preds = {"q1": "the Denver Broncos", "q2": "Stadium"}  # q3 unanswered
    out = M.squad_evaluate(refs, preds)
    assert set(out) == {"exact_match", "f1"}
    assert out["exact_match"] == pytest.approx(100 / 3)
    # q2: "stadium" vs "levis stadium" -> p = 1, r = 1/2 -> 2/3
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0) / 3)
    with pytest.raises(ValueError):
        M.squad_evaluate({}, {})
