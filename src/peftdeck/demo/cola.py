"""CoLA-shaped acceptability task (Matthews correlation), written as the headerless GLUE CoLA TSV.

Short sentences from a few templates; about 30% are spoiled by one error a reader spots from word
order or agreement alone (a third-person verb after a plural subject, an auxiliary with the wrong
verb form, a swapped verb and object, a doubled article). 2% label noise. Rows are
``source, label, original label, sentence``. Standard library only.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

from .draw import split_rows
from .files import label_share, write_tsv
from .vocab import CITIES, DAYS, JOBS, MRPC_NOUNS, NAMES, article

COLA_ACCEPTABLE_RATE = 0.7
COLA_LABEL_NOISE = 0.02

# (third person singular, base form, past tense = past participle)
COLA_VERBS = (("buys", "buy", "bought"), ("repairs", "repair", "repaired"), ("finds", "find", "found"),
              ("cleans", "clean", "cleaned"), ("sells", "sell", "sold"), ("builds", "build", "built"),
              ("paints", "paint", "painted"), ("orders", "order", "ordered"), ("moves", "move", "moved"),
              ("visits", "visit", "visited"))
COLA_NOUNS = tuple(pair[0] for pair in MRPC_NOUNS)
COLA_ERRORS = ("agreement_singular", "agreement_plural", "auxiliary", "word_order", "double_article")


def _cola_sentence(rng: random.Random, error: str | None) -> str:
    """One sentence from the templates; `error` names the single mistake to put in, if any."""
    third, base, past = rng.choice(COLA_VERBS)
    noun = rng.choice(COLA_NOUNS)
    name, other = rng.sample(NAMES, 2)
    city, day, job = rng.choice(CITIES), rng.choice(DAYS), rng.choice(JOBS)
    if error == "agreement_singular":  # a singular subject with the plural verb form
        return rng.choice((f"The {job} {base} {article(noun)} every {day} .",
                           f"{name} often {base} the {noun} in {city} ."))
    if error == "agreement_plural":  # a plural subject with the singular verb form
        return rng.choice((f"{name} and {other} {third} the {noun} every {day} .",
                           f"The {job}s in {city} {third} {article(noun)} ."))
    if error == "auxiliary":  # an auxiliary with the wrong verb form
        return rng.choice((f"{name} has {base} the {noun} in {city} .", f"Did {name} {past} the {noun} on {day} ?",
                           f"{name} will {third} the {noun} tomorrow ."))
    if error == "word_order":  # verb and object swapped
        return rng.choice((f"{name} the {noun} {past} in {city} .", f"The {job} {article(noun)} {third} every {day} ."))
    if error == "double_article":
        return rng.choice((f"{name} {past} the the {noun} in {city} .", f"The {job} {third} a a {noun} on {day} ."))
    return rng.choice((
        f"{name} {past} the {noun} in {city} .",
        f"The {job} {third} {article(noun)} every {day} .",
        f"{name} and {other} {base} the {noun} every {day} .",
        f"{name} has {past} the {noun} in {city} .",
        f"Did {name} {base} the {noun} on {day} ?",
        f"The {job}s in {city} {base} {article(noun)} .",
        f"{name} will {base} the {noun} tomorrow .",
        f"The {noun} was {past} by {article(job)} in {city} .",
    ))


def _cola_example(rng: random.Random) -> tuple[str, int]:
    label = 1 if rng.random() < COLA_ACCEPTABLE_RATE else 0
    text = _cola_sentence(rng, None if label else rng.choice(COLA_ERRORS))
    if rng.random() < COLA_LABEL_NOISE:
        label = 1 - label
    return text, label


def cola_rows(seed: int, n_train: int, n_dev: int) -> dict[str, list[tuple[str, int]]]:
    """{"train": [(sentence, label)], "dev": [...]}; no dev sentence occurs in train."""
    return split_rows("cola", seed, n_train, n_dev, _cola_example, lambda ex: ex[0])


def generate_cola(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/cola/{train,dev}.tsv` in the (headerless) GLUE CoLA format; returns the folder."""
    folder = Path(out_dir) / "cola"
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in cola_rows(seed, n_train, n_dev).items():
        write_tsv(folder / f"{split}.tsv", None,
                  [("demo", str(label), "" if label else "*", text) for text, label in rows])
    return folder


def label_summary(folder: Path) -> dict[str, float]:
    """Per split, the share of acceptable sentences (for the manifest)."""
    return label_share(folder, 1, "1", header=False)
