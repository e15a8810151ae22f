"""Every path the pipeline reads or writes is built here, and only here.

A cell's address is its output path::

    results/<study>/runs/<task>/<method>/n<size>/<sched>-lr<lr>-bs<bs>/seed<seed>/metrics.json

so asking Snakemake for that one file runs exactly that cell.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

RESULTS = "results"
RESOURCES = "resources"
SLIDES = "slides"

CELL_PATTERN = (
    RESULTS + "/{study}/runs/{task}/{method}/n{size}/{sched}-lr{lr}-bs{bs}/seed{seed}/metrics.json"
)

# Regular expressions for the wildcards that do not depend on the config.
WILDCARD_RES = {
    "study": r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    "size": r"(?:[0-9]+|all|[0-9.]+pct)(?:-ho[0-9.]+)?",
    "sched": r"(?:ep[0-9.]+|st[0-9]+x[0-9.]+)(?:t[0-9]+)?",
    "lr": r"[0-9.]+(?:e[-+]?[0-9]+)?",
    "bs": r"[0-9]+",
    "seed": r"[0-9]+",
}


def fmt_float(x: float) -> str:
    """Shortest stable text for a number in a path: 2e-05, 0.001, 3."""
    return f"{float(x):g}"


def sched_tag(schedule: dict[str, Any]) -> str:
    """`{epochs: 3}` -> `ep3`; `{steps: 2000, epochs: 2}` -> `st2000x2`; a time budget adds `t<seconds>`."""
    epochs = fmt_float(schedule["epochs"])
    tag = f"st{int(schedule['steps'])}x{epochs}" if schedule.get("steps") else f"ep{epochs}"
    if schedule.get("seconds"):
        tag += f"t{int(schedule['seconds'])}"
    return tag


def parse_sched(tag: str) -> dict[str, Any]:
    m = re.fullmatch(r"(?:ep([0-9.]+)|st([0-9]+)x([0-9.]+))(?:t([0-9]+))?", tag)
    if not m:
        raise ValueError(f"schedule tag {tag!r} is not ep<E> or st<S>x<E>, optionally followed by t<seconds>")
    out: dict[str, Any] = {"epochs": float(m.group(1) or m.group(3))}
    if m.group(2):
        out["steps"] = int(m.group(2))
    if m.group(4):
        out["seconds"] = int(m.group(4))
    return out


def size_tag(train_size: int | str, holdout: float | None = None) -> str:
    """500 -> `500`; all -> `all`; "10%" -> `10pct`; a held-out selection split adds `-ho<fraction>`."""
    text = str(train_size)
    if text.endswith("%"):
        text = fmt_float(float(text[:-1])) + "pct"
    return text + (f"-ho{fmt_float(holdout)}" if holdout else "")


def parse_size(tag: str) -> tuple[int | str, float | None]:
    m = re.fullmatch(r"([0-9]+|all|([0-9.]+)pct)(?:-ho([0-9.]+))?", tag)
    if not m:
        raise ValueError(f"size tag {tag!r} is not <n>, all or <p>pct, optionally followed by -ho<fraction>")
    size: int | str
    if m.group(2):
        size = fmt_float(float(m.group(2))) + "%"
    elif m.group(1) == "all":
        size = "all"
    else:
        size = int(m.group(1))
    return size, float(m.group(3)) if m.group(3) else None


@dataclass(frozen=True, order=True)
class Cell:
    """One training run: everything that tells two runs of a study apart."""

    study: str
    task: str
    method: str
    train_size: int | str  # an int, "all", or a fraction of the train split such as "10%"
    sched: str
    lr: float
    batch_size: int
    seed: int
    holdout: float | None = None  # fraction of train held out for model selection (grid studies)

    @property
    def path(self) -> str:
        return cell_path(self)

    @property
    def dir(self) -> str:
        return self.path.rsplit("/", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "task": self.task,
            "method": self.method,
            "train_size": self.train_size,
            "schedule": self.sched,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "holdout": self.holdout,
        }


def cell_wildcards(cell: Cell) -> dict[str, str]:
    return {
        "study": cell.study,
        "task": cell.task,
        "method": cell.method,
        "size": size_tag(cell.train_size, cell.holdout),
        "sched": cell.sched,
        "lr": fmt_float(cell.lr),
        "bs": str(cell.batch_size),
        "seed": str(cell.seed),
    }


def cell_path(cell: Cell) -> str:
    return CELL_PATTERN.format(**cell_wildcards(cell))


def cell_from_wildcards(w: Any) -> Cell:
    """Build a Cell from Snakemake wildcards (or any mapping with the same keys)."""
    get = (lambda k: w[k]) if isinstance(w, dict) else (lambda k: getattr(w, k))
    size, holdout = parse_size(get("size"))
    return Cell(
        study=get("study"),
        task=get("task"),
        method=get("method"),
        train_size=size,
        sched=get("sched"),
        lr=float(get("lr")),
        batch_size=int(get("bs")),
        seed=int(get("seed")),
        holdout=holdout,
    )


_CELL_RE = re.compile(
    r"(?:.*/)?" + re.escape(RESULTS) + r"/(?P<study>[^/]+)/runs/(?P<task>[^/]+)/(?P<method>[^/]+)/"
    r"n(?P<size>" + WILDCARD_RES["size"] + r")/(?P<sched>" + WILDCARD_RES["sched"] + r")"
    r"-lr(?P<lr>[0-9.]+(?:e[-+]?[0-9]+)?)"
    r"-bs(?P<bs>[0-9]+)/seed(?P<seed>[0-9]+)/metrics\.json"
)


def parse_cell_path(path: str) -> Cell:
    """Inverse of `cell_path`; raises ValueError on anything that is not a cell address."""
    m = _CELL_RE.fullmatch(str(path))
    if not m:
        raise ValueError(
            f"{path!r} is not a cell address; expected {CELL_PATTERN} "
            "(e.g. results/demo/runs/<task>/<method>/nall/ep3-lr0.001-bs16/seed42/metrics.json)"
        )
    return cell_from_wildcards(m.groupdict())


# --- study-level outputs --------------------------------------------------------------------

def study_dir(study: str) -> str:
    return f"{RESULTS}/{study}"


def demo_data_dir(study: str) -> str:
    return f"{RESULTS}/{study}/demo_data"


def demo_model_dir(study: str) -> str:
    return f"{RESULTS}/{study}/model"


def hub_model_dir(model_id: str) -> str:
    return f"{RESOURCES}/models/{model_id.replace('/', '--')}"


def hub_data_dir(task: str) -> str:
    return f"{RESOURCES}/data/{task}"


def hub_check_marker() -> str:
    """Written by the rule that checks, before the first download, that the Hub answers."""
    return f"{RESOURCES}/.hub-reachable"


def chosen_json(study: str, experiment: str) -> str:
    """The settings a tuned experiment runs at (`tuned_on`): per task and method, what its grid chose."""
    return f"{RESULTS}/{study}/chosen/{experiment}.json"


def tables_dir(study: str) -> str:
    return f"{RESULTS}/{study}/tables"


def cells_csv(study: str) -> str:
    return f"{tables_dir(study)}/cells.csv"


def summary_json(study: str) -> str:
    return f"{tables_dir(study)}/summary.json"


# --- the deck: one folder per study, so building one study never overwrites another's deck ------

def slides_dir(study: str) -> str:
    return f"{SLIDES}/{study}"


def figures_dir(study: str) -> str:
    return f"{slides_dir(study)}/figures"


def deck_md(study: str) -> str:
    return f"{slides_dir(study)}/deck.md"


def deck_html(study: str) -> str:
    return f"{slides_dir(study)}/deck.html"


def deck_pdf(study: str) -> str:
    return f"{slides_dir(study)}/deck.pdf"
