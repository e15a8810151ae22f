"""RTE-shaped entailment task (hard), written as the GLUE RTE TSV files.

Short premises about one to three people and a hypothesis that mostly restates a fact or names a
value the premise never mentions; a minority generalises (city -> country, dog -> mammal, age ->
"older than"), negates or swaps people. Every hypothesis form is 50/50 entailed, so the hypothesis
alone does not give the answer away. Standard library only.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from .draw import split_rows
from .files import label_share, write_tsv
from .vocab import (ANIMAL_CLASS, ANIMAL_CLASSES, ANIMALS, CITIES, COUNTRIES, COUNTRY_OF, DAYS, FEMALE, JOBS, NAMES,
                    article)

RTE_HEADER = ("index", "sentence1", "sentence2", "label")
RTE_LABELS = ("entailment", "not_entailment")

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
        out.append(rng.choice((f"works as {article(j)}", f"is {article(j)}",
                               f"has worked as {article(j)} for {years} years")))
    if "pet" in facts:
        p = facts["pet"]
        out.append(rng.choice((f"owns {article(p)}", f"has {article(p)}", f"keeps {article(p)} at home")))
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
                sentences.append(f"{name}, {article(facts['job'])} living in {facts['city']}, {_join(rest)}.")
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
        return rng.choice((f"{who} is {article(value)}.", f"{who} works as {article(value)}.",
                           f"{who} is employed as {article(value)}."))
    if form == "job_not":
        return rng.choice((f"{who} is not {article(value)}.", f"{who} does not work as {article(value)}."))
    if form == "pet":
        return rng.choice((f"{who} owns {article(value)}.", f"{who} has {article(value)}."))
    if form == "pet_class":
        if value == "animal":
            return rng.choice((f"{who} owns an animal.", f"{who} has a pet."))
        return rng.choice((f"{who} owns {article(value)}.", f"{who} has {article(value)} as a pet."))
    if form == "age_cmp":
        op, m = value
        if op == "older":
            return rng.choice((f"{who} is older than {m}.", f"{who} is over {m} years old."))
        return rng.choice((f"{who} is younger than {m}.", f"{who} is under {m} years old."))
    return rng.choice((f"{who} is {value} years old.", f"{who} is {value}."))


def rte_example(rng: random.Random) -> tuple[str, str, str]:
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
    return split_rows("rte", seed, n_train, n_dev, rte_example, lambda ex: ex[:2])


def generate_rte(out_dir: str | os.PathLike, seed: int, n_train: int = 2000, n_dev: int = 400) -> Path:
    """Write `<out_dir>/rte/{train,dev}.tsv` in the GLUE RTE format; returns the task folder."""
    folder = Path(out_dir) / "rte"
    for split, rows in rte_rows(seed, n_train, n_dev).items():
        write_tsv(folder / f"{split}.tsv", RTE_HEADER, [(str(i), p, h, y) for i, (p, h, y) in enumerate(rows)])
    return folder


def label_summary(folder: Path) -> dict[str, float]:
    """Per split, the share of entailed pairs (for the manifest)."""
    return label_share(folder, -1, RTE_LABELS[0])
