"""The pre-training settings of the demo's tiny BERT and its data: the WordPiece vocabulary trained on
corpus.txt, the `[CLS] A [SEP] B [SEP]` sequences packed from it, and the masked-LM and
next-sentence losses of a batch. `peftdeck.demo.pretrain` runs the training and re-exports these names.

torch and tokenizers are imported inside functions (torch is passed in), so importing this is cheap.
"""
from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
# Hugging Face's convention for BertForPreTraining: 0 = B continues A, 1 = B is a random segment.
IS_NEXT, NOT_NEXT, NO_PAIR = 0, 1, -100

DEFAULTS: dict[str, Any] = {
    "steps": 300,
    "batch_size": 64,  # sequences per step in the short phase; the long phase takes half as many
    "seq_len": 128,
    "lr": 2e-3,
    "warmup_ratio": 0.06,
    "weight_decay": 0.01,
    "mlm_probability": 0.15,
    "random_next": 0.5,
    "vocab_size": 2000,
    "min_frequency": 2,
    "hidden_size": 64,
    "num_layers": 2,
    "num_heads": None,  # hidden_size // 32 (64 -> 2 heads, 128 -> 4), at least 1
    # Room for 20 prompt-tuning virtual tokens in front of a 128-token input, with some to spare.
    "max_position_embeddings": 192,
    "model_max_length": 128,
    "eval_sequences": 64,
    # Share of the steps run on full-length sequences (the rest use half the length, twice the batch).
    "long_fraction": 0.2,
    # Share of those long batches whose position ids are shifted by a random offset.
    "position_shift": 0.5,
}

Packed = tuple[list[int], list[int], int]  # input_ids, token_type_ids, next-sentence label


# --- tokenizer ------------------------------------------------------------------------------------

def _alphabet(corpus: Path) -> list[str]:
    from tokenizers.normalizers import BertNormalizer

    norm = BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    chars: set[str] = set()
    with open(corpus, encoding="utf-8") as fh:
        for line in fh:
            chars.update(norm.normalize_str(line))
    return sorted(c for c in chars if not c.isspace())


def train_tokenizer(corpus: str | os.PathLike, out_dir: str | os.PathLike, vocab_size: int = DEFAULTS["vocab_size"],
                    min_frequency: int = DEFAULTS["min_frequency"],
                    model_max_length: int = DEFAULTS["model_max_length"]) -> Path:
    """Train a lower-cased WordPiece vocabulary on `corpus`; write vocab.txt and the tokenizer configs.

    Returns the path of vocab.txt. [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4.
    """
    from tokenizers import BertWordPieceTokenizer

    corpus, out_dir = Path(corpus), Path(out_dir)
    alphabet = _alphabet(corpus)
    if not alphabet:
        raise ValueError(f"corpus {corpus} holds no text")
    tokenizer = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    # The trainer gives "##x" pieces ids in hash-map order, and ties between equally frequent merges
    # are broken by id, so two runs can learn different vocabularies. Declaring every "##x" up front
    # fixes their ids and makes training reproducible.
    continuing = ["##" + c for c in alphabet]
    tokenizer.train([str(corpus)], vocab_size=vocab_size, min_frequency=min_frequency,
                    special_tokens=list(SPECIAL_TOKENS) + continuing, limit_alphabet=len(alphabet),
                    wordpieces_prefix="##", show_progress=False)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    if [tok for tok, _ in vocab[:len(SPECIAL_TOKENS)]] != list(SPECIAL_TOKENS):
        raise RuntimeError("tokenizer training did not put the special tokens first")
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab_file = out_dir / "vocab.txt"
    with open(vocab_file, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(tok + "\n" for tok, _ in vocab)
    special_map = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                   "mask_token": "[MASK]"}
    tokenizer_config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "do_basic_tokenize": True,
                        "strip_accents": None, "tokenize_chinese_chars": True,
                        "model_max_length": model_max_length, **special_map}
    _write_json(out_dir / "special_tokens_map.json", special_map)
    _write_json(out_dir / "tokenizer_config.json", tokenizer_config)
    return vocab_file


def _encode_lines(vocab_file: Path, lines: list[str]) -> list[list[int]]:
    from tokenizers import BertWordPieceTokenizer

    # Encode with a tokenizer rebuilt from vocab.txt: what the saved folder gives later, not the
    # trainer's in-memory object (which treats the "##x" pieces as special).
    tok = BertWordPieceTokenizer(str(vocab_file), clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                 lowercase=True)
    return [enc.ids for enc in tok.encode_batch(lines, add_special_tokens=False)]


# --- data -----------------------------------------------------------------------------------------

def pack_sequences(lines: list[list[int]], seq_len: int, rng: random.Random | None = None,
                   random_next: float = DEFAULTS["random_next"]) -> list[Packed]:
    """Pack consecutive lines into `[CLS] A [SEP] B [SEP]` sequences of at most `seq_len` tokens.

    Lines are never split (a line longer than the budget is truncated). A and B meet at the line
    boundary nearest the middle, so segment-B (token type 1) embeddings are trained too: the paired
    tasks need them. With `rng`, B is replaced by lines from elsewhere at rate `random_next`, for
    next-sentence prediction. Returns (input_ids, token_type_ids, label) with label IS_NEXT,
    NOT_NEXT, or NO_PAIR when a single line filled the sequence.
    """
    if seq_len < 8:
        raise ValueError(f"seq_len must be at least 8, got {seq_len}")
    budget = seq_len - 3
    kept = [line[:budget] for line in lines if line]
    out: list[Packed] = []

    def emit(lo: int, hi: int) -> None:
        chunk = kept[lo:hi]
        total = sum(len(x) for x in chunk)
        split, best, run = len(chunk), total, 0
        for k in range(1, len(chunk)):
            run += len(chunk[k - 1])
            if abs(2 * run - total) < best:
                split, best = k, abs(2 * run - total)
        a = [t for x in chunk[:split] for t in x]
        b = [t for x in chunk[split:] for t in x]
        label = IS_NEXT if b else NO_PAIR
        if b and rng is not None and rng.random() < random_next:
            j = rng.randrange(len(kept))
            for _ in range(10):
                if not lo <= j < hi:
                    break
                j = rng.randrange(len(kept))
            if not lo <= j < hi:
                room, b = budget - len(a), []
                while j < len(kept) and len(b) < room:
                    b += kept[j]
                    j += 1
                b, label = b[:room], NOT_NEXT
        ids = [CLS_ID] + a + [SEP_ID] + (b + [SEP_ID] if b else [])
        types = [0] * (len(a) + 2) + ([1] * (len(b) + 1) if b else [])
        out.append((ids, types, label))

    lo, used = 0, 0
    for i, line in enumerate(kept):
        if i > lo and used + len(line) > budget:
            emit(lo, i)
            lo, used = i, 0
        used += len(line)
    if kept:
        emit(lo, len(kept))
    return out


def _shuffled_batches(sequences: list, size: int, rng: random.Random) -> Iterator[list]:
    """Endless batches: each epoch is a fresh permutation; a batch may straddle two epochs."""
    order: list[int] = []
    while True:
        while len(order) < size:
            epoch = list(range(len(sequences)))
            rng.shuffle(epoch)
            order += epoch
        yield [sequences[i] for i in order[:size]]
        del order[:size]


def _collate(torch, batch: list[Packed]):
    width = max(len(ids) for ids, _, _ in batch)
    ids = torch.full((len(batch), width), PAD_ID, dtype=torch.long)
    types = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (x, t, _) in enumerate(batch):
        ids[i, :len(x)] = torch.tensor(x)
        types[i, :len(t)] = torch.tensor(t)
    labels = torch.tensor([label for _, _, label in batch], dtype=torch.long)
    return ids, types, (ids != PAD_ID).long(), labels


def _mask_tokens(torch, ids, vocab_size: int, probability: float, generator):
    """BERT's recipe: pick `probability` of the real tokens; 80% -> [MASK], 10% random, 10% kept."""
    maskable = (ids != PAD_ID) & (ids != CLS_ID) & (ids != SEP_ID)
    chosen = (torch.rand(ids.shape, generator=generator) < probability) & maskable
    if not chosen.any():
        # A batch without a target would give a NaN loss; mask its first real token instead.
        first = maskable.nonzero()[0]
        chosen[first[0], first[1]] = True
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = MASK_ID
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(len(SPECIAL_TOKENS), vocab_size, ids.shape, generator=generator)
    inputs[swap] = random_ids[swap]
    return inputs, chosen


def _losses(torch, model, batch, position_ids, vocab_size: int, generator) -> dict[str, Any]:
    """Masked-LM and next-sentence losses of one batch, with counts for exact averaging."""
    ids, types, attention, next_labels = batch
    inputs, chosen = _mask_tokens(torch, ids, vocab_size, DEFAULTS["mlm_probability"], generator)
    out = model.bert(input_ids=inputs, attention_mask=attention, token_type_ids=types, position_ids=position_ids)
    # Scoring only the masked positions skips ~85% of the vocabulary projection, the largest matmul.
    logits = model.cls.predictions(out.last_hidden_state[chosen])
    targets = ids[chosen]
    mlm = torch.nn.functional.cross_entropy(logits, targets)
    paired = next_labels != NO_PAIR
    if paired.any():
        next_logits = model.cls.seq_relationship(out.pooler_output[paired])
        nsp = torch.nn.functional.cross_entropy(next_logits, next_labels[paired])
        nsp_correct = int((next_logits.argmax(-1) == next_labels[paired]).sum())
    else:
        nsp, nsp_correct = out.pooler_output.sum() * 0.0, 0
    return {"mlm": mlm, "nsp": nsp, "mlm_n": int(targets.numel()),
            "mlm_correct": int((logits.argmax(-1) == targets).sum()), "nsp_n": int(paired.sum()),
            "nsp_correct": nsp_correct}


def _evaluate(torch, model, sequences: list[Packed], batch_size: int, vocab_size: int, seed: int) -> dict[str, float]:
    """Held-out losses and accuracies with masks fixed by the seed, so values compare over time."""
    generator = torch.Generator().manual_seed(seed + 7919)
    was_training = model.training
    model.eval()
    sums = {"mlm": 0.0, "nsp": 0.0, "mlm_n": 0, "mlm_correct": 0, "nsp_n": 0, "nsp_correct": 0}
    with torch.no_grad():
        for start in range(0, len(sequences), batch_size):
            part = _losses(torch, model, _collate(torch, sequences[start:start + batch_size]), None, vocab_size,
                           generator)
            sums["mlm"] += part["mlm"].item() * part["mlm_n"]
            sums["nsp"] += part["nsp"].item() * part["nsp_n"]
            for key in ("mlm_n", "mlm_correct", "nsp_n", "nsp_correct"):
                sums[key] += part[key]
    model.train(was_training)
    nan = float("nan")
    return {"mlm_loss": sums["mlm"] / sums["mlm_n"] if sums["mlm_n"] else nan,
            "mlm_accuracy": sums["mlm_correct"] / sums["mlm_n"] if sums["mlm_n"] else nan,
            "nsp_loss": sums["nsp"] / sums["nsp_n"] if sums["nsp_n"] else nan,
            "nsp_accuracy": sums["nsp_correct"] / sums["nsp_n"] if sums["nsp_n"] else nan}


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")
