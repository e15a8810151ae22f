"""Did a run learn? The health of one training run, judged from its cell result alone.

Three verdicts, each computed here and nowhere else:

- **diverged**: the training loss is not finite somewhere, or the last part of the run ends clearly
  above where it started (`DIVERGED_RATIO`). The fix is nearly always a lower learning rate.
- **collapsed**: a classifier that predicts one class for at least 99% of the evaluation set (flagged
  by the task when the cell is scored).
- **not learned**: the score is statistically indistinguishable from what a constant predictor gets
  for free, by a one-sided test at level `ALPHA`:
  accuracy against the majority-class rate (exact binomial test: could a coin that lands on
  "correct" with the majority rate have produced this many correct answers?), Matthews correlation
  against 0 (n * MCC^2 is chi-square with one degree of freedom under independence) and Pearson
  correlation against 0 (Fisher's z with n - 3 degrees of freedom). Question answering has no
  constant baseline and is never "not learned" by this test.

Several seeds of one setting are judged together where every run recorded which evaluation examples
it got right (`pooled_accuracy_test`): the entry a table shows is their mean, and the test asks
whether that mean, over the same examples, is above the majority rate. One seed alone may miss a
small lead that three seeds together show (RTE's 277 dev pairs need 57.8% for one run to pass).

A run that is any of these stays out of averages and claims; the deck says which and why.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

ALPHA = 0.05  # one-sided level of the "learned" test
Z_ONE_SIDED = 1.6448536269514722  # the standard normal quantile at 1 - ALPHA
DIVERGED_RATIO = 1.05  # final loss above this multiple of the starting loss: diverged
STALLED_RATIO = 0.95  # final loss above this multiple of the starting loss: the loss barely moved

STATUSES = ("learned", "not_learned", "collapsed", "diverged")


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in log space."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
            for i in range(k, n + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


def normal_sf(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def accuracy_test(accuracy_pct: float, n: int, majority_pct: float) -> float:
    """One-sided p-value of 'accuracy is no better than always answering the majority class'."""
    k = int(round(accuracy_pct / 100.0 * n))
    return binomial_sf(k, n, majority_pct / 100.0)


def matthews_test(mcc_pct: float, n: int) -> float:
    """One-sided p-value of 'no positive association' from a Matthews correlation (in percent)."""
    r = mcc_pct / 100.0
    if r <= 0:
        return 1.0 if r < 0 else 0.5
    return normal_sf(r * math.sqrt(n))


def correlation_test(r_pct: float, n: int) -> float:
    """One-sided p-value of 'Pearson correlation <= 0' by Fisher's z transformation."""
    r = max(-0.999999, min(0.999999, r_pct / 100.0))
    if n <= 3:
        return 1.0
    return normal_sf(math.atanh(r) * math.sqrt(n - 3))


def pooled_accuracy_test(correct: Sequence[str], majority_pct: float) -> dict[str, Any] | None:
    """One-sided test of several runs (seeds) of one setting together against the majority-class rate.

    `correct` holds one string per run, one character per evaluation example in the same order, "1"
    where the run was right (a cell's `predictions.correct`). Each example's share of runs that got it
    right, c_i, is averaged into the runs' mean accuracy A; under "these runs are no better than the
    majority class" the mean of the c_i is at most the majority rate p0, and with n examples drawn
    from the task, z = (A - p0) / (sd(c) / sqrt(n)) is approximately standard normal (n >= 30). The
    examples are the unit of sampling, so runs that agree on the same examples count as one piece of
    evidence, not several; seeds that disagree make the mean steadier than any one run.

    Returns {"test", "metric", "score", "against", "p_value", "learned", "runs", "n", "lower"}
    (lower: the one-sided lower confidence bound of A at level 1 - ALPHA, in percent, above the
    majority rate exactly when the test passes), or None with fewer than two runs, strings of
    different lengths or other characters, or fewer than 30 examples.
    """
    if not all(isinstance(c, str) and c for c in correct):
        return None  # a run without its record: the runs cannot be judged together
    runs = list(correct)
    if len(runs) < 2 or len({len(c) for c in runs}) != 1 or len(runs[0]) < 30 or not _finite(majority_pct):
        return None
    if any(set(c) - {"0", "1"} for c in runs):
        return None
    n = len(runs[0])
    share = [sum(c[i] == "1" for c in runs) / len(runs) for i in range(n)]
    mean = sum(share) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in share) / (n - 1))
    p0 = float(majority_pct) / 100.0
    se = sd / math.sqrt(n)
    if se > 0:
        p = normal_sf((mean - p0) / se)
    else:
        p = 0.0 if mean > p0 else 1.0
    return {"test": "pooled z", "metric": "accuracy", "score": 100.0 * mean, "against": float(majority_pct),
            "p_value": p, "learned": p < ALPHA, "runs": len(runs), "n": n,
            "lower": 100.0 * (mean - Z_ONE_SIDED * se)}


def baseline_test(metrics: Mapping[str, Any], baseline: Mapping[str, Any] | None,
                  n_eval: Any) -> dict[str, Any] | None:
    """The test a run's scores allow, as {"test", "metric", "score", "against", "p_value", "learned"}.

    None when there is nothing to test against (question answering, or scores missing).
    """
    if not _finite(n_eval) or int(n_eval) <= 0:
        return None
    n = int(n_eval)
    baseline = baseline or {}
    if _finite(metrics.get("accuracy")) and _finite(baseline.get("accuracy")):
        p = accuracy_test(float(metrics["accuracy"]), n, float(baseline["accuracy"]))
        out = {"test": "binomial", "metric": "accuracy", "score": float(metrics["accuracy"]),
               "against": float(baseline["accuracy"]), "p_value": p}
    elif _finite(metrics.get("matthews")):
        p = matthews_test(float(metrics["matthews"]), n)
        out = {"test": "chi-square (MCC)", "metric": "matthews", "score": float(metrics["matthews"]),
               "against": 0.0, "p_value": p}
    elif _finite(metrics.get("pearson")):
        p = correlation_test(float(metrics["pearson"]), n)
        out = {"test": "Fisher z", "metric": "pearson", "score": float(metrics["pearson"]),
               "against": 0.0, "p_value": p}
    else:
        return None
    out["learned"] = p < ALPHA
    return out


def loss_trend(curve: Sequence[Sequence[float]] | None, final_loss: Any = None) -> dict[str, Any]:
    """Start and end of a training-loss curve ([step, mean loss] bins) and what they say.

    `trend` is `diverged` (a non-finite loss, or the end above DIVERGED_RATIO x the start),
    `stalled` (the end above STALLED_RATIO x the start), `falling`, or None without a curve.
    """
    points = [(p[0], p[1]) for p in (curve or []) if p is not None and len(p) >= 2]
    out: dict[str, Any] = {"start": None, "end": None, "trend": None, "finite": True}
    if not points and final_loss is None:
        return out
    values = [v for _, v in points]
    finite = all(_finite(v) for v in values) and (final_loss is None or _finite(final_loss))
    out["finite"] = finite
    # Start: the first bin; end: the last bin (each the mean over about a twentieth of the run).
    out["start"] = float(values[0]) if values and _finite(values[0]) else None
    out["end"] = float(values[-1]) if values and _finite(values[-1]) else None
    if not finite:
        out["trend"] = "diverged"
    elif out["start"] is None or out["end"] is None:
        out["trend"] = None
    elif out["end"] > DIVERGED_RATIO * out["start"]:
        out["trend"] = "diverged"
    elif out["end"] > STALLED_RATIO * out["start"]:
        out["trend"] = "stalled"
    else:
        out["trend"] = "falling"
    return out


def run_health(cell: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict on one cell result (the parsed metrics.json).

    {"status": learned|not_learned|collapsed|diverged, "test": baseline_test(...) or None,
     "loss": loss_trend(...)}; the worst verdict wins: diverged, then collapsed, then not learned.
    """
    compute = cell.get("compute") or {}
    loss = loss_trend(compute.get("train_loss_curve"), compute.get("final_train_loss"))
    test = baseline_test(cell.get("metrics") or {}, cell.get("baseline"), (cell.get("task") or {}).get("n_eval"))
    collapsed = bool((cell.get("predictions") or {}).get("collapsed", False))
    if loss["trend"] == "diverged":
        status = "diverged"
    elif collapsed:
        status = "collapsed"
    elif test is not None and not test["learned"]:
        status = "not_learned"
    else:
        status = "learned"
    return {"status": status, "test": test, "loss": loss}
