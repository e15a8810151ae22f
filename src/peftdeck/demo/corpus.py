"""The unlabelled ``corpus.txt`` for the demo tokenizer and masked-LM pre-training.

Unlabelled text from the same grammar as the tasks (its own random stream): reviews of several
phrases, sentence pairs on adjacent lines, paragraphs with questions, and one-line dictionary and
world facts ("Lisbon is a city in Portugal .", "Costly means expensive ."). Standard library only.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

from .draw import stream
from .mrpc import mrpc_example
from .rte import rte_example
from .squad import squad_paragraph
from .sst2 import sst2_example, sst2_review
from .vocab import ANIMAL_CLASS, ANIMALS, CITIES, COUNTRY_OF, MRPC_ADJS, MRPC_NOUNS, MRPC_VERBS, article, cap

DEFAULT_CORPUS_UNITS = 12000


def _knowledge_line(rng: random.Random) -> str:
    """Dictionary and world facts that RTE and MRPC rest on, as a real corpus states them somewhere.

    Pre-training sees them; fine-tuning then only has to learn to use them.
    """
    roll = rng.random()
    if roll < 0.35:
        city = rng.choice(CITIES)
        return rng.choice((f"{city} is a city in {COUNTRY_OF[city]} .", f"{city} lies in {COUNTRY_OF[city]} ."))
    if roll < 0.6:
        animal = rng.choice(ANIMALS)
        return rng.choice((f"{cap(article(animal))} is {article(ANIMAL_CLASS[animal])} .",
                           f"{cap(article(animal))} is an animal ."))
    group = rng.choice(MRPC_VERBS + MRPC_NOUNS + MRPC_ADJS)
    first, second = rng.sample(group, 2)
    if group in MRPC_NOUNS:
        return rng.choice((f"{cap(article(first))} is also called {article(second)} .",
                           f"{cap(article(first))} is {article(second)} ."))
    return rng.choice((f"{cap(first)} means the same as {second} .", f"{cap(first)} means {second} ."))


def corpus_lines(seed: int, n_units: int = DEFAULT_CORPUS_UNITS) -> list[str]:
    """Unlabelled text for the tokenizer and masked-LM pre-training, drawn from its own stream.

    A unit is one sentence, or a pair kept on adjacent lines (paraphrases, premise + hypothesis,
    a context + its questions) so that packed pre-training sequences see related sentences together.
    """
    rng = stream(seed, "corpus")
    lines: list[str] = []
    kinds = {"sst2": 25, "mrpc": 20, "rte": 20, "squad": 20, "fact": 15}
    for _ in range(n_units):
        kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
        if kind == "sst2":
            lines.append(sst2_review(rng) if rng.random() < 0.7 else sst2_example(rng)[0])
        elif kind == "mrpc":
            lines.extend(mrpc_example(rng)[1:])
        elif kind == "rte":
            lines.extend(rte_example(rng)[:2])
        elif kind == "squad":
            context, qas = squad_paragraph(rng)
            lines.append(context)
            lines.extend(q for q, _ in qas[:2])
        else:
            lines.append(_knowledge_line(rng))
    return lines


def generate_corpus(path: str | os.PathLike, seed: int, n_units: int = DEFAULT_CORPUS_UNITS) -> Path:
    """Write `corpus_lines` one per line to `path`.

    CoLA and STS-B sentences use the same words as the other tasks and are left out: adding them
    changed the pre-trained demo model enough to move demo SST-2 Full FT from 87% to 63% (one seed),
    for no gain on the tasks the default demo runs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(line + "\n" for line in corpus_lines(seed, n_units))
    return path
