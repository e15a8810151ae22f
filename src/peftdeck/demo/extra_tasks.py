"""Generated stand-ins for CoLA and STS-B, written in the original GLUE file formats.

They complete the demo's set for the training-fraction study (CoLA, STS-B, MRPC), drawn from the
same small vocabulary as the other demo tasks (``peftdeck.demo.data``):

- ``cola`` (acceptability, Matthews correlation): short sentences from a few templates; about 30%
  are spoiled by one error a reader spots from word order or agreement alone (a third-person verb
  after a plural subject, an auxiliary with the wrong verb form, a swapped verb and object, a
  doubled article). 2% label noise. Headerless TSV ``source, label, original label, sentence``.
- ``stsb`` (similarity 0-5, Pearson/Spearman): two descriptions of an event (who, did what, to
  what, where, when); the second keeps k of the five facts and rewords the rest (synonyms, voice);
  the score is k, with a little annotator-like noise. TSV with the STS-B header.

Standard library only; the output is a deterministic function of the seed and the sizes.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

from .data import CITIES, DAYS, JOBS, MRPC_NOUNS, MRPC_VERBS, NAMES, _a, _cap, _split_rows, _write_tsv

EXTRA_TASKS = ("cola", "stsb")
COLA_ACCEPTABLE_RATE = 0.7
COLA_LABEL_NOISE = 0.02
STSB_HEADER = ("index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1",
               "sentence2", "score")
STSB_FIELDS = ("agent", "verb", "noun", "city", "day")

# (third person singular, base form, past tense = past participle)
COLA_VERBS = (("buys", "buy", "bought"), ("repairs", "repair", "repaired"), ("finds", "find", "found"),
              ("cleans", "clean", "cleaned"), ("sells", "sell", "sold"), ("builds", "build", "built"),
              ("paints", "paint", "painted"), ("orders", "order", "ordered"), ("moves", "move", "moved"),
              ("visits", "visit", "visited"))
COLA_NOUNS = tuple(pair[0] for pair in MRPC_NOUNS)
COLA_ERRORS = ("agreement_singular", "agreement_plural", "auxiliary", "word_order", "double_article")


# --- CoLA -------------------------------------------------------------------------------------------

def _cola_sentence(rng: random.Random, error: str | None) -> str:
    """One sentence from the templates; `error` names the single mistake to put in, if any."""
    third, base, past = rng.choice(COLA_VERBS)
    noun = rng.choice(COLA_NOUNS)
    name, other = rng.sample(NAMES, 2)
    city, day, job = rng.choice(CITIES), rng.choice(DAYS), rng.choice(JOBS)
    if error == "agreement_singular":  # a singular subject with the plural verb form
        return rng.choice((f"The {job} {base} {_a(noun)} every {day} .",
                           f"{name} often {base} the {noun} in {city} ."))
    if error == "agreement_plural":  # a plural subject with the singular verb form
        return rng.choice((f"{name} and {other} {third} the {noun} every {day} .",
                           f"The {job}s in {city} {third} {_a(noun)} ."))
    if error == "auxiliary":  # an auxiliary with the wrong verb form
        return rng.choice((f"{name} has {base} the {noun} in {city} .", f"Did {name} {past} the {noun} on {day} ?",
                           f"{name} will {third} the {noun} tomorrow ."))
    if error == "word_order":  # verb and object swapped
        return rng.choice((f"{name} the {noun} {past} in {city} .", f"The {job} {_a(noun)} {third} every {day} ."))
    if error == "double_article":
        return rng.choice((f"{name} {past} the the {noun} in {city} .", f"The {job} {third} a a {noun} on {day} ."))
    return rng.choice((
        f"{name} {past} the {noun} in {city} .",
        f"The {job} {third} {_a(noun)} every {day} .",
        f"{name} and {other} {base} the {noun} every {day} .",
        f"{name} has {past} the {noun} in {city} .",
        f"Did {name} {base} the {noun} on {day} ?",
        f"The {job}s in {city} {base} {_a(noun)} .",
        f"{name} will {base} the {noun} tomorrow .",
        f"The {noun} was {past} by {_a(job)} in {city} .",
    ))


def _cola_example(rng: random.Random) -> tuple[str, int]:
    label = 1 if rng.random() < COLA_ACCEPTABLE_RATE else 0
    text = _cola_sentence(rng, None if label else rng.choice(COLA_ERRORS))
    if rng.random() < COLA_LABEL_NOISE:
        label = 1 - label
    return text, label


def cola_rows(seed: int, n_train: int, n_dev: int) -> dict[str, list[tuple[str, int]]]:
    """{"train": [(sentence, label)], "dev": [...]}; no dev sentence occurs in train."""
    return _split_rows("cola", seed, n_train, n_dev, _cola_example, lambda ex: ex[0])


def generate_cola(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/cola/{train,dev}.tsv` in the (headerless) GLUE CoLA format; returns the folder."""
    folder = Path(out_dir) / "cola"
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in cola_rows(seed, n_train, n_dev).items():
        with open(folder / f"{split}.tsv", "w", encoding="utf-8", newline="\n") as fh:
            for text, label in rows:
                fh.write("\t".join(("demo", str(label), "" if label else "*", text)) + "\n")
    return folder


# --- STS-B ------------------------------------------------------------------------------------------

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
        return _cap(f"{event['agent']} {verb} the {noun} {' '.join(where)} .")
    return _cap(f"the {noun} was {verb} by {event['agent']} {' '.join(where)} .")


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
    return _split_rows("stsb", seed, n_train, n_dev, _stsb_example, lambda ex: ex[:2])


def generate_stsb(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/stsb/{train,dev}.tsv` in the GLUE STS-B format; returns the task folder."""
    folder = Path(out_dir) / "stsb"
    for split, rows in stsb_rows(seed, n_train, n_dev).items():
        _write_tsv(folder / f"{split}.tsv", STSB_HEADER,
                   [(str(i), "main-demo", "demo", "2026", str(i), "none", "none", a, b, f"{s:.1f}")
                    for i, (a, b, s) in enumerate(rows)])
    return folder


GENERATORS = {"cola": generate_cola, "stsb": generate_stsb}


def label_summary(task: str, folder: Path) -> dict[str, float]:
    """Per split: the share of acceptable sentences (cola) or the mean score (stsb), for a manifest."""
    out = {}
    for split in ("train", "dev"):
        with open(folder / f"{split}.tsv", encoding="utf-8") as fh:
            rows = [line.rstrip("\n").split("\t") for line in fh]
        if task == "cola":
            out[split] = round(sum(r[1] == "1" for r in rows) / len(rows), 4)
        else:
            out[split] = round(sum(float(r[-1]) for r in rows[1:]) / (len(rows) - 1), 4)
    return out
