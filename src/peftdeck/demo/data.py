"""Generated stand-ins for SST-2, MRPC, RTE and SQuAD v1.1, written in the original file formats.

The demo must run offline, so it cannot use the real data; but it should exercise the same loading
code and show the same kind of result (methods that differ, tasks that differ in difficulty). So
each task here is drawn from a small grammar over a few hundred words with a signal a small pretrained
encoder can learn in about a hundred optimizer steps, and written exactly as the real task is
distributed:

- ``sst2``  (easy): movie-review phrases whose sentiment comes from polar words, flipped by
  negation and decided by the main clause of "but"/"although" sentences; 3% label noise.
- ``mrpc``  (medium): event sentences and a rewrite that keeps part of the wording and changes the
  rest (synonyms, voice, word order); a non-paraphrase also changes two or three facts, or one in a
  fifth of them (who, did what, to what, where, when, for how much). About 68% positive.
- ``rte``   (hard): short premises about one to three people and a hypothesis that mostly restates
  a fact or names a value the premise never mentions; a minority generalises (city -> country,
  dog -> mammal, age -> "older than"), negates or swaps people. Every hypothesis form is 50/50
  entailed, so the hypothesis alone does not give the answer away.
- ``squad`` : short biographical paragraphs with distractors (two people, several cities and
  years); questions about one fact each. Dev questions carry one to three answers (with/without an
  article or "in"), like the real dev set.

``corpus.txt`` holds unlabelled text from the same grammar (own random stream): reviews of several
phrases, sentence pairs on adjacent lines, paragraphs with questions, and one-line dictionary and
world facts ("Lisbon is a city in Portugal .", "Costly means expensive ."), for the tokenizer and
the pre-training.

Output is a deterministic function of the seed and the sizes. Only the standard library is used,
so the data rule starts fast and never needs torch.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
TASKS = ("sst2", "mrpc", "rte", "squad", "cola", "stsb")
DEFAULT_SIZES = {"classification_train": 2000, "classification_eval": 400, "qa_train": 3000, "qa_eval": 500}
DEFAULT_CORPUS_UNITS = 12000

SST2_HEADER = ("sentence", "label")
MRPC_HEADER = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")
RTE_HEADER = ("index", "sentence1", "sentence2", "label")
RTE_LABELS = ("entailment", "not_entailment")

SST2_LABEL_NOISE = 0.03
MRPC_POSITIVE_RATE = 0.68

# --- shared vocabulary ----------------------------------------------------------------------------

FEMALE = ("Anna", "Clara", "Elena", "Grace", "Iris", "Kira", "Maya", "Nina", "Paula", "Rosa",
          "Tara", "Vera", "Zoe", "Bella", "Dora", "Fiona", "Hana", "Julia", "Lena", "Nora")
MALE = ("Ben", "David", "Felix", "Hugo", "Jonas", "Leo", "Oscar", "Sam", "Omar", "Walter",
        "Yusuf", "Amir", "Carlos", "Emil", "Gabriel", "Igor", "Karl", "Marco", "Tomas", "Victor")
NAMES = FEMALE + MALE
SURNAMES = ("Berg", "Costa", "Novak", "Larsen", "Moreau", "Rossi", "Weber", "Silva", "Kowalski",
            "Jensen", "Fischer", "Duarte", "Horvat", "Lindqvist", "Marino", "Petrov", "Bauer",
            "Santos", "Keller", "Nilsson")
COUNTRIES = {
    "Portugal": ("Lisbon", "Porto", "Braga"),
    "Spain": ("Madrid", "Seville", "Valencia"),
    "France": ("Paris", "Lyon", "Marseille"),
    "Italy": ("Rome", "Milan", "Naples"),
    "Germany": ("Berlin", "Munich", "Hamburg"),
    "Norway": ("Oslo", "Bergen"),
    "Ireland": ("Dublin", "Cork"),
    "Poland": ("Warsaw", "Krakow"),
    "Austria": ("Vienna", "Salzburg"),
    "Denmark": ("Copenhagen", "Aarhus"),
}
COUNTRY_OF = {city: country for country, cities in COUNTRIES.items() for city in cities}
CITIES = tuple(COUNTRY_OF)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
JOBS = ("teacher", "doctor", "nurse", "lawyer", "farmer", "pilot", "chef", "baker", "engineer",
        "architect", "journalist", "painter", "singer", "dentist", "plumber", "banker")
ANIMAL_CLASS = {"dog": "mammal", "cat": "mammal", "rabbit": "mammal", "hamster": "mammal",
                "horse": "mammal", "goat": "mammal", "parrot": "bird", "canary": "bird",
                "owl": "bird", "duck": "bird", "goldfish": "fish", "guppy": "fish",
                "turtle": "reptile", "lizard": "reptile", "snake": "reptile"}
ANIMALS = tuple(ANIMAL_CLASS)
ANIMAL_CLASSES = ("mammal", "bird", "fish", "reptile")


def _a(word: str) -> str:
    """The word with its indefinite article ("an owl", "a dog")."""
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rng(seed: int, *stream: str) -> random.Random:
    # `random` hashes a str seed with SHA-512, so every (seed, task, split) stream is independent and
    # does not depend on PYTHONHASHSEED; changing one task's size leaves the other files' bytes alone.
    return random.Random("/".join(("peftdeck-demo", str(seed)) + stream))


def _split_rows(task: str, seed: int, n_train: int, n_dev: int, example: Callable[[random.Random], Any],
                key: Callable[[Any], Any]) -> dict[str, list]:
    """{"train": [...], "dev": [...]}: `example(rng)` drawn from one stream per split, keys distinct
    across both splits."""
    seen: set = set()
    out = {}
    for split, n in (("train", n_train), ("dev", n_dev)):
        rng = _rng(seed, task, split)
        out[split] = _unique(lambda: example(rng), key, n, seen, f"{task} {split}")
    return out


def _unique(make: Callable[[], Any], key: Callable[[Any], Any], n: int, seen: set, what: str) -> list:
    """`n` draws of `make()` whose `key` is not in `seen` (updated in place).

    Dev examples that repeat a training example would measure memory, not generalisation.
    """
    out = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise RuntimeError(f"{what}: could not draw {n} distinct examples; ask for fewer")
        example = make()
        k = key(example)
        if k in seen:
            continue
        seen.add(k)
        out.append(example)
    return out


# --- SST-2 ----------------------------------------------------------------------------------------

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


def _sst2_example(rng: random.Random, label: int | None = None, noise: float = SST2_LABEL_NOISE) -> tuple[str, int]:
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
        text = rng.choice((f"{_sst2_intens(rng)}{adj}", f"{_a(adj)} {subj}", f"{adj} and {adj2}"))
    elif kind == "negated":
        text = f"{det} {subj} {rng.choice(SST2_NEGATED)} {_sst2_intens(rng)}{_sst2_adj(rng, 1 - label)} ."
    elif kind == "contrast":
        first, second = _sst2_adj(rng, 1 - label), _sst2_adj(rng, label)
        text = rng.choice((f"{det} {subj} {cop} {first} , but the {s2} {cop} {second} .",
                           f"despite {_a(first)} {subj} , the {s2} {cop} {second} ."))
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


def _sst2_review(rng: random.Random) -> str:
    """Two to four phrases of one polarity on a line, as sentiment runs through a real review.

    This is what lets masked-LM pre-training tell "dull" from "charming": in single phrases both
    fill the same slots, so only their company separates them.
    """
    label = rng.randrange(2)
    return " ".join(_sst2_example(rng, label, noise=0.0)[0] for _ in range(rng.randrange(2, 5)))


def sst2_rows(seed: int, n_train: int, n_dev: int) -> dict[str, list[tuple[str, int]]]:
    """{"train": [(sentence, label)], "dev": [...]}; no dev sentence occurs in train."""
    return _split_rows("sst2", seed, n_train, n_dev, _sst2_example, lambda ex: ex[0])


def generate_sst2(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/sst2/{train,dev}.tsv` in the GLUE SST-2 format; returns the task folder."""
    rows = sst2_rows(seed, n_train, n_dev)
    folder = Path(out_dir) / "sst2"
    for split, examples in rows.items():
        _write_tsv(folder / f"{split}.tsv", SST2_HEADER, [(s, str(y)) for s, y in examples])
    return folder


# --- MRPC -----------------------------------------------------------------------------------------

# Each tuple is one meaning; a paraphrase may use any member, a non-paraphrase changes the meaning.
MRPC_VERBS = (("bought", "purchased"), ("repaired", "fixed"), ("found", "discovered"), ("built", "constructed"),
              ("cleaned", "washed"), ("sold", "traded"), ("examined", "inspected"), ("delivered", "shipped"),
              ("designed", "created"), ("lost", "misplaced"), ("ordered", "requested"), ("moved", "relocated"))
MRPC_NOUNS = (("car", "automobile"), ("house", "home"), ("boat", "ship"), ("picture", "painting"),
              ("shop", "store"), ("book", "novel"), ("bike", "bicycle"), ("sofa", "couch"), ("gift", "present"),
              ("report", "document"), ("truck", "lorry"), ("phone", "telephone"), ("jacket", "coat"),
              ("machine", "device"), ("lamp", "light"))
MRPC_ADJS = (("large", "big"), ("small", "little"), ("expensive", "costly"), ("cheap", "inexpensive"),
             ("old", "aged"), ("modern", "contemporary"), ("strange", "odd"), ("beautiful", "lovely"))
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
    return _cap(clause) + " .", style


def _mrpc_example(rng: random.Random) -> tuple[int, str, str]:
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
        rng = _rng(seed, "mrpc", split)
        pairs = _unique(lambda: _mrpc_example(rng), lambda ex: ex[1:], n, seen, f"mrpc {split}")
        rows = []
        for quality, s1, s2 in pairs:
            id1, id2 = _unique(lambda: rng.randrange(100000, 4000000), lambda x: x, 2, ids, "mrpc ids")
            rows.append((quality, id1, id2, s1, s2))
        out[split] = rows
    return out


def generate_mrpc(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/mrpc/{train,dev}.tsv` in the GLUE MRPC format; returns the task folder."""
    folder = Path(out_dir) / "mrpc"
    for split, rows in mrpc_rows(seed, n_train, n_dev).items():
        _write_tsv(folder / f"{split}.tsv", MRPC_HEADER, [tuple(str(v) for v in row) for row in rows])
    return folder


# --- RTE ------------------------------------------------------------------------------------------

# Hypothesis forms and how often each is drawn. Each form is entailed half the time, so neither a
# form ("does not ...") nor its wording predicts the label without reading the premise.
# Direct look-ups dominate; negation, countries, animal classes and age comparisons are the harder
# minority that keeps the task off the ceiling.
RTE_FORMS = {"city": 24, "city_not": 4, "country": 4, "job": 24, "job_not": 4, "pet": 24,
             "pet_class": 4, "age_cmp": 4, "age_exact": 8}
RTE_MONTHS = ("January", "March", "May", "July", "September", "November")


def _rte_people(rng: random.Random) -> dict[str, dict[str, Any]]:
    """Two or three people with distinct values for every attribute, each with one to three facts."""
    n = 1 if rng.random() < 0.4 else 2 if rng.random() < 0.85 else 3
    names = rng.sample(NAMES, n)
    # Cities from different countries, so "X lives in <country of Y's city>" is really false.
    countries = rng.sample(list(COUNTRIES), n + 1)
    homes = [rng.choice(COUNTRIES[c]) for c in countries]
    jobs, pets = rng.sample(JOBS, n), rng.sample(ANIMALS, n)
    ages = rng.sample(range(19, 86), n)
    people = {}
    for i, name in enumerate(names):
        facts: dict[str, Any] = {"female": name in FEMALE}
        kinds = ("city", "job", "pet", "age")
        chosen = [k for k in kinds if rng.random() < 0.45] or [rng.choice(kinds)]
        values = {"city": homes[i], "job": jobs[i], "pet": pets[i], "age": ages[i]}
        facts.update({k: values[k] for k in chosen})
        if rng.random() < 0.1:
            # Someone visiting a city is not living there: a lexical-overlap trap.
            facts["visited"] = homes[n] if rng.random() < 0.5 else rng.choice([c for c in CITIES if c not in homes])
        people[name] = facts
    return people


def _rte_clauses(rng: random.Random, facts: dict[str, Any]) -> list[str]:
    years = rng.randrange(2, 20)
    out = []
    if "city" in facts:
        c = facts["city"]
        out.append(rng.choice((f"lives in {c}", f"has lived in {c} for {years} years",
                               f"moved to {c} {years} years ago")))
    if "job" in facts:
        j = facts["job"]
        out.append(rng.choice((f"works as {_a(j)}", f"is {_a(j)}", f"has worked as {_a(j)} for {years} years")))
    if "pet" in facts:
        p = facts["pet"]
        out.append(rng.choice((f"owns {_a(p)}", f"has {_a(p)}", f"keeps {_a(p)} at home")))
    if "age" in facts:
        out.append(rng.choice((f"is {facts['age']} years old", f"turned {facts['age']} this year")))
    if "visited" in facts:
        v = facts["visited"]
        out.append(rng.choice((f"visited {v} last {rng.choice(DAYS)}", f"spent a week in {v}",
                               f"travelled to {v} in {rng.choice(RTE_MONTHS)}")))
    rng.shuffle(out)
    return out


def _join(clauses: list[str]) -> str:
    return clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]


def _rte_premise(rng: random.Random, people: dict[str, dict[str, Any]]) -> str:
    sentences = []
    for name, facts in people.items():
        clauses = _rte_clauses(rng, facts)
        if "job" in facts and "city" in facts and rng.random() < 0.35:
            rest = [c for c in clauses if facts["job"] not in c and facts["city"] not in c]
            if rest:
                sentences.append(f"{name}, {_a(facts['job'])} living in {facts['city']}, {_join(rest)}.")
                continue
        if len(clauses) > 2 and rng.random() < 0.6:
            pronoun = "She" if facts["female"] else "He"
            sentences.append(f"{name} {_join(clauses[:2])}.")
            sentences.append(f"{pronoun} {_join(clauses[2:])}.")
        else:
            sentences.append(f"{name} {_join(clauses)}.")
    return " ".join(sentences)


def _rte_truth(people: dict[str, dict[str, Any]], form: str, who: str, value: Any) -> bool:
    f = people.get(who, {})
    if form == "city":
        return f.get("city") == value
    if form == "city_not":
        return "city" in f and f["city"] != value
    if form == "country":
        return "city" in f and COUNTRY_OF[f["city"]] == value
    if form == "job":
        return f.get("job") == value
    if form == "job_not":
        return "job" in f and f["job"] != value
    if form == "pet":
        return f.get("pet") == value
    if form == "pet_class":
        return "pet" in f and value in ("animal", ANIMAL_CLASS[f["pet"]])
    if form == "age_cmp":
        op, m = value
        return "age" in f and (f["age"] > m if op == "older" else f["age"] < m)
    if form == "age_exact":
        return f.get("age") == value
    raise ValueError(form)


def _rte_propose(rng: random.Random, people: dict[str, dict[str, Any]], form: str) -> tuple[str, Any]:
    """A person and a value for the form, mostly taken from the premise so that both labels occur."""
    names = list(people)
    who = rng.choice(names) if rng.random() < 0.95 else rng.choice([n for n in NAMES if n not in people])
    mine = people.get(who, {})
    others = [people[n] for n in names if n != who]

    def pick(attr: str, pool: tuple) -> Any:
        options = [mine[attr]] * 2 if attr in mine else []
        options += [o[attr] for o in others if attr in o]
        if attr == "city":
            options += [p["visited"] for p in people.values() if "visited" in p]
        # A value the premise never mentions is the common, lexical way to be false; another
        # person's value (which needs the binding of facts to names) is the hard one.
        options += [rng.choice(pool) for _ in range(3)]
        return rng.choice(options)

    if form in ("city", "city_not"):
        return who, pick("city", CITIES)
    if form == "country":
        return who, COUNTRY_OF[pick("city", CITIES)]
    if form in ("job", "job_not"):
        return who, pick("job", JOBS)
    if form == "pet":
        return who, pick("pet", ANIMALS)
    if form == "pet_class":
        if rng.random() < 0.25:
            return who, "animal"
        return who, ANIMAL_CLASS[pick("pet", ANIMALS)] if rng.random() < 0.7 else rng.choice(ANIMAL_CLASSES)
    if form == "age_cmp":
        base = pick("age", tuple(range(19, 86)))
        m = base + rng.choice((-1, 1)) * rng.randrange(1, 16)
        return who, (rng.choice(("older", "younger")), m)
    base = pick("age", tuple(range(19, 86)))
    return who, base if rng.random() < 0.6 else base + rng.choice((-3, -2, -1, 1, 2, 3))


def _rte_hypothesis(rng: random.Random, form: str, who: str, value: Any) -> str:
    if form == "city":
        return rng.choice((f"{who} lives in {value}.", f"{who} resides in {value}.", f"{who} has a home in {value}."))
    if form == "city_not":
        return f"{who} does not live in {value}."
    if form == "country":
        return rng.choice((f"{who} lives in {value}.", f"{who} is based in {value}."))
    if form == "job":
        return rng.choice((f"{who} is {_a(value)}.", f"{who} works as {_a(value)}.",
                           f"{who} is employed as {_a(value)}."))
    if form == "job_not":
        return rng.choice((f"{who} is not {_a(value)}.", f"{who} does not work as {_a(value)}."))
    if form == "pet":
        return rng.choice((f"{who} owns {_a(value)}.", f"{who} has {_a(value)}."))
    if form == "pet_class":
        if value == "animal":
            return rng.choice((f"{who} owns an animal.", f"{who} has a pet."))
        return rng.choice((f"{who} owns {_a(value)}.", f"{who} has {_a(value)} as a pet."))
    if form == "age_cmp":
        op, m = value
        if op == "older":
            return rng.choice((f"{who} is older than {m}.", f"{who} is over {m} years old."))
        return rng.choice((f"{who} is younger than {m}.", f"{who} is under {m} years old."))
    return rng.choice((f"{who} is {value} years old.", f"{who} is {value}."))


def _rte_example(rng: random.Random) -> tuple[str, str, str]:
    entailed = rng.random() < 0.5
    form = rng.choices(list(RTE_FORMS), weights=list(RTE_FORMS.values()))[0]
    while True:
        people = _rte_people(rng)
        for _ in range(40):
            who, value = _rte_propose(rng, people, form)
            if _rte_truth(people, form, who, value) == entailed:
                label = RTE_LABELS[0] if entailed else RTE_LABELS[1]
                return _rte_premise(rng, people), _rte_hypothesis(rng, form, who, value), label


def rte_rows(seed: int, n_train: int, n_dev: int) -> dict[str, list[tuple[str, str, str]]]:
    """{"train": [(premise, hypothesis, label)], "dev": [...]}, label in `RTE_LABELS`."""
    return _split_rows("rte", seed, n_train, n_dev, _rte_example, lambda ex: ex[:2])


def generate_rte(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/rte/{train,dev}.tsv` in the GLUE RTE format; returns the task folder."""
    folder = Path(out_dir) / "rte"
    for split, rows in rte_rows(seed, n_train, n_dev).items():
        _write_tsv(folder / f"{split}.tsv", RTE_HEADER, [(str(i), p, h, y) for i, (p, h, y) in enumerate(rows)])
    return folder


# --- SQuAD ----------------------------------------------------------------------------------------

SQUAD_FIELDS = ("physics", "chemistry", "medicine", "law", "history", "economics", "music",
                "architecture", "biology", "mathematics", "philosophy", "engineering")
SQUAD_PRODUCTS = ("solar panels", "electric bicycles", "kitchen robots", "water filters", "wooden toys",
                  "hearing aids", "sailing boats", "weather sensors", "coffee machines", "running shoes",
                  "garden tools", "smart locks")
SQUAD_AWARDS = ("Golden Compass Prize", "Silver Anchor Medal", "Northern Star Award", "Blue Harbor Prize",
                "Iron Bridge Medal", "Crystal Lantern Award")
SQUAD_COMPANY_HEADS = ("Vel", "Nor", "Tar", "Lum", "Kor", "Ast", "Bel", "Cor", "Dal", "Fen", "Mar", "Sol")
SQUAD_COMPANY_TAILS = ("ora", "ex", "ion", "ix", "ant", "ium", "eno", "ara")
SQUAD_COMPANY_KINDS = ("Systems", "Works", "Labs", "Industries", "Group")


class _Context:
    """A paragraph built piece by piece that remembers where each answer-bearing piece starts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.spans: dict[str, tuple[int, str]] = {}

    def say(self, *pieces: str | tuple[str, str]) -> None:
        for piece in pieces:
            if isinstance(piece, tuple):
                key, piece = piece
                self.spans[key] = (self.length, piece)
            self.parts.append(piece)
            self.length += len(piece)

    def widen(self, key: str, new_key: str, before: str = "", after: str = "") -> None:
        """Record the span of `key` grown by the text around it (an alternative dev answer)."""
        start, text = self.spans[key]
        self.spans[new_key] = (start - len(before), before + text + after)

    def text(self) -> str:
        return "".join(self.parts)


SQUAD_FACT_RATE = 0.35


def _squad_paragraph(rng: random.Random) -> tuple[str, list[tuple[str, str, list[str]]]]:
    """A context and its questions as (question, answer key, alternative answer keys)."""
    first_a, first_b = rng.sample(NAMES, 2)
    last_a, last_b = rng.sample(SURNAMES, 2)
    a, b = f"{first_a} {last_a}", f"{first_b} {last_b}"
    company = rng.choice(SQUAD_COMPANY_HEADS) + rng.choice(SQUAD_COMPANY_TAILS) + " " + rng.choice(SQUAD_COMPANY_KINDS)
    city_born, city_study, city_b, city_hq, city_died = rng.sample(CITIES, 5)
    year_born = rng.randrange(1890, 1960)
    year_met = year_born + rng.randrange(19, 30)
    year_founded = year_met + rng.randrange(1, 12)
    year_staff = year_founded + rng.randrange(5, 20)
    year_award = year_founded + rng.randrange(2, 25)
    year_died = max(year_staff, year_award) + rng.randrange(2, 20)
    staff = rng.randrange(12, 5000)
    field, product, job_b, award = (rng.choice(SQUAD_FIELDS), rng.choice(SQUAD_PRODUCTS), rng.choice(JOBS),
                                    rng.choice(SQUAD_AWARDS))
    institution = rng.choice((f"University of {city_study}", f"{city_study} Institute of Technology",
                              f"Royal Academy of {city_study}"))

    def ref() -> str:
        # Later mentions often use the surname alone, as encyclopedic prose does.
        return a if rng.random() < 0.5 else last_a

    ctx = _Context()
    qas: list[tuple[str, str, list[str]]] = []

    def ask(options: list[tuple[str, str, list[str]]], k: int) -> None:
        qas.extend(rng.sample(options, min(k, len(options))))

    facts = ["study", "met", "founded", "hq", "staff", "award", "died"]
    # Two or three facts beyond the birth on average: paragraphs of about 50 word pieces, so that a
    # question and its context fit one short window.
    chosen = [f for f in facts if rng.random() < SQUAD_FACT_RATE]
    if "staff" in chosen or "hq" in chosen:
        chosen = sorted(set(chosen) | {"founded"}, key=facts.index)

    if rng.random() < 0.5:
        ctx.say(("a", a), " was born in ", ("born_city", city_born), " in ", ("born_year", str(year_born)), ".")
    else:
        ctx.say(("a", a), " was born in ", ("born_year", str(year_born)), " in ", ("born_city", city_born), ".")
    ctx.widen("born_year", "born_year_in", before="in ")
    ask([(f"Where was {a} born?", "born_city", []), (f"In which city was {a} born?", "born_city", []),
         (f"In what year was {a} born?", "born_year", ["born_year_in"]),
         (f"When was {a} born?", "born_year", ["born_year_in"])], rng.choice((1, 2)))

    for fact in chosen:
        ctx.say(" ")
        if fact == "study":
            ctx.say(ref(), " studied ", ("field", field), " at the ", ("inst", institution), ".")
            ctx.widen("inst", "inst_the", before="the ")
            ask([(f"What did {a} study?", "field", []), (f"Which subject did {last_a} study?", "field", []),
                 (f"Where did {a} study {field}?", "inst", ["inst_the"])], rng.choice((1, 2)))
        elif fact == "met":
            ctx.say("In ", ("met_year", str(year_met)), ", ", ref(), " met ", ("b", b), ", a ", ("job_b", job_b),
                    " from ", ("city_b", city_b), ".")
            ctx.widen("job_b", "job_b_a", before="a ")
            ask([(f"Whom did {a} meet in {year_met}?", "b", []), (f"Where was {b} from?", "city_b", []),
                 (f"What was the job of {b}?", "job_b", ["job_b_a"]),
                 (f"When did {a} meet {b}?", "met_year", [])], rng.choice((1, 2)))
        elif fact == "founded":
            founder = a if "met" not in chosen or rng.random() < 0.6 else b
            shown = founder if founder == b else ref()
            ctx.say("In ", ("founded_year", str(year_founded)), ", ", ("founder", shown), " founded ", company,
                    ", a company that makes ", ("product", product), ".")
            ask([(f"Who founded {company}?", "founder", []), (f"What does {company} make?", "product", []),
                 (f"When was {company} founded?", "founded_year", []),
                 (f"In what year did {founder} found {company}?", "founded_year", [])], rng.choice((1, 2)))
        elif fact == "hq":
            opening = rng.choice(("The company is based in ", f"{company} has its headquarters in "))
            ctx.say(opening, ("hq", city_hq), ".")
            ask([(f"Where is {company} based?", "hq", []),
                 (f"In which city are the headquarters of {company}?", "hq", [])], 1)
        elif fact == "staff":
            ctx.say("By ", ("staff_year", str(year_staff)), ", the company employed ", ("staff", str(staff)),
                    " people.")
            ctx.widen("staff", "staff_people", after=" people")
            ask([(f"How many people did {company} employ by {year_staff}?", "staff", ["staff_people"])], 1)
        elif fact == "award":
            ctx.say("In ", ("award_year", str(year_award)), ", ", ref(), " received the ", ("award", award), ".")
            ctx.widen("award", "award_the", before="the ")
            ask([(f"Which award did {a} receive?", "award", ["award_the"]),
                 (f"When did {a} receive the {award}?", "award_year", [])], rng.choice((1, 2)))
        else:
            ctx.say(ref(), " died in ", ("died_city", city_died), " in ", ("died_year", str(year_died)), ".")
            ctx.widen("died_year", "died_year_in", before="in ")
            ask([(f"Where did {a} die?", "died_city", []),
                 (f"In what year did {a} die?", "died_year", ["died_year_in"])], rng.choice((1, 2)))

    context = ctx.text()
    resolved = []
    for question, key, alts in qas:
        spans = [ctx.spans[key]] + [ctx.spans[k] for k in alts]
        resolved.append((question, [{"text": t, "answer_start": s} for s, t in spans]))
    return context, resolved


def _squad_id(rng: random.Random, ids: set) -> str:
    return _unique(lambda: f"{rng.getrandbits(96):024x}", lambda x: x, 1, ids, "squad ids")[0]


def squad_json(seed: int, n_train: int, n_dev: int) -> dict[str, dict[str, Any]]:
    """{"train": squad_v1_dict, "dev": squad_v1_dict} with exactly the asked number of questions.

    Train questions have one answer; dev questions one to three (the answer as written, or with a
    neighbouring article/preposition), as annotators of the real dev set gave.
    """
    seen: set = set()
    ids: set = set()
    out = {}
    for split, n in (("train", n_train), ("dev", n_dev)):
        rng = _rng(seed, "squad", split)
        articles: list[dict[str, Any]] = []
        count = 0
        while count < n:
            paragraphs = []
            for _ in range(rng.randrange(1, 4)):
                if count >= n:
                    break
                context, qas = _squad_paragraph(rng)
                if context in seen:
                    continue
                seen.add(context)
                entries = []
                for question, answers in qas[: n - count]:
                    if split == "train":
                        kept = answers[:1]
                    else:
                        k = rng.choice((1, 2, 3, 3, 3))
                        kept = answers[:1] + [rng.choice(answers) for _ in range(k - 1)]
                    entries.append({"id": _squad_id(rng, ids), "question": question, "answers": kept})
                count += len(entries)
                paragraphs.append({"context": context, "qas": entries})
            if paragraphs:
                title = paragraphs[0]["context"].split(" was born")[0].replace(" ", "_")
                articles.append({"title": title, "paragraphs": paragraphs})
        data = {"data": articles, "version": "1.1"}
        check_squad(data)
        out[split] = data
    return out


def check_squad(data: Mapping[str, Any]) -> int:
    """Raise ValueError unless every answer is the exact context slice it points at; returns #questions."""
    n = 0
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                n += 1
                for answer in qa["answers"]:
                    start, text = answer["answer_start"], answer["text"]
                    if start < 0 or context[start:start + len(text)] != text:
                        raise ValueError(
                            f"question {qa['id']}: answer {text!r} is not at offset {start} of its context")
    return n


def generate_squad(out_dir: str | os.PathLike, seed: int, n_train: int = 3000, n_dev: int = 500) -> Path:
    """Write `<out_dir>/squad/{train,dev}-v1.1.json` (official SQuAD v1.1 JSON); returns the folder."""
    folder = Path(out_dir) / "squad"
    folder.mkdir(parents=True, exist_ok=True)
    for split, data in squad_json(seed, n_train, n_dev).items():
        with open(folder / f"{split}-v1.1.json", "w", encoding="utf-8", newline="\n") as fh:
            json.dump(data, fh, ensure_ascii=False)
    return folder


# --- corpus ---------------------------------------------------------------------------------------

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
        return rng.choice((f"{_cap(_a(animal))} is {_a(ANIMAL_CLASS[animal])} .", f"{_cap(_a(animal))} is an animal ."))
    group = rng.choice(MRPC_VERBS + MRPC_NOUNS + MRPC_ADJS)
    first, second = rng.sample(group, 2)
    if group in MRPC_NOUNS:
        return rng.choice((f"{_cap(_a(first))} is also called {_a(second)} .", f"{_cap(_a(first))} is {_a(second)} ."))
    return rng.choice((f"{_cap(first)} means the same as {second} .", f"{_cap(first)} means {second} ."))


def corpus_lines(seed: int, n_units: int = DEFAULT_CORPUS_UNITS) -> list[str]:
    """Unlabelled text for the tokenizer and masked-LM pre-training, drawn from its own stream.

    A unit is one sentence, or a pair kept on adjacent lines (paraphrases, premise + hypothesis,
    a context + its questions) so that packed pre-training sequences see related sentences together.
    """
    rng = _rng(seed, "corpus")
    lines: list[str] = []
    kinds = {"sst2": 25, "mrpc": 20, "rte": 20, "squad": 20, "fact": 15}
    for _ in range(n_units):
        kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
        if kind == "sst2":
            lines.append(_sst2_review(rng) if rng.random() < 0.7 else _sst2_example(rng)[0])
        elif kind == "mrpc":
            lines.extend(_mrpc_example(rng)[1:])
        elif kind == "rte":
            lines.extend(_rte_example(rng)[:2])
        elif kind == "squad":
            context, qas = _squad_paragraph(rng)
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


# --- writing --------------------------------------------------------------------------------------

def _write_tsv(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    # Written by hand, not with csv.writer: the GLUE files are read with quoting off, so a field
    # must never be quoted or escaped, and must hold no tab or newline.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\t".join(header) + "\n")
        for row in rows:
            if len(row) != len(header) or any("\t" in f or "\n" in f for f in row):
                raise ValueError(f"{path.name}: malformed row {row!r}")
            fh.write("\t".join(row) + "\n")


@contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty folder beside `target` that becomes `target` in one rename on success.

    A run killed half-way leaves only a hidden `.<name>.tmp-*` folder, never a `target` that looks
    finished. An existing `target` is replaced; it is moved aside first because a rename cannot land
    on a non-empty folder.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def resolve_sizes(sizes: Mapping[str, Any] | None = None) -> dict[str, tuple[int, int]]:
    """Task -> (n_train, n_dev) from the config's `demo` keys and/or per-task pairs.

    `sizes` may hold `classification_train`, `classification_eval`, `qa_train`, `qa_eval` (as in the
    config) and per-task overrides such as `{"rte": (500, 100)}`; missing keys take the defaults.
    """
    sizes = dict(sizes or {})
    unknown = sorted(set(sizes) - set(DEFAULT_SIZES) - set(TASKS) - {"seed"})
    if unknown:
        raise ValueError(f"unknown size key(s) {unknown}; expected {sorted(DEFAULT_SIZES)} or task names {list(TASKS)}")
    flat = {k: sizes.get(k, v) for k, v in DEFAULT_SIZES.items()}
    out = {t: (flat["classification_train"], flat["classification_eval"]) for t in TASKS if t != "squad"}
    out["squad"] = (flat["qa_train"], flat["qa_eval"])
    for task in TASKS:
        if task in sizes:
            out[task] = tuple(sizes[task])
    for task, pair in out.items():
        if len(pair) != 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in pair):
            raise ValueError(f"{task}: sizes must be two positive integers (train, dev), got {pair!r}")
    return out


GENERATORS = {"sst2": generate_sst2, "mrpc": generate_mrpc, "rte": generate_rte, "squad": generate_squad}


def _generator(task: str) -> Callable[..., Path]:
    """The writer for `task`; CoLA and STS-B live in `extra_tasks`, which imports this module."""
    if task in GENERATORS:
        return GENERATORS[task]
    from . import extra_tasks
    return extra_tasks.GENERATORS[task]


def generate_all(out_dir: str | os.PathLike, seed: int, sizes: Mapping[str, Any] | None = None,
                 corpus_units: int = DEFAULT_CORPUS_UNITS, tasks: tuple[str, ...] = TASKS) -> dict[str, Any]:
    """Write every task folder, `corpus.txt` and `manifest.json` under `out_dir`, atomically.

    Returns the manifest: seed, sizes and each split's label balance, for the log and the record.
    """
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; known: {list(TASKS)}")
    resolved = resolve_sizes(sizes)
    manifest: dict[str, Any] = {"generator": "peftdeck.demo.data", "format_version": FORMAT_VERSION,
                                "seed": seed, "corpus_units": corpus_units, "tasks": {}}
    with atomic_directory(out_dir) as tmp:
        for task in tasks:
            n_train, n_dev = resolved[task]
            folder = _generator(task)(tmp, seed, n_train, n_dev)
            manifest["tasks"][task] = {"train": n_train, "dev": n_dev,
                                       "files": sorted(p.name for p in folder.iterdir()),
                                       "positive_rate": _positive_rates(task, folder)}
        generate_corpus(tmp / "corpus.txt", seed, corpus_units)
        with open(tmp / "manifest.json", "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=True)
            fh.write("\n")
    return manifest


def _positive_rates(task: str, folder: Path) -> dict[str, float] | None:
    """Share of positive labels per split (CoLA: acceptable; STS-B: the mean score instead)."""
    if task == "squad":
        return None
    if task in ("cola", "stsb"):
        from . import extra_tasks
        return extra_tasks.label_summary(task, folder)
    rates = {}
    for split in ("train", "dev"):
        with open(folder / f"{split}.tsv", encoding="utf-8") as fh:
            rows = [line.rstrip("\n").split("\t") for line in fh][1:]
        labels = [r[0] if task == "mrpc" else r[-1] for r in rows]
        rates[split] = round(sum(y in ("1", "entailment") for y in labels) / len(labels), 4)
    return rates


# --- command line ---------------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m peftdeck.demo.data",
        description="Generate the demo tasks (SST-2/MRPC/RTE/SQuAD formats) and corpus.txt into one folder.")
    parser.add_argument("--out", required=True, help="output folder (replaced atomically if it exists)")
    parser.add_argument("--seed", type=int, required=True, help="random seed; same seed, same bytes")
    for key, default in DEFAULT_SIZES.items():
        parser.add_argument("--" + key.replace("_", "-"), type=_positive_int, default=default,
                            help=f"default {default}")
    parser.add_argument("--corpus-units", type=_positive_int, default=DEFAULT_CORPUS_UNITS,
                        help=f"units of unlabelled text in corpus.txt (default {DEFAULT_CORPUS_UNITS})")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {','.join(TASKS)}")
    args = parser.parse_args(argv)
    tasks = tuple(t for t in args.tasks.split(",") if t)
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        parser.error(f"--tasks: unknown task(s) {bad}; choose from {','.join(TASKS)}")
    sizes = {key: getattr(args, key) for key in DEFAULT_SIZES}
    try:
        manifest = generate_all(args.out, args.seed, sizes, corpus_units=args.corpus_units, tasks=tasks)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"peftdeck.demo.data: error: {err}", file=sys.stderr)
        return 1
    for task, info in manifest["tasks"].items():
        print(f"{task}: {info['train']} train / {info['dev']} dev, positive rate {info['positive_rate']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
