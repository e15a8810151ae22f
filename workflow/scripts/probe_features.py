"""How much a frozen encoder's sentence vectors already know about a classification task.

Fits a logistic regression (L2, full-batch L-BFGS) on three frozen views of each training sentence
(the [CLS] vector, the pooler output, the mean of the token vectors) and scores it on the dev split.
Methods that keep the encoder frozen and train a [CLS]-based head (BitFit, LoRA, prompt tuning to a
lesser degree) start from the first two; a large gap to the third means the checkpoint's [CLS] was
not trained to summarise a sentence.

    python workflow/scripts/probe_features.py --model <model folder> --data <folder with train.tsv, dev.tsv> \
        [--train-size 500] [--seed 42]

The data folder holds GLUE SST-2-style TSVs (header, sentence, label). Prints one line per view.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path


def read_tsv(path: Path) -> tuple[list[str], list[int]]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [r[0] for r in rows], [int(r[1]) for r in rows]


def features(model, tokenizer, texts: list[str], max_length: int):
    import torch

    views: dict[str, list] = {"cls": [], "pooler": [], "mean": []}
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            batch = tokenizer(texts[i:i + 64], padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")
            out = model(**batch)
            mask = batch["attention_mask"].unsqueeze(-1).float()
            views["cls"].append(out.last_hidden_state[:, 0])
            views["pooler"].append(out.pooler_output)
            views["mean"].append((out.last_hidden_state * mask).sum(1) / mask.sum(1))
    return {k: torch.cat(v) for k, v in views.items()}


def probe_accuracy(x_train, y_train, x_dev, y_dev, l2: float = 1e-3) -> float:
    """Dev accuracy (%) of an L2-regularised logistic regression on standardised features."""
    import torch

    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    xt, xd = (x_train - mean) / std, (x_dev - mean) / std
    n_classes = int(max(y_train)) + 1
    w = torch.zeros(xt.shape[1], n_classes, requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    yt = torch.tensor(y_train)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = (xd @ w + b).argmax(1)
    return 100.0 * float((pred == torch.tensor(y_dev)).float().mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="Hugging Face model folder (BERT family)")
    parser.add_argument("--data", required=True, type=Path, help="folder with train.tsv and dev.tsv (SST-2 format)")
    parser.add_argument("--train-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args(argv)
    for name in ("train.tsv", "dev.tsv"):
        if not (args.data / name).is_file():
            parser.error(f"--data: {args.data / name} not found; point --data at an SST-2-style folder")
    if not (args.model / "config.json").is_file():
        parser.error(f"--model: {args.model / 'config.json'} not found; point --model at a model folder")

    import torch
    from transformers import AutoTokenizer, BertModel

    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = BertModel.from_pretrained(args.model).eval()
    train_x, train_y = read_tsv(args.data / "train.tsv")
    dev_x, dev_y = read_tsv(args.data / "dev.tsv")
    pick = random.Random(args.seed).sample(range(len(train_x)), min(args.train_size, len(train_x)))
    train_x, train_y = [train_x[i] for i in pick], [train_y[i] for i in pick]
    ft = features(model, tokenizer, train_x, args.max_length)
    fd = features(model, tokenizer, dev_x, args.max_length)
    majority = max(set(train_y), key=train_y.count)
    print(f"{len(train_x)} train / {len(dev_x)} dev sentences; majority-class baseline "
          f"{100.0 * dev_y.count(majority) / len(dev_y):.1f}%")
    for view in ("cls", "pooler", "mean"):
        spread = float((fd[view] - fd[view].mean(0)).norm(dim=1).mean() / fd[view].mean(0).norm())
        acc = probe_accuracy(ft[view], train_y, fd[view], dev_y)
        print(f"{view:7s} probe accuracy {acc:5.1f}%   spread across sentences {spread:.3f} of the mean vector's norm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
