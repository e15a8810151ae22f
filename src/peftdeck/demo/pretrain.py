"""Pre-train the demo's tiny BERT: a WordPiece vocabulary and a short masked-LM run on corpus.txt.

Parameter-efficient methods only adapt features that are already there; a randomly initialised
encoder would make BitFit and prompt tuning look useless for the wrong reason. So the demo model is
pre-trained, briefly, on unlabelled text from the same grammar as the demo tasks, with BERT's two
objectives: masked-LM, and next-sentence prediction, which trains the pooler that the classification
heads read (a checkpoint without it would give every fine-tuning run a random, frozen pooler).

The result is an ordinary Hugging Face folder (config.json, model.safetensors, vocab.txt, tokenizer
files) plus `pretrain.json`, so every later step loads it like a downloaded checkpoint, e.g. with
`BertForSequenceClassification.from_pretrained(folder, num_labels=2)`.

Deterministic for a seed and a thread count: the vocabulary, the packing, the masks and the batch
order all derive from the seed. torch, transformers and tokenizers are imported inside functions,
so `--help` and argument errors come back at once.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from peftdeck.demo.files import atomic_directory
# The settings, the vocabulary, the packed sequences and the losses live in pretrain_data.py; the
# names are re-exported here (`pretrain.train_tokenizer`, `pretrain.pack_sequences`, the token ids).
from peftdeck.demo.pretrain_data import (  # noqa: F401
    CLS_ID, DEFAULTS, IS_NEXT, MASK_ID, NO_PAIR, NOT_NEXT, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID, Packed, _collate,
    _encode_lines, _evaluate, _losses, _mask_tokens, _shuffled_batches, _write_json, pack_sequences, train_tokenizer)

HOLD_OUT_EVERY = 50
SCHEMA = "peftdeck.demo_pretrain/1"


# --- model ----------------------------------------------------------------------------------------

def build_config(vocab_size: int, hidden_size: int = DEFAULTS["hidden_size"], num_layers: int = DEFAULTS["num_layers"],
                 num_heads: int | None = None, max_position_embeddings: int = DEFAULTS["max_position_embeddings"],
                 dropout: float = 0.1):
    """A small BertConfig: `hidden_size` wide, `num_layers` deep, feed-forward 4x wider."""
    from transformers import BertConfig

    heads = num_heads or max(1, hidden_size // 32)
    if hidden_size % heads:
        raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {heads}")
    return BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                      num_attention_heads=heads, intermediate_size=4 * hidden_size,
                      max_position_embeddings=max_position_embeddings, type_vocab_size=2, pad_token_id=PAD_ID,
                      hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)


def pretrain(corpus: str | os.PathLike, out_dir: str | os.PathLike, seed: int = 0, steps: int = DEFAULTS["steps"],
             batch_size: int = DEFAULTS["batch_size"], seq_len: int = DEFAULTS["seq_len"], lr: float = DEFAULTS["lr"],
             hidden_size: int = DEFAULTS["hidden_size"], num_layers: int = DEFAULTS["num_layers"],
             num_heads: int | None = DEFAULTS["num_heads"], vocab_size: int = DEFAULTS["vocab_size"],
             threads: int | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the tokenizer and the model, and write the model folder `out_dir` atomically.

    Returns the record also saved as `out_dir/pretrain.json`. `steps=0` saves the randomly
    initialised model (a no-pre-training baseline). `threads` defaults to 1: matrices this small gain
    little from more, and when other jobs share the cores, spinning worker threads make a run several
    times slower.
    """
    started = time.perf_counter()
    log = log or (lambda msg: print(msg, flush=True))
    corpus = Path(corpus)
    if not corpus.is_file():
        raise FileNotFoundError(f"corpus not found: {corpus} (generate it with python -m peftdeck.demo.data)")
    for name, value, low in (("steps", steps, 0), ("batch_size", batch_size, 1), ("seq_len", seq_len, 16),
                             ("hidden_size", hidden_size, 8), ("num_layers", num_layers, 1),
                             ("vocab_size", vocab_size, 100)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if seq_len > DEFAULTS["max_position_embeddings"]:
        raise ValueError(f"seq_len {seq_len} exceeds max_position_embeddings {DEFAULTS['max_position_embeddings']}")

    import tokenizers
    import torch
    import transformers
    from transformers import BertForPreTraining

    threads = threads or 1
    torch.set_num_threads(threads)
    with open(corpus, encoding="utf-8") as fh:
        lines = [line.strip() for line in fh if line.strip()]
    if not lines:
        raise ValueError(f"corpus {corpus} holds no text")

    with atomic_directory(out_dir) as tmp:
        vocab_file = train_tokenizer(corpus, tmp, vocab_size=vocab_size)
        n_vocab = sum(1 for _ in open(vocab_file, encoding="utf-8"))
        encoded = _encode_lines(vocab_file, lines)
        # Every 50th line is held out: a fixed, spread-out sample, independent of the seed.
        held_lines = encoded[::HOLD_OUT_EVERY]
        train_lines = [x for i, x in enumerate(encoded) if i % HOLD_OUT_EVERY]
        short_len = seq_len // 2
        long_steps = round(DEFAULTS["long_fraction"] * steps)
        # BERT's recipe, shortened: most steps on short sequences (cheap, and where the local
        # statistics are learnt), the last ones at full length with shifted positions.
        phases = [("short", steps - long_steps, short_len, batch_size, 0.0),
                  ("long", long_steps, seq_len, max(1, batch_size // 2), DEFAULTS["position_shift"])]
        pack_rng = random.Random(f"{seed}/pack")
        packed = {name: pack_sequences(train_lines, length, pack_rng) for name, _, length, _, _ in phases}
        held_out = pack_sequences(held_lines, short_len, random.Random("held-out"))[:DEFAULTS["eval_sequences"]]
        if not packed["short"] or not held_out:
            raise ValueError(f"corpus {corpus} is too small: need at least {HOLD_OUT_EVERY + 1} lines")
        log(f"vocabulary {n_vocab} tokens; {len(lines)} lines -> {len(packed['short'])} training sequences of "
            f"<= {short_len} tokens, {len(packed['long'])} of <= {seq_len}, {len(held_out)} held out")

        torch.manual_seed(seed)
        # No dropout while pre-training: a few hundred steps underfit, so dropout would only slow
        # the run down. The saved config carries BERT's usual 0.1 for fine-tuning.
        config = build_config(n_vocab, hidden_size, num_layers, num_heads, dropout=0.0)
        model = BertForPreTraining(config)
        model.train()
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
        no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "LayerNorm" not in n)]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": DEFAULTS["weight_decay"]},
                                       {"params": no_decay, "weight_decay": 0.0}],
                                      lr=lr, betas=(0.9, 0.98), eps=1e-6)
        warmup = max(1, round(DEFAULTS["warmup_ratio"] * steps))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
        generator = torch.Generator().manual_seed(seed)
        order_rng = random.Random(f"{seed}/order")

        initial = _evaluate(torch, model, held_out, batch_size, n_vocab, seed)
        log(f"step 0/{steps}: held-out MLM loss {initial['mlm_loss']:.3f}, NSP loss {initial['nsp_loss']:.3f}")
        train_started = time.perf_counter()
        mlm_losses: list[float] = []
        nsp_losses: list[float] = []
        step = 0
        for name, n_steps, length, size, shift in phases:
            batches = _shuffled_batches(packed[name], size, order_rng)
            max_offset = config.max_position_embeddings - length
            for _ in range(n_steps):
                batch = _collate(torch, next(batches))
                position_ids = None
                # Prompt tuning puts virtual tokens in front, moving every real token right; shifting
                # some long batches by a random offset trains the positions up to the maximum too.
                if shift and max_offset > 0 and torch.rand((), generator=generator).item() < shift:
                    offset = int(torch.randint(0, max_offset + 1, (), generator=generator))
                    position_ids = (torch.arange(batch[0].shape[1]) + offset).unsqueeze(0).expand_as(batch[0])
                part = _losses(torch, model, batch, position_ids, n_vocab, generator)
                (part["mlm"] + part["nsp"]).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                mlm_losses.append(part["mlm"].item())
                nsp_losses.append(part["nsp"].item())
                step += 1
                if step % 50 == 0 or step == steps:
                    log(f"step {step}/{steps} ({name}): train MLM loss {_mean(mlm_losses[-50:]):.3f}, "
                        f"NSP loss {_mean(nsp_losses[-50:]):.3f} ({time.perf_counter() - train_started:.1f} s)")
        train_s = time.perf_counter() - train_started
        final = _evaluate(torch, model, held_out, batch_size, n_vocab, seed) if steps else initial
        log(f"held-out MLM loss {initial['mlm_loss']:.3f} -> {final['mlm_loss']:.3f} "
            f"(accuracy {final['mlm_accuracy']:.3f}), NSP accuracy {final['nsp_accuracy']:.3f}")

        model.eval()
        model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = 0.1
        transformers.utils.logging.disable_progress_bar()
        model.save_pretrained(tmp)
        if not (tmp / "model.safetensors").is_file():
            raise RuntimeError(f"save_pretrained wrote no model.safetensors in {tmp}")
        _normal_permissions(tmp)
        tail = max(1, steps // 10)
        record = {
            "schema": SCHEMA,
            "seed": seed,
            "steps": steps,
            "batch_size": batch_size,
            "seq_len": seq_len,
            "phases": [{"name": name, "steps": n, "seq_len": length, "batch_size": size, "position_shift": shift}
                       for name, n, length, size, shift in phases],
            "lr": lr,
            "warmup_steps": warmup,
            "weight_decay": DEFAULTS["weight_decay"],
            "mlm_probability": DEFAULTS["mlm_probability"],
            "random_next": DEFAULTS["random_next"],
            "threads": threads,
            "model": {"architecture": type(model).__name__, "hidden_size": config.hidden_size,
                      "num_layers": config.num_hidden_layers, "num_heads": config.num_attention_heads,
                      "intermediate_size": config.intermediate_size,
                      "max_position_embeddings": config.max_position_embeddings, "vocab_size": n_vocab,
                      "parameters": sum(p.numel() for p in model.parameters())},
            "corpus": {"lines": len(lines), "tokens": sum(len(x) for x in encoded),
                       "train_sequences": {name: len(seqs) for name, seqs in packed.items()},
                       "held_out_sequences": len(held_out), "held_out_every": HOLD_OUT_EVERY,
                       "sha256": _sha256(corpus)},
            # Mean training losses over the last tenth of the steps ("final"), and of the first step.
            "final_mlm_loss": _mean(mlm_losses[-tail:]) if mlm_losses else None,
            "final_nsp_loss": _mean(nsp_losses[-tail:]) if nsp_losses else None,
            "first_mlm_loss": mlm_losses[0] if mlm_losses else None,
            "held_out": {"initial": initial, "final": final},
            "loss_curve": [[i + 1, round(_mean(mlm_losses[max(0, i - 9):i + 1]), 4)]
                           for i in range(9, len(mlm_losses), 10)],
            "train_s": round(train_s, 2),
            "wall_s": round(time.perf_counter() - started, 2),
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "tokenizers": tokenizers.__version__},
        }
        _write_json(tmp / "pretrain.json", record)
    final_loss = record["final_mlm_loss"]
    log(f"wrote {out_dir} in {record['wall_s']:.1f} s"
        + (f" (final MLM loss {final_loss:.3f})" if final_loss is not None else " (no pre-training steps)"))
    return record


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _normal_permissions(folder: Path) -> None:
    # The weights file comes out owner-only (written through a private temp file); the model folder
    # is shared output, so give every file the permissions the umask allows, like the others.
    umask = os.umask(0)
    os.umask(umask)
    for path in folder.iterdir():
        if path.is_file():
            path.chmod(0o666 & ~umask)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- command line ---------------------------------------------------------------------------------

def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m peftdeck.demo.pretrain",
        description="Train a WordPiece vocabulary and a tiny BERT (masked LM + next sentence) on a corpus; "
                    "write a Hugging Face model folder.")
    parser.add_argument("--corpus", required=True, help="text file, one sentence or paragraph per line")
    parser.add_argument("--out", required=True, help="model folder to write (replaced atomically if it exists)")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=_int_at_least(0), default=DEFAULTS["steps"],
                        help=f"optimizer steps; 0 saves the initial weights (default {DEFAULTS['steps']})")
    parser.add_argument("--batch-size", type=_int_at_least(1), default=DEFAULTS["batch_size"],
                        help=f"sequences per short-phase step (default {DEFAULTS['batch_size']})")
    parser.add_argument("--seq-len", type=_int_at_least(16), default=DEFAULTS["seq_len"],
                        help=f"full sequence length, <= {DEFAULTS['max_position_embeddings']} "
                             f"(default {DEFAULTS['seq_len']})")
    parser.add_argument("--lr", type=_positive_float, default=DEFAULTS["lr"],
                        help=f"peak learning rate (default {DEFAULTS['lr']})")
    parser.add_argument("--hidden-size", type=_int_at_least(8), default=DEFAULTS["hidden_size"])
    parser.add_argument("--num-layers", type=_int_at_least(1), default=DEFAULTS["num_layers"])
    parser.add_argument("--num-heads", type=_int_at_least(1), default=None, help="default hidden-size // 32")
    parser.add_argument("--vocab-size", type=_int_at_least(100), default=DEFAULTS["vocab_size"])
    parser.add_argument("--threads", type=_int_at_least(1), default=None, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    if not Path(args.corpus).is_file():
        parser.error(f"--corpus: file not found: {args.corpus}")
    if args.seq_len > DEFAULTS["max_position_embeddings"]:
        parser.error(f"--seq-len must be <= {DEFAULTS['max_position_embeddings']}")
    if args.hidden_size % (args.num_heads or max(1, args.hidden_size // 32)):
        parser.error("--hidden-size must be divisible by --num-heads")
    try:
        pretrain(args.corpus, args.out, seed=args.seed, steps=args.steps, batch_size=args.batch_size,
                 seq_len=args.seq_len, lr=args.lr, hidden_size=args.hidden_size, num_layers=args.num_layers,
                 num_heads=args.num_heads, vocab_size=args.vocab_size, threads=args.threads)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"peftdeck.demo.pretrain: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
