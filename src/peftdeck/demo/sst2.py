"""SST-2-shaped sentiment task (easy), written as the GLUE SST-2 TSV files.

Movie-review phrases whose sentiment comes from polar words, flipped by negation and decided by the
main clause of "but"/"although" sentences; 3% label noise. Standard library only.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

from .draw import split_rows
from .files import label_share, write_tsv
from .vocab import article

SST2_HEADER = ("sentence", "label")
SST2_LABEL_NOISE = 0.03

SST2_SUBJECTS = ("movie", "film", "story", "plot", "script", "acting", "cast", "ending", "soundtrack",
                 "dialogue", "direction", "pacing", "sequel", "performance", "humor", "screenplay",
                 "finale", "premise", "lead", "photography")
SST2_POSITIVE = ("good", "great", "wonderful", "charming", "brilliant", "moving", "delightful", "funny",
                 "clever", "beautiful", "gripping", "fresh", "warm", "smart", "superb", "lovely",
                 "touching", "solid", "excellent", "enjoyable")
SST2_NEGATIVE = ("bad", "dull", "boring", "awful", "clumsy", "tedious", "bland", "silly", "weak",
                 "messy", "flat", "lifeless", "painful", "stale", "shallow", "forced", "tiresome",
                 "poor", "confusing", "terrible")
SST2_VERBS = {1: (("loved", "love"), ("enjoyed", "enjoy"), ("admired", "admire"), ("liked", "like")),
              0: (("hated", "hate"), ("disliked", "dislike"), ("resented", "resent"), ("regretted", "regret"))}
SST2_INTENSIFIERS = ("very ", "really ", "quite ", "truly ", "rather ", "remarkably ", "surprisingly ",
                     "genuinely ", "oddly ")
SST2_DETS = ("the", "this", "its")
SST2_COPULAS = ("is", "was", "feels", "seems")
SST2_NEGATED = ("is not", "was not", "is n't", "was n't", "is never", "was never", "is hardly",
                "never feels", "hardly seems")
SST2_OPENERS = ("", "", "", "", "overall , ", "in the end , ", "frankly , ", "to be honest , ")
# How often each construction is drawn; bag-of-words gets the first and last right but not the
# negated and contrastive ones, which is what separates a fine-tuned encoder from word counts.
SST2_KINDS = {"plain": 40, "fragment": 10, "negated": 15, "contrast": 10, "although": 7, "verb": 10, "conj": 8}


def _sst2_adj(rng: random.Random, polarity: int) -> str:
    return rng.choice(SST2_POSITIVE if polarity else SST2_NEGATIVE)


def _sst2_intens(rng: random.Random) -> str:
    return rng.choice(SST2_INTENSIFIERS) if rng.random() < 0.35 else ""


def sst2_example(rng: random.Random, label: int | None = None, noise: float = SST2_LABEL_NOISE) -> tuple[str, int]:
    if label is None:
        label = rng.randrange(2)
    kind = rng.choices(list(SST2_KINDS), weights=list(SST2_KINDS.values()))[0]
    det, subj = rng.choice(SST2_DETS), rng.choice(SST2_SUBJECTS)
    s2 = rng.choice([s for s in SST2_SUBJECTS if s != subj])
    cop = rng.choice(SST2_COPULAS)
    if kind == "plain":
        text = f"{det} {subj} {cop} {_sst2_intens(rng)}{_sst2_adj(rng, label)} ."
    elif kind == "fragment":
        adj, adj2 = rng.sample(SST2_POSITIVE if label else SST2_NEGATIVE, 2)
        text = rng.choice((f"{_sst2_intens(rng)}{adj}", f"{article(adj)} {subj}", f"{adj} and {adj2}"))
    elif kind == "negated":
        text = f"{det} {subj} {rng.choice(SST2_NEGATED)} {_sst2_intens(rng)}{_sst2_adj(rng, 1 - label)} ."
    elif kind == "contrast":
        first, second = _sst2_adj(rng, 1 - label), _sst2_adj(rng, label)
        text = rng.choice((f"{det} {subj} {cop} {first} , but the {s2} {cop} {second} .",
                           f"despite {article(first)} {subj} , the {s2} {cop} {second} ."))
    elif kind == "although":
        first, second = _sst2_adj(rng, 1 - label), _sst2_adj(rng, label)
        text = f"although {det} {subj} {cop} {first} , the {s2} {cop} {second} ."
    elif kind == "verb":
        if rng.random() < 0.6:
            text = f"i {rng.choice(SST2_VERBS[label])[0]} {det} {subj} ."
        else:
            text = f"i did n't {rng.choice(SST2_VERBS[1 - label])[1]} {det} {subj} ."
    else:
        adj, adj2 = rng.sample(SST2_POSITIVE if label else SST2_NEGATIVE, 2)
        text = f"{det} {subj} {cop} {adj} and {adj2} ."
    if kind != "fragment":
        text = rng.choice(SST2_OPENERS) + text
    if rng.random() < noise:
        label = 1 - label
    return text, label


def sst2_review(rng: random.Random) -> str:
    """Two to four phrases of one polarity on a line, as sentiment runs through a real review.

    This is what lets masked-LM pre-training tell "dull" from "charming": in single phrases both
    fill the same slots, so only their company separates them.
    """
    label = rng.randrange(2)
    return " ".join(sst2_example(rng, label, noise=0.0)[0] for _ in range(rng.randrange(2, 5)))


def sst2_rows(seed: int, n_train: int, n_dev: int) -> dict[str, list[tuple[str, int]]]:
    """{"train": [(sentence, label)], "dev": [...]}; no dev sentence occurs in train."""
    return split_rows("sst2", seed, n_train, n_dev, sst2_example, lambda ex: ex[0])


def generate_sst2(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/sst2/{train,dev}.tsv` in the GLUE SST-2 format; returns the task folder."""
    rows = sst2_rows(seed, n_train, n_dev)
    folder = Path(out_dir) / "sst2"
    for split, examples in rows.items():
        write_tsv(folder / f"{split}.tsv", SST2_HEADER, [(s, str(y)) for s, y in examples])
    return folder


def label_summary(folder: Path) -> dict[str, float]:
    """Per split, the share of positive sentences (for the manifest)."""
    return label_share(folder, -1, "1")
