"""STS-B-shaped similarity task (score 0-5, Pearson/Spearman), written as the GLUE STS-B TSV files.

Two descriptions of an event (who, did what, to what, where, when); the second keeps k of the five
facts and rewords the rest (synonyms, voice); the score is k, with a little annotator-like noise.
Standard library only.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

from .draw import split_rows
from .files import SPLITS, tsv_column, write_tsv
from .vocab import CITIES, DAYS, MRPC_NOUNS, MRPC_VERBS, NAMES, cap

STSB_HEADER = ("index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1",
               "sentence2", "score")
STSB_FIELDS = ("agent", "verb", "noun", "city", "day")


def _stsb_event(rng: random.Random) -> dict[str, object]:
    return {"agent": rng.choice(NAMES), "verb": rng.randrange(len(MRPC_VERBS)),
            "noun": rng.randrange(len(MRPC_NOUNS)), "city": rng.choice(CITIES), "day": rng.choice(DAYS)}


def _stsb_change(rng: random.Random, event: dict[str, object], field: str) -> dict[str, object]:
    changed = dict(event)
    pool = {"agent": NAMES, "city": CITIES, "day": DAYS}
    if field in pool:
        changed[field] = rng.choice([x for x in pool[field] if x != event[field]])
    else:
        size = len(MRPC_VERBS if field == "verb" else MRPC_NOUNS)
        changed[field] = rng.choice([i for i in range(size) if i != event[field]])
    return changed


def _stsb_sentence(rng: random.Random, event: dict[str, object]) -> str:
    verb = rng.choice(MRPC_VERBS[event["verb"]])
    noun = rng.choice(MRPC_NOUNS[event["noun"]])
    where = [f"in {event['city']}", f"on {event['day']}"]
    rng.shuffle(where)
    if rng.random() < 0.5:
        return cap(f"{event['agent']} {verb} the {noun} {' '.join(where)} .")
    return cap(f"the {noun} was {verb} by {event['agent']} {' '.join(where)} .")


def _stsb_example(rng: random.Random) -> tuple[str, str, float]:
    event = _stsb_event(rng)
    kept = rng.randrange(len(STSB_FIELDS) + 1)  # 0 .. 5 facts in common
    other = event
    for field in rng.sample(STSB_FIELDS, len(STSB_FIELDS) - kept):
        other = _stsb_change(rng, other, field)
    score = min(5.0, max(0.0, kept + rng.choice((-0.4, -0.2, 0.0, 0.0, 0.0, 0.2, 0.4))))
    return _stsb_sentence(rng, event), _stsb_sentence(rng, other), round(score, 1)


def stsb_rows(seed: int, n_train: int, n_dev: int) -> dict[str, list[tuple[str, str, float]]]:
    """{"train": [(sentence1, sentence2, score)], "dev": [...]}; no dev pair occurs in train."""
    return split_rows("stsb", seed, n_train, n_dev, _stsb_example, lambda ex: ex[:2])


def generate_stsb(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/stsb/{train,dev}.tsv` in the GLUE STS-B format; returns the task folder."""
    folder = Path(out_dir) / "stsb"
    for split, rows in stsb_rows(seed, n_train, n_dev).items():
        write_tsv(folder / f"{split}.tsv", STSB_HEADER,
                   [(str(i), "main-demo", "demo", "2026", str(i), "none", "none", a, b, f"{s:.1f}")
                    for i, (a, b, s) in enumerate(rows)])
    return folder


def label_summary(folder: Path) -> dict[str, float]:
    """Per split, the mean similarity score (for the manifest)."""
    out = {}
    for split in SPLITS:
        scores = tsv_column(folder / f"{split}.tsv", -1)
        out[split] = round(sum(float(s) for s in scores) / len(scores), 4)
    return out
