"""Tiny GLUE/SQuAD data and a tiny BERT, written twice: as the original local files (GLUE TSV folders,
SQuAD v1.1 JSON) and as Hub repositories for the stand-in Hub (parquet per config and split), both
from the same rows, so a test can check that the two sources give peftdeck the same examples.

The rows carry what makes the formats differ: quotes inside unquoted TSV fields, non-ASCII text,
the byte-order mark MRPC files start with, RTE's word labels, several answers per SQuAD question.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from standin_hub import Repo, dataset_repo, model_repo

WORDS = ("the film was good bad great dull fine awful a plot actor story scene music long short "
         "and but not very quite it is this that movie café naïve says said he she they").split()
POSITIVE, NEGATIVE = ("good", "great", "fine"), ("bad", "dull", "awful")


def _sentence(rng: random.Random, label: int | None = None, n: int = 7) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    if label is not None:
        words[rng.randrange(n)] = rng.choice(POSITIVE if label else NEGATIVE)
    text = " ".join(words)
    # A quote, an apostrophe and a non-ASCII word now and then: GLUE TSVs keep them as plain text.
    roll = rng.random()
    if roll < 0.15:
        text = f'"{text}" , he said'
    elif roll < 0.3:
        text = text.replace(" is ", " isn't ", 1) + " é"
    return text


def glue_rows(seed: int = 0, sizes: dict[str, int] | None = None) -> dict[str, dict[str, list[dict]]]:
    """task -> split -> rows with Hub columns (test rows unlabelled: label -1, as on the Hub)."""
    rng = random.Random(seed)
    sizes = sizes or {"train": 64, "validation": 32, "test": 8}
    out: dict[str, dict[str, list[dict]]] = {}
    for task in ("sst2", "mrpc", "rte"):
        out[task] = {}
        idx = 0
        for split, n in sizes.items():
            rows = []
            for _ in range(n):
                label = rng.randrange(2)
                if task == "sst2":
                    row = {"sentence": _sentence(rng, label)}
                else:
                    a = _sentence(rng)
                    row = {"sentence1": a, "sentence2": a if label == (task == "mrpc") else _sentence(rng)}
                row["label"] = label if split != "test" else -1
                row["idx"] = idx
                idx += 1
                rows.append(row)
            out[task][split] = rows
    return out


def squad_rows(seed: int = 0, sizes: dict[str, int] | None = None) -> dict[str, list[dict]]:
    rng = random.Random(seed + 1)
    sizes = sizes or {"train": 40, "validation": 16}
    out: dict[str, list[dict]] = {}
    for split, n in sizes.items():
        rows = []
        for i in range(n):
            subject = rng.choice(["Ana", "Béla", "Chen", "Dora", "Emeka"])
            place = rng.choice(["Lisbon", "Kraków", "Osaka", "Lagos", "Quito"])
            year = str(rng.randrange(1900, 2020))
            context = (f"{subject} moved to {place} in {year}. " + _sentence(rng, n=6) + ". "
                       f"Later {subject} wrote a book about \"{place}\".")
            question, answer = rng.choice([(f"Where did {subject} move?", place), (f"When did {subject} move?", year)])
            starts = [context.index(answer)]
            texts = [answer]
            if rng.random() < 0.5:  # a second annotator's answer, as in the dev set
                texts.append(answer)
                starts.append(context.index(answer))
            rows.append({"id": f"{split[:2]}{i:04d}", "title": f"Article_{i % 3}", "context": context,
                         "question": question, "answers": {"text": texts, "answer_start": starts}})
        out[split] = rows
    return out


# --- the local files, as the original distributions ship them ---------------------------------------

def write_local_glue(rows: dict[str, dict[str, list[dict]]], root: Path) -> dict[str, Path]:
    """GLUE folders SST-2, MRPC, RTE with train.tsv and dev.tsv, in the original layouts."""
    folders = {}
    for task, by_split in rows.items():
        folder = root / {"sst2": "SST-2", "mrpc": "MRPC", "rte": "RTE"}[task]
        folder.mkdir(parents=True, exist_ok=True)
        for split, name in (("train", "train.tsv"), ("validation", "dev.tsv")):
            lines = []
            if task == "sst2":
                lines.append("sentence\tlabel")
                lines += [f"{r['sentence']}\t{r['label']}" for r in by_split[split]]
                text = "\n".join(lines) + "\n"
            elif task == "mrpc":
                lines.append("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String")
                lines += [f"{r['label']}\t{2 * r['idx']}\t{2 * r['idx'] + 1}\t{r['sentence1']}\t{r['sentence2']}"
                          for r in by_split[split]]
                text = "\ufeff" + "\r\n".join(lines) + "\r\n"  # MRPC ships with a BOM and CRLF
            else:
                names = ("entailment", "not_entailment")
                lines.append("index\tsentence1\tsentence2\tlabel")
                lines += [f"{r['idx']}\t{r['sentence1']}\t{r['sentence2']}\t{names[r['label']]}"
                          for r in by_split[split]]
                text = "\n".join(lines) + "\n"
            (folder / name).write_bytes(text.encode("utf-8"))
        folders[task] = folder
    return folders


def write_local_squad(rows: dict[str, list[dict]], root: Path) -> Path:
    """SQuAD v1.1 JSON (train-v1.1.json, dev-v1.1.json): articles -> paragraphs -> questions."""
    root.mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "train-v1.1.json"), ("validation", "dev-v1.1.json")):
        articles: dict[str, dict[str, list]] = {}
        for r in rows[split]:
            paragraphs = articles.setdefault(r["title"], {})
            qas = paragraphs.setdefault(r["context"], [])
            qas.append({"id": r["id"], "question": r["question"],
                        "answers": [{"text": t, "answer_start": s}
                                    for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])]})
        doc = {"version": "1.1", "data": [
            {"title": title, "paragraphs": [{"context": c, "qas": q} for c, q in paragraphs.items()]}
            for title, paragraphs in articles.items()]}
        (root / name).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return root


def squad_in_file_order(rows: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The rows in the order the JSON files hold them (grouped by article, then paragraph)."""
    out = {}
    for split, split_rows in rows.items():
        order: dict[str, dict[str, list]] = {}
        for r in split_rows:
            order.setdefault(r["title"], {}).setdefault(r["context"], []).append(r)
        out[split] = [r for paragraphs in order.values() for qs in paragraphs.values() for r in qs]
    return out


# --- the same rows as Hub repositories ---------------------------------------------------------------

def glue_repo(rows: dict[str, dict[str, list[dict]]], repo_id: str = "nyu-mll/glue") -> Repo:
    from datasets import ClassLabel, Dataset, Features, Value

    names = {"sst2": ["negative", "positive"], "mrpc": ["not_equivalent", "equivalent"],
             "rte": ["entailment", "not_entailment"]}
    splits = {}
    for task, by_split in rows.items():
        text = {"sentence": Value("string")} if task == "sst2" else {
            "sentence1": Value("string"), "sentence2": Value("string")}
        features = Features({**text, "label": ClassLabel(names=names[task]), "idx": Value("int32")})
        splits[task] = {split: Dataset.from_list(r, features=features) for split, r in by_split.items()}
    return dataset_repo(repo_id, splits)


def squad_repo(rows: dict[str, list[dict]], repo_id: str = "rajpurkar/squad") -> Repo:
    from datasets import Dataset, Features, Sequence, Value

    features = Features({"id": Value("string"), "title": Value("string"), "context": Value("string"),
                         "question": Value("string"),
                         "answers": Sequence({"text": Value("string"), "answer_start": Value("int32")})})
    ordered = squad_in_file_order(rows)
    return dataset_repo(repo_id, {"plain_text": {s: Dataset.from_list(r, features=features)
                                                 for s, r in ordered.items()}})


def tiny_bert_folder(folder: Path, texts: list[str], seed: int = 0) -> Path:
    """A BERT with one small layer and a word-piece vocabulary of the given texts, saved as the Hub's
    BERT repositories are (config.json, vocab.txt, tokenizer files, model.safetensors)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted({w for t in texts for w in t.lower().replace('"', " \" ").replace(".", " . ").split()})
    vocab += sorted(set(words + list("abcdefghijklmnopqrstuvwxyz0123456789.,'\"?!-é")) - set(vocab))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertForMaskedLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


def all_texts(glue: dict, squad: dict) -> list[str]:
    texts = [v for by_split in glue.values() for rows in by_split.values() for r in rows
             for k, v in r.items() if k.startswith("sentence")]
    texts += [r[k] for rows in squad.values() for r in rows for k in ("context", "question")]
    return texts


def bert_repo(folder: Path, repo_id: str = "google-bert/bert-base-uncased") -> Repo:
    return model_repo(repo_id, folder)
