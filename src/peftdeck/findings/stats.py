"""Seeds: percentile bootstrap intervals for differences to the reference, and the win/tie/lose call.

A difference to the reference is called a win or a loss only when the percentile bootstrap interval
of the difference (seeds resampled, paired by seed where both sides ran the same seeds) excludes
zero; with fewer than `CI_MIN_SEEDS` seeds per side there is no interval, and a difference within
`TIE_TOLERANCE` points counts as a tie.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._common import TIE_TOLERANCE, _finite, _usable

# Seeds: percentile bootstrap intervals for differences to the reference.
CI_LEVEL = 0.95
CI_RESAMPLES = 10_000
CI_SEED = 12_345  # fixed: the same scores always give the same interval
CI_MIN_SEEDS = 3  # per side; with fewer seeds there is no interval and TIE_TOLERANCE decides


def _mean_distribution(values: Sequence[float], n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The bootstrap distribution of the mean of `values`.

    With n values there are n**n equally likely ordered resamples; when that is at most n_resamples
    every one is enumerated (exact), otherwise n_resamples are drawn at random.
    """
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n ** n <= n_resamples:
        idx = np.array(list(itertools.product(range(n), repeat=n)), dtype=np.int64).reshape(-1, n)
    else:
        idx = rng.integers(0, n, size=(n_resamples, n))
    return v[idx].mean(axis=1)


def _percentile_interval(stats: np.ndarray, level: float) -> tuple[float, float]:
    """Lower: the smallest value whose share of the distribution at or below it reaches (1-level)/2;
    upper: the same from the top. Both are values the bootstrap actually produced."""
    tail = (1.0 - level) / 2.0
    lo = float(np.quantile(stats, tail, method="inverted_cdf"))
    hi = -float(np.quantile(-stats, tail, method="inverted_cdf"))
    return round(lo, 10), round(hi, 10)


def bootstrap_mean_ci(values: Sequence[float], level: float = CI_LEVEL, n_resamples: int = CI_RESAMPLES,
                      seed: int = CI_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (e.g. of per-seed paired differences)."""
    vals = [float(v) for v in values if _finite(v)]
    if not vals:
        raise ValueError("bootstrap_mean_ci needs at least one finite value")
    return _percentile_interval(_mean_distribution(vals, n_resamples, np.random.default_rng(seed)), level)


def bootstrap_diff_ci(reference: Sequence[float], challenger: Sequence[float], level: float = CI_LEVEL,
                      n_resamples: int = CI_RESAMPLES, seed: int = CI_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(challenger) - mean(reference), the two resampled independently.

    Exact (every pair of resamples) when n1**n1 * n2**n2 <= n_resamples, else n_resamples random pairs.
    """
    a = [float(v) for v in challenger if _finite(v)]
    b = [float(v) for v in reference if _finite(v)]
    if not a or not b:
        raise ValueError("bootstrap_diff_ci needs finite values on both sides")
    rng = np.random.default_rng(seed)
    if len(a) ** len(a) * len(b) ** len(b) <= n_resamples:
        da = _mean_distribution(a, n_resamples, rng)
        db = _mean_distribution(b, n_resamples, rng)
        stats = (da[:, None] - db[None, :]).ravel()
    else:
        ia = rng.integers(0, len(a), size=(n_resamples, len(a)))
        ib = rng.integers(0, len(b), size=(n_resamples, len(b)))
        stats = np.asarray(a)[ia].mean(axis=1) - np.asarray(b)[ib].mean(axis=1)
    return _percentile_interval(stats, level)


def compare_scores(reference: Mapping[Any, float], challenger: Mapping[Any, float],
                   tolerance: float = TIE_TOLERANCE, level: float = CI_LEVEL,
                   min_seeds: int = CI_MIN_SEEDS) -> dict[str, Any]:
    """Challenger minus reference, from per-seed scores ({seed: score} on each side).

    With at least `min_seeds` seeds on each side: a percentile bootstrap interval (paired by seed
    when both sides ran the same seeds, else the two sides resampled independently); the outcome
    is `wins`/`loses` only when the interval excludes zero, `ties` otherwise (decided_by `ci`).
    With fewer seeds: no interval; the difference of the means against `tolerance` decides
    (decided_by `tolerance`).
    """
    ref = {str(k): float(v) for k, v in reference.items() if _finite(v)}
    ch = {str(k): float(v) for k, v in challenger.items() if _finite(v)}
    out: dict[str, Any] = {"delta": None, "ci": None, "level": level, "n_reference": len(ref),
                           "n_challenger": len(ch), "paired": False, "outcome": None, "decided_by": None}
    if not ref or not ch:
        return out
    delta = float(np.mean(list(ch.values())) - np.mean(list(ref.values())))
    out["delta"] = delta
    if min(len(ref), len(ch)) >= min_seeds:
        if set(ref) == set(ch):
            keys = sorted(ref)
            lo, hi = bootstrap_mean_ci([ch[k] - ref[k] for k in keys], level=level)
            out["paired"] = True
        else:
            lo, hi = bootstrap_diff_ci(list(ref.values()), list(ch.values()), level=level)
        out["ci"] = [lo, hi]
        out["outcome"] = "wins" if lo > 0 else ("loses" if hi < 0 else "ties")
        out["decided_by"] = "ci"
    else:
        out["outcome"] = signed_outcome(delta, tolerance)
        out["decided_by"] = "tolerance"
    return out


def compare_entries(reference: dict[str, Any] | None, challenger: dict[str, Any] | None,
                    metric: str | None = None, tolerance: float = TIE_TOLERANCE) -> dict[str, Any] | None:
    """compare_scores on two score entries (primary score, or `metric`); None unless both are usable."""
    if not (_usable(reference) and _usable(challenger)):
        return None
    if metric is None:
        return compare_scores(reference.get("seeds") or {}, challenger.get("seeds") or {}, tolerance)
    return compare_scores((reference.get("seed_metrics") or {}).get(metric) or {},
                          (challenger.get("seed_metrics") or {}).get(metric) or {}, tolerance)


def signed_outcome(delta: float | None, tolerance: float = TIE_TOLERANCE) -> str | None:
    """`wins` / `ties` / `loses` for challenger - reference = delta (points)."""
    if delta is None or not _finite(delta):
        return None
    if delta > tolerance:
        return "wins"
    if delta < -tolerance:
        return "loses"
    return "ties"


def _comparison_sentence_data(comp: dict[str, Any] | None) -> dict[str, Any]:
    comp = comp or {}
    return {"delta": comp.get("delta"), "ci": comp.get("ci"), "outcome": comp.get("outcome"),
            "decided_by": comp.get("decided_by")}
