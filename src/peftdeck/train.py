"""Train and evaluate one cell.

One plain PyTorch loop, shared by every method and task: dynamic padding with length-grouped
batches (little compute spent on padding), an optimizer that only ever sees trainable tensors (a
frozen weight gets no gradient buffer and no Adam state), bf16 autocast on GPUs that support it,
and no evaluation inside the timed training loop.
"""
from __future__ import annotations

import math
import os
import platform
import random
import sys
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch

from . import __version__
from .devices import held_slot
from .fingerprint import fingerprint, fingerprint_files
from .memory import TrainingMemoryMeter, process_peaks
from .methods import apply_method, count_added, count_parameters, trainable_state
from .results import SCHEMA, write_json_atomic
from .tasks import get_task


# --- set-up ----------------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def pick_precision(requested: str, device: torch.device) -> str:
    if requested != "auto":
        if requested in ("bf16", "fp16") and device.type != "cuda":
            raise ValueError(f"training.precision {requested} needs a CUDA device; use auto or fp32 on CPU")
        return requested
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def load_model(model_spec: dict[str, Any], task, num_labels: int | None):
    """Load the encoder with the task's head; weights only from safetensors, never remote code."""
    from transformers import AutoConfig

    location = model_spec["location"]
    if not os.path.isdir(location):
        raise FileNotFoundError(
            f"model folder {location} does not exist; "
            + ("run the fetch rule first (snakemake --cores 1 fetch"
               + (f" --configfile {os.environ['PEFTDECK_CONFIG_LABEL']}" if os.environ.get("PEFTDECK_CONFIG_LABEL") else "")
               + ") on a machine with internet"
               if model_spec["source"] == "hub" else "fix model.path in the config")
        )
    # Any encoder architecture transformers has these heads for (BERT, RoBERTa, DeBERTa-v2/v3,
    # DistilBERT, ModernBERT, ...); methods that target named modules look them up per architecture.
    if task.kind == "qa":
        from transformers import AutoModelForQuestionAnswering as cls  # noqa: N813
    else:
        from transformers import AutoModelForSequenceClassification as cls  # noqa: N813
    kwargs: dict[str, Any] = {}
    if task.kind != "qa":
        kwargs["num_labels"] = num_labels
        if task.kind == "regression":
            kwargs["problem_type"] = "regression"
    config = AutoConfig.from_pretrained(location, local_files_only=True, **kwargs)
    if model_spec["source"] == "random":
        return cls.from_config(config)
    if not os.path.isfile(os.path.join(location, "model.safetensors")):
        found = sorted(os.listdir(location))
        raise FileNotFoundError(
            f"model folder {location} has no model.safetensors (found: {', '.join(found) or 'nothing'}); "
            "peftdeck loads weights from safetensors only. Convert the weights "
            "(model.save_pretrained(folder, safe_serialization=True)) or use model.source: random "
            "for throughput-only studies"
        )
    return cls.from_pretrained(
        location, config=config, local_files_only=True, use_safetensors=True, trust_remote_code=False
    )


# --- batching --------------------------------------------------------------------------------

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


def collate(features: dict[str, list], idx: list[int], keys: list[str], device: torch.device) -> dict[str, torch.Tensor]:
    """Pad the selected examples to the longest one in the batch."""
    width = max(len(features["input_ids"][i]) for i in idx)
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


# --- data ------------------------------------------------------------------------------------

HOLDOUT_SEED = 20_231  # one fixed split for every cell of a study, whatever the cell's own seed


def split_holdout(rows: list, fraction: float | None) -> tuple[list, list | None]:
    """Carve a model-selection split out of train; the same examples for every grid point."""
    if not fraction:
        return rows, None
    order = list(range(len(rows)))
    random.Random(HOLDOUT_SEED).shuffle(order)
    k = max(1, int(round(fraction * len(rows))))
    held = set(order[:k])
    return [r for i, r in enumerate(rows) if i not in held], [rows[i] for i in sorted(held)]


def resolve_train_size(size: int | str, available: int) -> int | str:
    """A percentage of the available training examples becomes a count; other sizes pass through."""
    if isinstance(size, str) and size.endswith("%"):
        return max(1, int(round(float(size[:-1]) / 100 * available)))
    return size


# --- schedule ----------------------------------------------------------------------------------

def total_steps(schedule: dict[str, Any], n_features: int, batch_size: int) -> int:
    per_epoch = math.ceil(n_features / batch_size)
    proportional = math.ceil(schedule["epochs"] * per_epoch)
    return max(int(schedule.get("steps") or 0), proportional, 1)


def loss_curve(losses: list[float], bins: int = 20) -> list[list[float]]:
    """Mean training loss over at most `bins` consecutive, near-equal runs of steps.

    Each entry is [number of the bin's last step (1-based), mean loss over the bin]."""
    n = len(losses)
    if n == 0:
        return []
    edges = [round(i * n / min(bins, n)) for i in range(min(bins, n) + 1)]
    means = [float(np.mean(losses[edges[i]:edges[i + 1]])) for i in range(len(edges) - 1)]
    # A bin whose loss is not finite (the run diverged) is written as null: JSON has no NaN.
    return [[edges[i + 1], m if math.isfinite(m) else None] for i, m in enumerate(means)]


def linear_warmup_decay(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def micro_batch_for(batch_size: int, attempt: int) -> tuple[int, int]:
    """Each retry halves the micro-batch and doubles accumulation, keeping the effective batch."""
    micro = max(1, batch_size // (2 ** max(0, attempt - 1)))
    while batch_size % micro:
        micro -= 1
    return micro, batch_size // micro


def make_optimizer(params: list[torch.nn.Parameter], lr: float, weight_decay: float, device: torch.device):
    """AdamW with the fused kernel (CUDA, and CPU since torch 2.4), else the multi-tensor one.

    On CPU the fused step is several times faster than foreach, which matters for Full FT: the update
    walks every weight of the model on every step.
    """
    kwargs: dict[str, Any] = {"lr": lr, "weight_decay": weight_decay}
    try:
        return torch.optim.AdamW(params, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device or torch build
        return torch.optim.AdamW(params, foreach=True, **kwargs)


# --- measurement -------------------------------------------------------------------------------

def measure_step_flops(step_fn) -> int:
    """FLOPs of one forward+backward, counted by PyTorch's operator-level counter."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step_fn()
    return int(counter.get_total_flops())


def process_age_s() -> float:
    """Seconds since this process started (imports included), from the kernel's own clock."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def versions() -> dict[str, str]:
    import transformers

    out = {"python": platform.python_version(), "torch": torch.__version__,
           "transformers": transformers.__version__, "peftdeck": __version__}
    if "peft" in sys.modules:
        out["peft"] = sys.modules["peft"].__version__
    return out


# --- the cell ----------------------------------------------------------------------------------

def run_cell(spec: dict[str, Any], out_path: str, attempt: int = 1, log=print) -> dict[str, Any]:
    wall0 = time.perf_counter()
    cell, training = spec["cell"], spec["training"]
    if training.get("threads"):
        torch.set_num_threads(int(training["threads"]))
    task = get_task(cell["task"])
    seed = int(cell["seed"])

    data = spec["data"]
    splits = task.load(data["source"], data["location"], files=data.get("files"))
    train_pool, select_rows = split_holdout(splits["train"], cell.get("holdout"))
    train_rows = task.subsample(train_pool, resolve_train_size(cell["train_size"], len(train_pool)), seed)
    eval_rows = splits["validation"][: data.get("eval_size") or None]

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(spec["model"]["location"], local_files_only=True)
    max_length = training["qa_max_length"] if task.kind == "qa" else training["max_length"]
    # The window stride of question answering is the study's setting; the task object (shared by
    # every cell of a process) is never changed.
    extra = {"doc_stride": int(training["doc_stride"])} if task.kind == "qa" else {}
    train_feats = task.encode_train(train_rows, tokenizer, max_length, **extra)
    eval_feats = task.encode_eval(eval_rows, tokenizer, max_length, **extra)
    select_feats = task.encode_eval(select_rows, tokenizer, max_length, **extra) if select_rows else None

    seed_everything(seed)
    model = load_model(spec["model"], task, task.num_labels)
    if not uses_token_types(model):
        for feats in (train_feats, eval_feats, select_feats or {}):
            feats.pop("token_type_ids", None)
    _, base_total = count_parameters(model)
    base_bytes = parameter_bytes(model)
    model = apply_method(model, spec["method"]["kind"], task.kind, spec["method"]["options"])
    trainable, _ = count_parameters(model)

    device = pick_device()
    precision = pick_precision(training["precision"], device)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = float(training["weight_decay"])
    optimizer = make_optimizer(params, float(cell["lr"]), decay, device)

    batch_size = int(cell["batch_size"])
    micro, accum = micro_batch_for(batch_size, attempt)
    n_feat = len(train_feats["input_ids"])
    steps = total_steps(spec["schedule"], n_feat, batch_size)
    warmup = int(round(float(training["warmup_ratio"]) * steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: linear_warmup_decay(s, steps, warmup))
    keys = label_keys(task)
    lengths = [len(x) for x in train_feats["input_ids"]]
    gen = torch.Generator().manual_seed(seed)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16,
                              enabled=precision in ("bf16", "fp16"))
    scaler = torch.amp.GradScaler(enabled=precision == "fp16")
    clip = float(training["max_grad_norm"])

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    startup_s = process_age_s()
    startup_cpu_s = time.process_time()  # CPU seconds of this process so far: robust to a busy machine
    log(f"cell {out_path}: {n_feat} train features, {steps} steps of {batch_size} "
        f"({micro}x{accum}), {trainable:,}/{base_total:,} trainable, {device.type}/{precision}, attempt {attempt}")

    # Fault injection for the retry tests: fail like a GPU out of memory on micro-batches above N.
    oom_above = int(os.environ.get("PEFTDECK_SIMULATE_OOM_ABOVE_MICRO_BATCH") or 0)

    def forward_backward(idx: list[int]) -> torch.Tensor:
        if oom_above and len(idx) > oom_above:
            raise getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)(
                f"simulated out of memory on a micro-batch of {len(idx)} "
                f"(PEFTDECK_SIMULATE_OOM_ABOVE_MICRO_BATCH={oom_above})"
            )
        batch = collate(train_feats, idx, keys, device)
        with autocast:
            loss = model(**batch).loss
        scaler.scale(loss / accum).backward()
        # Kept on the device: reading it back here would stall the GPU queue on every micro-step.
        return loss.detach().float()

    model.train()
    memory_meter = TrainingMemoryMeter(model, optimizer)  # weights, gradients, optimizer state, activations
    training_memory = None
    flops_per_token = None
    tokens = 0
    padded_tokens = 0  # what the model actually ran on: each micro-batch is as wide as its longest example
    examples = 0
    step = 0
    losses: list[torch.Tensor] = []
    budget_s = spec["schedule"].get("seconds")
    stopped_early = False
    train0 = time.perf_counter()
    while step < steps and not stopped_early:
        for idx in length_grouped_order(lengths, batch_size, gen, training["group_by_length"]):
            if step >= steps:
                break
            if budget_s and time.perf_counter() - train0 >= budget_s:
                stopped_early = True
                break
            loss_sum = 0.0
            for m in range(0, len(idx), micro):
                part = idx[m:m + micro]
                if flops_per_token is None:
                    # Count one micro-step's FLOPs exactly, then scale by tokens processed: cost is
                    # linear in tokens for these sequence lengths (attention's share is small).
                    holder: list[torch.Tensor] = []
                    flops = measure_step_flops(
                        lambda: holder.append(memory_meter.micro_step(lambda: forward_backward(part))))
                    flops_per_token = flops / sum(lengths[i] for i in part)
                    loss_sum += holder[0]
                else:
                    loss_sum += forward_backward(part)
            if clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, clip)
            scaler.step(optimizer)
            scaler.update()
            if training_memory is None:
                first = idx[:micro]  # the measured micro-batch: its padded shape sets the activations
                training_memory = memory_meter.finish(accum, (len(first), max(lengths[i] for i in first)))
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            losses.append(loss_sum / math.ceil(len(idx) / micro))
            tokens += sum(lengths[i] for i in idx)
            padded_tokens += sum(len(idx[m:m + micro]) * max(lengths[i] for i in idx[m:m + micro])
                                 for m in range(0, len(idx), micro))
            examples += len(idx)
            step += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - train0

    eval0 = time.perf_counter()
    outputs = predict(model, eval_feats, int(training["eval_batch_size"]), device, autocast, task.kind)
    metrics = task.score(eval_rows, eval_feats, outputs)
    selection = None
    if select_feats is not None:
        select_out = predict(model, select_feats, int(training["eval_batch_size"]), device, autocast, task.kind)
        selection = {"split": "held-out part of train", "fraction": cell["holdout"], "n": len(select_rows),
                     "metrics": {k: float(v) for k, v in task.score(select_rows, select_feats, select_out).items()}}
    eval_s = time.perf_counter() - eval0
    peaks = process_peaks(device)
    loss_values = [float(x) for x in losses]  # one device-to-host read per step, after training
    storage = task_storage(model, out_path, base_bytes, keep=bool(training.get("save_weights")))

    result: dict[str, Any] = {
        "schema": SCHEMA,
        "status": "complete",
        "cell": cell,
        "method": spec["method"],
        "task": {"name": task.name, "kind": task.kind, "primary_metric": task.primary_metric,
                 "metrics": list(task.metrics), "n_train": len(train_rows), "n_train_features": n_feat,
                 "n_eval": len(eval_rows), "n_eval_features": len(eval_feats["input_ids"])},
        "metrics": {k: float(v) for k, v in metrics.items()},
        "params": {"trainable": trainable, "total": base_total,
                   "added_by_method": _added(model, spec["method"]["kind"])},
        "storage": storage,
        "compute": {
            "device": device.type,
            "device_name": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or platform.machine(),
            # The GPU slot this cell held (peftdeck.devices); None where it took none (CPU).
            "device_slot": held_slot(),
            "threads": torch.get_num_threads(),
            "precision": precision,
            "attn_implementation": getattr(getattr(model, "config", None), "_attn_implementation", None),
            "train_flops": float((flops_per_token or 0.0) * tokens),
            "flops_method": "torch.utils.flop_counter on the first step, scaled by tokens trained",
            # By kind, measured on the first step (see peftdeck.memory); then the allocator's and
            # the process's own peaks, each under its own name.
            "training_memory": training_memory,
            **peaks,
            "startup_s": startup_s,
            "startup_cpu_s": startup_cpu_s,
            "train_s": train_s,
            "eval_s": eval_s,
            # Process start to result, imports included (falls back to this function's time).
            "wall_s": _finite_or(process_age_s(), time.perf_counter() - wall0),
            "train_examples_per_s": examples / train_s if train_s > 0 else None,
            "train_tokens": tokens,
            "train_tokens_padded": padded_tokens,
            "steps": step,
            "planned_steps": steps,
            "stopped_by_time_budget": stopped_early,
            "epochs": examples / max(1, n_feat),
            "micro_batch_size": micro,
            "grad_accum_steps": accum,
            "attempt": attempt,
            "final_train_loss": _finite_or(float(np.mean(loss_values[-10:])), None) if loss_values else None,
            # [last step of the bin, mean loss] over at most 20 equal bins: enough to tell a run that
            # never left the starting loss (a collapsed classifier) from one that learned.
            "train_loss_curve": loss_curve(loss_values),
        },
        "hparams": {"lr": float(cell["lr"]), "batch_size": batch_size, "schedule": spec["schedule"],
                    "steps": steps, "warmup_steps": warmup, "max_length": max_length,
                    "method": spec["method"]["kind"], **spec["method"]["options"], **training},
        "model": {"source": spec["model"]["source"], "name": spec["model"]["name"],
                  "name_or_path": spec["model"]["location"],
                  "fingerprint": fingerprint(spec["model"]["location"])},
        "data": {"source": data["source"], "location": data["location"], "files": data.get("files"),
                 "fingerprint": fingerprint_files(task.data_paths(data["source"], data["location"], data.get("files")))},
        "versions": versions(),
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if selection is not None:
        result["selection"] = selection
    if task.kind != "qa":
        base = task.baseline(train_rows, eval_rows)
        if base is not None:
            result["baseline"] = base
        summary = task.prediction_summary(outputs)
        if summary is not None:
            result["predictions"] = summary
    write_json_atomic(out_path, result)
    log(f"cell {out_path}: {result['metrics']} in {result['compute']['wall_s']:.1f} s")
    return result


def _finite_or(value: float, fallback: float) -> float:
    return value if math.isfinite(value) else fallback


def _added(model: torch.nn.Module, kind: str) -> int:
    """Parameters the method added (low-rank matrices, adapters, prompts, scaling vectors), as its
    module declares them; not counting the head copies peft keeps."""
    return count_added(model, kind)


TASK_WEIGHTS = "task_weights.safetensors"


def task_storage(model: torch.nn.Module, out_path: str, base_bytes: int, keep: bool) -> dict[str, Any]:
    """What serving this task costs on top of the shared base model: its trainable tensors as safetensors.

    They are written next to the cell's output and measured; the file stays there (as
    task_weights.safetensors beside metrics.json) only when `keep` (the study's `training.save_weights`);
    otherwise an earlier run's file is removed too, since it would not match this result.
    """
    from safetensors.torch import save_file

    state = trainable_state(model)
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{TASK_WEIGHTS}.{os.getpid()}.tmp")
    try:
        save_file(state, tmp)
        size = os.path.getsize(tmp)
        final = os.path.join(folder, TASK_WEIGHTS)
        if keep:
            os.replace(tmp, final)
        elif os.path.exists(final):  # an earlier run's tensors would not match this cell's result
            os.remove(final)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return {"task_bytes": int(size), "task_tensors": len(state),
            "task_parameters": int(sum(t.numel() for t in state.values())),
            "base_model_bytes": int(base_bytes), "format": "safetensors",
            "saved": TASK_WEIGHTS if keep else None}


def uses_token_types(model: torch.nn.Module) -> bool:
    """Whether the model reads segment ids: its forward takes them and it has more than one segment embedding."""
    import inspect

    if "token_type_ids" not in inspect.signature(model.forward).parameters:
        return False
    return int(getattr(model.config, "type_vocab_size", 0) or 0) > 1


def parameter_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's unique parameter tensors as loaded (the shared base model a task builds on)."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    return total


@torch.no_grad()
def predict(model, features: dict[str, list], batch_size: int, device: torch.device, autocast, kind: str):
    """Logits for every feature, in the original order (batched by length to save padding)."""
    model.eval()
    n = len(features["input_ids"])
    order = sorted(range(n), key=lambda i: len(features["input_ids"][i]))
    width = max(len(x) for x in features["input_ids"]) if n else 0
    if kind == "qa":
        start = np.full((n, width), -1e4, dtype=np.float32)
        end = np.full((n, width), -1e4, dtype=np.float32)
    chunks = []
    for s in range(0, n, batch_size):
        idx = order[s:s + batch_size]
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
