"""Batching for training and evaluation: length-grouped order, dynamic padding, batched prediction."""
from __future__ import annotations

import numpy as np
import torch


def length_grouped_order(lengths: list[int], batch_size: int, gen: torch.Generator, group: bool) -> list[list[int]]:
    """Shuffle, then sort inside windows of 50 batches so each batch holds similar lengths."""
    order = torch.randperm(len(lengths), generator=gen).tolist()
    if group:
        window = batch_size * 50
        order = [i for s in range(0, len(order), window)
                 for i in sorted(order[s:s + window], key=lambda j: -lengths[j])]
    batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    if group:
        perm = torch.randperm(len(batches), generator=gen).tolist()
        batches = [batches[i] for i in perm]
    return batches


def padded_width(longest: int, multiple: int = 1) -> int:
    """The width a batch is padded to: its longest example, rounded up to `multiple`."""
    return -(-longest // multiple) * multiple


def collate(features: dict[str, list], idx: list[int], keys: list[str], device: torch.device,
            multiple: int = 1) -> dict[str, torch.Tensor]:
    """Pad the selected examples to the longest one in the batch (rounded up to `multiple`)."""
    width = padded_width(max(len(features["input_ids"][i]) for i in idx), multiple)
    batch: dict[str, torch.Tensor] = {}
    ids = torch.zeros((len(idx), width), dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    types = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        seq = features["input_ids"][i]
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        if "token_type_ids" in features:
            types[row, : len(seq)] = torch.tensor(features["token_type_ids"][i])
    batch["input_ids"], batch["attention_mask"] = ids, mask
    if "token_type_ids" in features:  # dropped for models without segment embeddings (see uses_token_types)
        batch["token_type_ids"] = types
    for key in keys:
        values = [features[key][i] for i in idx]
        dtype = torch.float32 if isinstance(values[0], float) else torch.long
        batch[key] = torch.tensor(values, dtype=dtype)
    if device.type == "cuda":
        # Page-locked host memory makes the copy truly asynchronous, so it overlaps the GPU's work.
        return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}
    return batch


def label_keys(task) -> list[str]:
    return ["start_positions", "end_positions"] if task.kind == "qa" else ["labels"]


def sorted_batches(features: dict[str, list], batch_size: int, limit: int | None = None) -> list[list[int]]:
    """The first `limit` features (all by default), ordered by length and cut into batches (less padding)."""
    n = len(features["input_ids"]) if limit is None else min(limit, len(features["input_ids"]))
    order = sorted(range(n), key=lambda i: len(features["input_ids"][i]))
    return [order[s:s + batch_size] for s in range(0, n, batch_size)]


@torch.no_grad()
def predict(model, features: dict[str, list], batch_size: int, device: torch.device, autocast, kind: str):
    """Logits for every feature, in the original order (batched by length to save padding)."""
    model.eval()
    n = len(features["input_ids"])
    width = max(len(x) for x in features["input_ids"]) if n else 0
    if kind == "qa":
        start = np.full((n, width), -1e4, dtype=np.float32)
        end = np.full((n, width), -1e4, dtype=np.float32)
    chunks = []
    for idx in sorted_batches(features, batch_size):
        batch = collate(features, idx, [], device)
        with autocast:
            out = model(**batch)
        if kind == "qa":
            w = batch["input_ids"].shape[1]
            start[idx, :w] = out.start_logits.float().cpu().numpy()
            end[idx, :w] = out.end_logits.float().cpu().numpy()
        else:
            chunks.append((idx, out.logits.float().cpu().numpy()))
    if kind == "qa":
        return start, end
    logits = np.zeros((n, chunks[0][1].shape[1]), dtype=np.float32) if chunks else np.zeros((0, 1), np.float32)
    for idx, block in chunks:
        logits[idx] = block
    return logits
