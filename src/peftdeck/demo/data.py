"""Generated stand-ins for SST-2, MRPC, RTE, SQuAD v1.1, CoLA and STS-B, written in the original file formats.

The demo must run offline, so it cannot use the real data; but it should exercise the same loading
code and show the same kind of result (methods that differ, tasks that differ in difficulty). So
each task here is drawn from a small grammar over a few hundred words with a signal a small pretrained
encoder can learn in about a hundred optimizer steps, and written exactly as the real task is
distributed. Each task has its own module, which describes it:

- ``sst2`` (easy), ``mrpc`` (medium), ``rte`` (hard), ``squad`` (extractive QA): the default demo;
- ``cola``, ``stsb``: the rest of the training-fraction study's tasks.

``corpus`` writes ``corpus.txt`` (unlabelled text from the same grammar) for the tokenizer and the
pre-training; ``vocab`` holds the words all of them share, ``draw`` the random streams and
``files`` the file writing. This module is the entry point: `generate_all` and the command line

    python -m peftdeck.demo.data --out results/demo/data --seed 0

Output is a deterministic function of the seed and the sizes. Only the standard library is used,
so the data rule starts fast and never needs torch.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import cola, mrpc, rte, sst2, stsb
from .cola import cola_rows, generate_cola
from .corpus import DEFAULT_CORPUS_UNITS, corpus_lines, generate_corpus
from .files import atomic_directory, write_json
from .mrpc import generate_mrpc, mrpc_rows
from .rte import generate_rte, rte_rows
from .squad import check_squad, generate_squad, squad_json
from .sst2 import generate_sst2, sst2_rows
from .stsb import generate_stsb, stsb_rows

__all__ = ["DEFAULT_CORPUS_UNITS", "DEFAULT_SIZES", "FORMAT_VERSION", "GENERATORS", "TASKS", "atomic_directory",
           "check_squad", "cola_rows", "corpus_lines", "generate_all", "generate_cola", "generate_corpus",
           "generate_mrpc", "generate_rte", "generate_squad", "generate_sst2", "generate_stsb", "label_summary",
           "main", "mrpc_rows", "resolve_sizes", "rte_rows", "squad_json", "sst2_rows", "stsb_rows"]

FORMAT_VERSION = 1
TASKS = ("sst2", "mrpc", "rte", "squad", "cola", "stsb")
DEFAULT_SIZES = {"classification_train": 2000, "classification_eval": 400, "qa_train": 3000, "qa_eval": 500}

GENERATORS: dict[str, Callable[..., Path]] = {
    "sst2": generate_sst2, "mrpc": generate_mrpc, "rte": generate_rte, "squad": generate_squad,
    "cola": generate_cola, "stsb": generate_stsb}
# What the manifest records per split: the share of positive labels (CoLA: acceptable sentences;
# STS-B: the mean score instead). SQuAD has no label to count.
LABEL_SUMMARIES: dict[str, Callable[[Path], dict[str, float]]] = {
    "sst2": sst2.label_summary, "mrpc": mrpc.label_summary, "rte": rte.label_summary,
    "cola": cola.label_summary, "stsb": stsb.label_summary}


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


def label_summary(task: str, folder: Path) -> dict[str, float] | None:
    """Per split, the manifest's label summary of a written task folder (None for SQuAD)."""
    summarize = LABEL_SUMMARIES.get(task)
    return summarize(Path(folder)) if summarize else None


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
            folder = GENERATORS[task](tmp, seed, n_train, n_dev)
            manifest["tasks"][task] = {"train": n_train, "dev": n_dev,
                                       "files": sorted(p.name for p in folder.iterdir()),
                                       "positive_rate": label_summary(task, folder)}
        generate_corpus(tmp / "corpus.txt", seed, corpus_units)
        write_json(tmp / "manifest.json", manifest, pretty=True)
    return manifest


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
