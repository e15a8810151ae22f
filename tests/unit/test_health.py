"""Run health by hand: the baseline tests, the loss trend and the verdict on a cell."""
from __future__ import annotations

import math

import pytest

from peftdeck import health as H


def test_binomial_tail_by_hand():
    assert H.binomial_sf(3, 3, 0.5) == pytest.approx(0.125)
    assert H.binomial_sf(2, 3, 0.5) == pytest.approx(0.5)  # 3/8 + 1/8
    assert H.binomial_sf(0, 10, 0.3) == 1.0 and H.binomial_sf(11, 10, 0.3) == 0.0
    # P(X >= 60 | 100, 0.5) = 0.028444 (sum of C(100, k) / 2^100 for k >= 60)
    exact = sum(math.comb(100, k) for k in range(60, 101)) / 2 ** 100
    assert H.binomial_sf(60, 100, 0.5) == pytest.approx(exact, rel=1e-9)
    assert exact == pytest.approx(0.028444, abs=1e-6)
    # Large n stays finite and exact in log space: 872 examples at 50.9% majority.
    p = H.binomial_sf(460, 872, 0.509)
    assert 0.0 < p < 1.0


def test_accuracy_test_against_the_majority_rate():
    # MRPC-like: 68.4% majority; 68.5% of 408 examples is not evidence of learning.
    assert H.accuracy_test(68.5, 408, 68.4) > 0.4
    # 60 of 100 against 50%: learned at 5%; 58 of 100: not (p = 0.067).
    assert H.accuracy_test(60.0, 100, 50.0) < 0.05
    assert H.accuracy_test(58.0, 100, 50.0) == pytest.approx(0.0666, abs=5e-4)
    # Below the baseline: p near 1.
    assert H.accuracy_test(40.0, 100, 50.0) > 0.95


def test_correlation_tests():
    # MCC 0.2 on 100 examples: z = 0.2 * sqrt(100) = 2, P(Z >= 2) = 0.02275.
    assert H.matthews_test(20.0, 100) == pytest.approx(0.02275, abs=1e-5)
    assert H.matthews_test(0.0, 100) == 0.5 and H.matthews_test(-5.0, 100) == 1.0
    # Pearson 0.3 on 28 pairs: z = atanh(0.3) * 5 = 1.5476, P(Z >= z) = 0.0609.
    assert H.correlation_test(30.0, 28) == pytest.approx(0.0609, abs=2e-4)
    assert H.correlation_test(80.0, 100) < 1e-10


def test_baseline_test_picks_the_metric_the_task_has():
    acc = H.baseline_test({"accuracy": 70.0, "f1": 80.0}, {"accuracy": 68.4, "f1": 81.2}, 408)
    assert acc["test"] == "binomial" and acc["metric"] == "accuracy" and not acc["learned"]
    mcc = H.baseline_test({"matthews": 30.0}, {"matthews": 0.0}, 1043)
    assert mcc["metric"] == "matthews" and mcc["learned"]
    r = H.baseline_test({"pearson": -3.0, "spearman": 1.0}, {"pearson": float("nan")}, 1500)
    assert r["metric"] == "pearson" and not r["learned"]
    assert H.baseline_test({"f1": 80.0, "exact_match": 70.0}, None, 300) is None  # QA: nothing to test against
    assert H.baseline_test({"accuracy": 90.0}, {"accuracy": 50.0}, None) is None


def test_loss_trend():
    assert H.loss_trend([[5, 0.69], [10, 0.40], [15, 0.20]])["trend"] == "falling"
    assert H.loss_trend([[5, 0.693], [10, 0.690], [15, 0.694]])["trend"] == "stalled"
    t = H.loss_trend([[5, 0.7], [10, 12.0], [15, 333.7]])
    assert t["trend"] == "diverged" and t["start"] == 0.7 and t["end"] == 333.7
    nan = H.loss_trend([[5, 0.7], [10, float("nan")]], float("nan"))
    assert nan["trend"] == "diverged" and not nan["finite"]
    assert H.loss_trend([], None)["trend"] is None


def _cell(acc, collapsed=False, curve=((5, 0.69), (10, 0.3))):
    return {"task": {"n_eval": 400}, "metrics": {"accuracy": acc}, "baseline": {"accuracy": 50.0},
            "predictions": {"collapsed": collapsed},
            "compute": {"train_loss_curve": [list(p) for p in curve], "final_train_loss": curve[-1][1]}}


def test_run_health_verdicts_and_their_order():
    assert H.run_health(_cell(80.0))["status"] == "learned"
    assert H.run_health(_cell(51.0))["status"] == "not_learned"
    assert H.run_health(_cell(50.0, collapsed=True))["status"] == "collapsed"
    # A diverged loss wins over everything else: its fix (a lower learning rate) comes first.
    assert H.run_health(_cell(50.0, collapsed=True, curve=((5, 0.7), (10, 333.7))))["status"] == "diverged"
    v = H.run_health(_cell(51.0))
    assert v["test"]["p_value"] > 0.3 and v["loss"]["trend"] == "falling"


def test_a_real_run_at_an_absurd_learning_rate_is_called_diverged(tmp_path):
    """A tiny BERT trained at learning rate 50: the loss leaves ln 2 for the hundreds, the cell is
    still written (a loss that is not finite is written as null), and the verdict is 'diverged'."""
    transformers = pytest.importorskip("transformers")
    from bench_inputs import cell_spec, generated_sst2, tokenizer_files, word_vocab
    from peftdeck.train import run_cell

    data = generated_sst2(tmp_path / "sst2", 64, 32, 42)
    vocab = word_vocab(data)
    folder = tmp_path / "bert"
    folder.mkdir()
    transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                            vocab_size=len(vocab), pad_token_id=0).save_pretrained(folder)
    tokenizer_files(folder, vocab, None)
    spec = cell_spec(folder, "random", data, "full_ft", lr=50.0, batch_size=8, epochs=3, seed=42, max_length=32,
                     eval_batch_size=16, threads=1)
    result = run_cell(spec, str(tmp_path / "metrics.json"), log=lambda _m: None)
    verdict = H.run_health(result)
    assert verdict["status"] == "diverged"
    assert verdict["loss"]["start"] < 1.0 and (verdict["loss"]["end"] is None or verdict["loss"]["end"] > 10.0)


def _right(start, stop, n=100):
    """A run's per-example correctness: right on examples start..stop-1 of n."""
    return "".join("1" if start <= i < stop else "0" for i in range(n))


def test_pooled_accuracy_test_by_hand():
    # Two seeds on 100 examples, right on the first 60 and the first 56: each example's share of
    # right seeds is 1 (56 examples), 0.5 (4) or 0 (40); mean 0.58; the squared deviations sum to
    # 56 * 0.42^2 + 4 * 0.08^2 + 40 * 0.58^2 = 23.36, so sd = sqrt(23.36 / 99) = 0.48576 and
    # z = 0.08 / (0.48576 / 10) = 1.6469: P(Z >= z) = 0.0498, just under 5%.
    test = H.pooled_accuracy_test([_right(0, 60), _right(0, 56)], 50.0)
    assert test["score"] == pytest.approx(58.0)
    assert test["p_value"] == pytest.approx(H.normal_sf(0.08 / (math.sqrt(23.36 / 99) / 10)))
    assert test["p_value"] == pytest.approx(0.0498, abs=1e-4) and test["learned"]
    assert (test["runs"], test["n"], test["against"]) == (2, 100, 50.0)
    # The one-sided lower bound is above the majority rate exactly when the test passes.
    assert test["lower"] == pytest.approx(58.0 - H.Z_ONE_SIDED * 100 * math.sqrt(23.36 / 99) / 10)
    assert test["lower"] > 50.0
    # Seeds at 52 and 51: far from it.
    low = H.pooled_accuracy_test([_right(0, 52), _right(0, 51)], 50.0)
    assert not low["learned"] and low["p_value"] > 0.3 and low["lower"] < 50.0


def test_pooled_test_counts_examples_not_runs():
    # Three seeds at 58 of 100 each. Right on the same 58 examples, they are one piece of evidence
    # (about what one run at 58 gives: p = 0.053 here, 0.067 by the exact binomial test); right on
    # different examples, their mean is steadier and clearly above 50%.
    same = H.pooled_accuracy_test([_right(0, 58)] * 3, 50.0)
    spread = H.pooled_accuracy_test([_right(0, 58), _right(21, 79), _right(42, 100)], 50.0)
    assert same["score"] == pytest.approx(58.0) and spread["score"] == pytest.approx(58.0)
    assert not same["learned"] and same["p_value"] == pytest.approx(0.0534, abs=5e-4)
    assert spread["learned"] and spread["p_value"] < 0.001


def test_pooled_test_needs_comparable_runs():
    assert H.pooled_accuracy_test([_right(0, 60)], 50.0) is None  # one run: the run's own test
    assert H.pooled_accuracy_test([_right(0, 60), _right(0, 60, n=99)], 50.0) is None  # other examples
    assert H.pooled_accuracy_test([_right(0, 60), "2" * 100], 50.0) is None
    assert H.pooled_accuracy_test([_right(0, 20, n=29)] * 2, 50.0) is None  # too few for the normal law
    assert H.pooled_accuracy_test([_right(0, 60), None], 50.0) is None
    assert H.pooled_accuracy_test([_right(0, 60), _right(0, 60), None], 50.0) is None  # not two of three
