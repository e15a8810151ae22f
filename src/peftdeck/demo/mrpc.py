"""MRPC-shaped paraphrase task (medium), written as the GLUE MRPC TSV files.

Event sentences and a rewrite that keeps part of the wording and changes the rest (synonyms, voice,
word order); a non-paraphrase also changes two or three facts, or one in a fifth of them (who, did
what, to what, where, when, for how much). About 68% positive. Standard library only.
"""
from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .draw import distinct, stream
from .files import label_share, write_tsv
from .vocab import CITIES, DAYS, MRPC_ADJS, MRPC_NOUNS, MRPC_VERBS, NAMES, SURNAMES, cap

MRPC_HEADER = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")
MRPC_POSITIVE_RATE = 0.68
MRPC_REPORTERS = ("police", "officials", "a spokesman", "witnesses", "the newspaper", "neighbours")


def _mrpc_price(rng: random.Random) -> int:
    return rng.randrange(20, 1000) * rng.choice((1, 10))


def _mrpc_event(rng: random.Random) -> dict[str, Any]:
    return {
        "agent": rng.choice(NAMES) + (" " + rng.choice(SURNAMES) if rng.random() < 0.3 else ""),
        "verb": rng.randrange(len(MRPC_VERBS)),
        "noun": rng.randrange(len(MRPC_NOUNS)),
        "adj": rng.randrange(len(MRPC_ADJS)) if rng.random() < 0.5 else None,
        "city": rng.choice(CITIES),
        "day": rng.choice(DAYS) if rng.random() < 0.5 else None,
        "price": _mrpc_price(rng) if rng.random() < 0.25 else None,
    }


def _mrpc_change(rng: random.Random, event: dict[str, Any], field: str) -> dict[str, Any]:
    """The event with `field` set to a different value (a different fact, not a synonym)."""
    changed = dict(event)
    if field == "agent":
        first = event["agent"].split()[0]
        changed["agent"] = event["agent"].replace(first, rng.choice([n for n in NAMES if n != first]), 1)
    elif field in ("verb", "noun", "adj"):
        pool = {"verb": MRPC_VERBS, "noun": MRPC_NOUNS, "adj": MRPC_ADJS}[field]
        changed[field] = rng.choice([i for i in range(len(pool)) if i != event[field]])
    elif field == "city":
        changed["city"] = rng.choice([c for c in CITIES if c != event["city"]])
    elif field == "day":
        changed["day"] = rng.choice([d for d in DAYS if d != event["day"]])
    else:
        old = event["price"]
        # Near misses (a swapped digit, a small difference) are the hard non-paraphrases.
        digits = str(old)
        candidates = {old + rng.choice((-10, 10, 20, -20)), int(digits[::-1]) if digits[-1] != "0" else old * 2,
                      _mrpc_price(rng)}
        changed["price"] = rng.choice(sorted(c for c in candidates if c != old and c > 0))
    return changed


def _mrpc_sentence(rng: random.Random, event: dict[str, Any], keep: set[str], like: dict[str, Any] | None = None,
                   stick: float = 0.0) -> tuple[str, dict[str, Any]]:
    """One surface form of the event, and the choices that made it.

    Synonyms, voice, phrase order and framing all vary; with `like`, each choice repeats the one made
    there with probability `stick`, so a rewrite shares part of its wording, as real paraphrases do.
    """
    def choose(key: str, draw: Callable[[], Any]) -> Any:
        if like is not None and key in like and rng.random() < stick:
            return like[key]
        return draw()

    style = {key: choose(key, lambda: rng.randrange(2)) for key in ("verb", "noun", "adj")}
    style["passive"] = choose("passive", lambda: rng.random() < 0.5)
    style["front_day"] = choose("front_day", lambda: rng.random() < 0.3)
    style["dollars"] = choose("dollars", lambda: rng.random() < 0.5)
    style["order"] = choose("order", lambda: rng.random())
    verb = MRPC_VERBS[event["verb"]][style["verb"]]
    noun = MRPC_NOUNS[event["noun"]][style["noun"]]
    adj = MRPC_ADJS[event["adj"]][style["adj"]] + " " if event["adj"] is not None and "adj" in keep else ""
    phrases = [f"in {event['city']}"]
    if event["price"] is not None and "price" in keep:
        phrases.append(f"for {event['price']} dollars" if style["dollars"] else f"for $ {event['price']}")
    day = event["day"] if event["day"] is not None and "day" in keep else None
    if day is not None and not style["front_day"]:
        phrases.append(f"on {day}")
    random.Random(style["order"]).shuffle(phrases)
    if style["passive"]:
        clause = f"the {adj}{noun} was {verb} by {event['agent']} {' '.join(phrases)}"
    else:
        clause = f"{event['agent']} {verb} the {adj}{noun} {' '.join(phrases)}"
    if day is not None and style["front_day"]:
        clause = f"on {day} , {clause}"
    frame = rng.random()
    if frame < 0.06:
        clause = f"{rng.choice(MRPC_REPORTERS)} said {clause}"
    elif frame < 0.1:
        clause = f"according to {rng.choice(MRPC_REPORTERS)} , {clause}"
    return cap(clause) + " .", style


def mrpc_example(rng: random.Random) -> tuple[int, str, str]:
    event = _mrpc_event(rng)
    positive = rng.random() < MRPC_POSITIVE_RATE
    optional = [f for f in ("adj", "day", "price") if event[f] is not None]
    keep2 = set(optional)
    # Real paraphrases sometimes leave out a detail; that must not make them non-paraphrases.
    if optional and rng.random() < 0.15:
        keep2.discard(rng.choice(optional))
    other = event
    if not positive:
        # One changed fact is the hard case; two make the pair easier to tell apart.
        # (most non-paraphrases differ in two or three facts; a fifth in one).
        k = rng.choices((1, 2, 3), weights=(2, 4, 4))[0]
        fields = rng.sample(["agent", "verb", "noun", "city"] + sorted(keep2), k)
        for field in fields:
            other = _mrpc_change(rng, other, field)
    first, style = _mrpc_sentence(rng, event, set(optional))
    second, _ = _mrpc_sentence(rng, other, keep2, like=style, stick=0.6)
    if rng.random() < 0.5:
        first, second = second, first
    return int(positive), first, second


def mrpc_rows(seed: int, n_train: int, n_dev: int) -> dict[str, list[tuple[int, int, int, str, str]]]:
    """{"train": [(quality, id1, id2, string1, string2)], "dev": [...]}."""
    seen: set = set()
    ids: set = set()
    out = {}
    for split, n in (("train", n_train), ("dev", n_dev)):
        rng = stream(seed, "mrpc", split)
        pairs = distinct(lambda: mrpc_example(rng), lambda ex: ex[1:], n, seen, f"mrpc {split}")
        rows = []
        for quality, s1, s2 in pairs:
            id1, id2 = distinct(lambda: rng.randrange(100000, 4000000), lambda x: x, 2, ids, "mrpc ids")
            rows.append((quality, id1, id2, s1, s2))
        out[split] = rows
    return out


def generate_mrpc(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/mrpc/{train,dev}.tsv` in the GLUE MRPC format; returns the task folder."""
    folder = Path(out_dir) / "mrpc"
    for split, rows in mrpc_rows(seed, n_train, n_dev).items():
        write_tsv(folder / f"{split}.tsv", MRPC_HEADER, [tuple(str(v) for v in row) for row in rows])
    return folder


def label_summary(folder: Path) -> dict[str, float]:
    """Per split, the share of paraphrase pairs (for the manifest)."""
    return label_share(folder, 0, "1")
