"""SQuAD-shaped extractive QA task, written as the official SQuAD v1.1 JSON files.

Short biographical paragraphs with distractors (two people, several cities and years); questions
about one fact each. Dev questions carry one to three answers (with/without an article or "in"),
like the real dev set. Standard library only.
"""
from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .draw import distinct, stream
from .files import write_json
from .vocab import CITIES, JOBS, NAMES, SURNAMES

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


def squad_paragraph(rng: random.Random) -> tuple[str, list[tuple[str, str, list[str]]]]:
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
    return distinct(lambda: f"{rng.getrandbits(96):024x}", lambda x: x, 1, ids, "squad ids")[0]


def squad_json(seed: int, n_train: int, n_dev: int) -> dict[str, dict[str, Any]]:
    """{"train": squad_v1_dict, "dev": squad_v1_dict} with exactly the asked number of questions.

    Train questions have one answer; dev questions one to three (the answer as written, or with a
    neighbouring article/preposition), as annotators of the real dev set gave.
    """
    seen: set = set()
    ids: set = set()
    out = {}
    for split, n in (("train", n_train), ("dev", n_dev)):
        rng = stream(seed, "squad", split)
        articles: list[dict[str, Any]] = []
        count = 0
        while count < n:
            paragraphs = []
            for _ in range(rng.randrange(1, 4)):
                if count >= n:
                    break
                context, qas = squad_paragraph(rng)
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
        write_json(folder / f"{split}-v1.1.json", data)
    return folder
