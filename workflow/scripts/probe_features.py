"""How much a frozen encoder's sentence vectors already know about a classification task.

Fits a logistic regression (L2, full-batch L-BFGS) on three frozen views of each training sentence
(the [CLS] vector, the pooler output, the mean of the token vectors) and scores it on the dev split.
Methods that keep the encoder frozen and train a [CLS]-based head (BitFit, LoRA, prompt tuning to a
lesser degree) start from the first two; a large gap to the third means the checkpoint's [CLS] was
not trained to summarise a sentence.

For a sentence-pair task (`--task mrpc` or `rte`) the pair is encoded in one pass, as the cells do,
and two more views are probed: `pair` (u, v, |u - v|) of the two sentences' token means, what
`model.pooling: pair_mean` reads, and `apart` (u, v, |u - v|) with each sentence encoded alone,
as a sentence-embedding model is used.

    python workflow/scripts/probe_features.py --model <model folder> --data <folder with train.tsv, dev.tsv> \
        [--task sst2|mrpc|rte] [--train-size 500] [--seed 42]

The data folder holds the task's GLUE TSVs (as peftdeck reads them). Prints one line per view.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path


def read_tsv(path: Path, task: str = "sst2") -> tuple[list[tuple[str, str | None]], list[int]]:
    """(text, second text or None) and the label of every row, read as the task's cells read it."""
    from peftdeck.tasks import get_task

    rows = get_task(task).read_file(path)
    return [(r["text_a"], r["text_b"]) for r in rows], [int(r["label"]) for r in rows]


def features(model, tokenizer, texts: list[tuple[str, str | None]], max_length: int):
    """Each view of every text; `mean` and `pair` are what `model.pooling` gives a classification head."""
    import torch
    from peftdeck.pooling import MeanPooler, PairMeanPooler

    def pooled(pooler, enc, hidden):
        pooler.mask, pooler.types = enc["attention_mask"], enc.get("token_type_ids")
        return pooler(hidden)

    mean, pair_mean = MeanPooler(), PairMeanPooler()
    pair = texts[0][1] is not None
    views: dict[str, list] = {"cls": [], "pooler": [], "mean": [], **({"pair": [], "apart": []} if pair else {})}
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            chunk = texts[i:i + 64]
            firsts = [a for a, _ in chunk]
            seconds = [b for _, b in chunk] if pair else None
            batch = tokenizer(firsts, seconds, padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")
            out = model(**batch)
            views["cls"].append(out.last_hidden_state[:, 0])
            views["pooler"].append(out.pooler_output)
            views["mean"].append(pooled(mean, batch, out.last_hidden_state))
            if pair:
                views["pair"].append(pooled(pair_mean, batch, out.last_hidden_state))
                u, v = (pooled(mean, enc, model(**enc).last_hidden_state)
                        for enc in (tokenizer(side, padding=True, truncation=True, max_length=max_length,
                                              return_tensors="pt") for side in (firsts, seconds)))
                views["apart"].append(torch.cat([u, v, (u - v).abs()], 1))
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
    parser.add_argument("--data", required=True, type=Path, help="folder with the task's train.tsv and dev.tsv")
    parser.add_argument("--task", choices=("sst2", "mrpc", "rte"), default="sst2", help="the files' GLUE layout")
    parser.add_argument("--train-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args(argv)
    for name in ("train.tsv", "dev.tsv"):
        if not (args.data / name).is_file():
            parser.error(f"--data: {args.data / name} not found; point --data at the task's GLUE folder")
    if not (args.model / "config.json").is_file():
        parser.error(f"--model: {args.model / 'config.json'} not found; point --model at a model folder")

    import torch
    from transformers import AutoTokenizer, BertModel

    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = BertModel.from_pretrained(args.model).eval()
    train_x, train_y = read_tsv(args.data / "train.tsv", args.task)
    dev_x, dev_y = read_tsv(args.data / "dev.tsv", args.task)
    pick = random.Random(args.seed).sample(range(len(train_x)), min(args.train_size, len(train_x)))
    train_x, train_y = [train_x[i] for i in pick], [train_y[i] for i in pick]
    ft = features(model, tokenizer, train_x, args.max_length)
    fd = features(model, tokenizer, dev_x, args.max_length)
    majority = max(set(train_y), key=train_y.count)
    print(f"{len(train_x)} train / {len(dev_x)} dev {'pairs' if train_x[0][1] is not None else 'sentences'}; "
          f"majority-class baseline {100.0 * dev_y.count(majority) / len(dev_y):.1f}%")
    for view in fd:
        spread = float((fd[view] - fd[view].mean(0)).norm(dim=1).mean() / fd[view].mean(0).norm())
        acc = probe_accuracy(ft[view], train_y, fd[view], dev_y)
        print(f"{view:7s} probe accuracy {acc:5.1f}%   spread across sentences {spread:.3f} of the mean vector's norm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
