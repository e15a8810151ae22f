"""Evaluation metrics, numpy only, every score in percent (0-100).

These are the offline implementations the pipeline relies on: nothing here downloads metric
scripts at run time. Undefined correlations (a constant input, or non-finite values) score 0.0,
the convention scikit-learn uses for MCC, so a collapsed model reads as "no signal" instead of
turning a whole results table into NaN.

The SQuAD part follows the official v1.1 evaluation script's definitions: answers are normalised
(lower case, punctuation dropped, articles a/an/the dropped, whitespace collapsed), each prediction
takes its best exact-match and token-F1 over the gold answers, and questions without a prediction
count as 0.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "accuracy",
    "binary_f1",
    "matthews",
    "pearson",
    "spearman",
    "normalize_answer",
    "squad_exact_match",
    "squad_f1",
    "squad_evaluate",
    "LABEL_METRICS",
    "SCORE_METRICS",
]


def _pair(y_true, y_pred, kind=None) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=kind).reshape(-1)
    b = np.asarray(y_pred, dtype=kind).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {a.shape[0]} references vs {b.shape[0]} predictions")
    if a.size == 0:
        raise ValueError("cannot score an empty set of predictions")
    return a, b


def accuracy(y_true, y_pred) -> float:
    a, b = _pair(y_true, y_pred)
    return float(np.mean(a == b) * 100.0)


def binary_f1(y_true, y_pred, positive=1) -> float:
    """F1 of the positive class; 0.0 when neither references nor predictions contain it."""
    a, b = _pair(y_true, y_pred)
    tp = int(np.sum((a == positive) & (b == positive)))
    fp = int(np.sum((a != positive) & (b == positive)))
    fn = int(np.sum((a == positive) & (b != positive)))
    denom = 2 * tp + fp + fn
    return float(200.0 * tp / denom) if denom else 0.0


def matthews(y_true, y_pred) -> float:
    """Matthews correlation (multi-class form of Gorodkin 2004), times 100.

    A constant prediction or a constant reference leaves it undefined; that scores 0.0.
    """
    a, b = _pair(y_true, y_pred)
    classes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = classes.size
    ia, ib = inverse[: a.size], inverse[a.size :]
    confusion = np.zeros((k, k), dtype=np.float64)
    np.add.at(confusion, (ia, ib), 1.0)
    n = confusion.sum()
    correct = np.trace(confusion)
    true_totals = confusion.sum(axis=1)
    pred_totals = confusion.sum(axis=0)
    numerator = correct * n - float(true_totals @ pred_totals)
    denominator = np.sqrt((n * n - float(pred_totals @ pred_totals)) * (n * n - float(true_totals @ true_totals)))
    if denominator == 0.0:
        return 0.0
    return float(100.0 * numerator / denominator)


def pearson(x, y) -> float:
    a, b = _pair(x, y, np.float64)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return 0.0
    # Test constancy on the raw values: after centring, rounding leaves tiny non-zero residues
    # that would turn "undefined" into noise.
    if np.all(a == a[0]) or np.all(b == b[0]):
        return 0.0
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt(float(a @ a) * float(b @ b))
    if denom == 0.0:
        return 0.0
    # Rounding can push a perfect correlation a hair past 1.
    return float(np.clip(float(a @ b) / denom, -1.0, 1.0) * 100.0)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts_group = np.empty(x.size, dtype=bool)
    starts_group[0] = True
    starts_group[1:] = ordered[1:] != ordered[:-1]
    group = np.cumsum(starts_group) - 1
    first = np.flatnonzero(starts_group)
    last = np.append(first[1:], x.size) - 1
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = ((first + last) / 2.0 + 1.0)[group]
    return ranks


def spearman(x, y) -> float:
    a, b = _pair(x, y, np.float64)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return 0.0
    return pearson(_average_ranks(a), _average_ranks(b))


# Metrics over discrete predictions (argmax of logits) and over real-valued scores; tasks look
# their metric names up here.
LABEL_METRICS = {"accuracy": accuracy, "f1": binary_f1, "matthews": matthews}
SCORE_METRICS = {"pearson": pearson, "spearman": spearman}


# --- SQuAD v1.1 -------------------------------------------------------------------------------

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    # The order matters and is the official one: punctuation goes before articles, so "the-end"
    # becomes "theend" and keeps its "the".
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _as_answers(gold) -> list[str]:
    if isinstance(gold, str):
        return [gold]
    return list(gold)


def squad_exact_match(prediction: str, gold: str | Iterable[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in _as_answers(gold)))


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    overlap = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    # v1.1 has no special case for empty answers: no shared token means 0, even if both are empty.
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 2.0 * precision * recall / (precision + recall)


def squad_f1(prediction: str, gold: str | Iterable[str]) -> float:
    """Best bag-of-tokens F1 (0-1) of the prediction against any gold answer."""
    pred_tokens = normalize_answer(prediction).split()
    return max((_token_f1(pred_tokens, normalize_answer(g).split()) for g in _as_answers(gold)), default=0.0)


def squad_evaluate(references: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> dict[str, float]:
    """Official-style SQuAD v1.1 score over every referenced question, in percent.

    references: question id -> gold answer texts; predictions: question id -> answer text.
    A question missing from `predictions` scores 0, as in the official script.
    """
    if not references:
        raise ValueError("cannot score SQuAD predictions against zero questions")
    em = f1 = 0.0
    for qid, gold in references.items():
        if qid not in predictions:
            continue
        em += squad_exact_match(predictions[qid], gold)
        f1 += squad_f1(predictions[qid], gold)
    n = len(references)
    return {"exact_match": 100.0 * em / n, "f1": 100.0 * f1 / n}
