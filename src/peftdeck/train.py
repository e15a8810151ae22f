"""Train and evaluate one cell.

One plain PyTorch loop, shared by every method and task: dynamic padding with length-grouped
batches (little compute spent on padding), an optimizer that only ever sees trainable tensors (a
frozen weight gets no gradient buffer and no Adam state), bf16 autocast on GPUs that support it,
and no evaluation inside the timed training loop.

`run_cell` goes through named steps: `prepare_data` (split, subsample, tokenize), `build_model`
(load the encoder, apply the method), `train_model` (the timed loop), `evaluate` (dev split and the
held-out selection split), then the serving cost (peftdeck.inference) and the cell's JSON
(peftdeck.record).
"""
from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .batches import collate, label_keys, length_grouped_order, padded_width, predict  # noqa: F401 (re-exported)
from .faults import simulated_oom
from .inference import LATENCY_EXAMPLES, THROUGHPUT_EXAMPLES, measure_inference
from .measure import (TASK_WEIGHTS, measure_step_flops, parameter_bytes,  # noqa: F401 (re-exported)
                      process_age_s, task_storage, versions)
from .memory import TrainingMemoryMeter, process_peaks
from .methods import apply_method, count_added, count_parameters
from .record import cell_result, loss_curve  # noqa: F401 (re-exported)
from .results import write_json_atomic
from .tasks import get_task


# --- set-up ----------------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes in bf16 natively (x86 avx512_bf16 or amx_bf16, read from /proc/cpuinfo).

    Without those instructions oneDNN emulates bf16 matmuls, which is slower than fp32, so bf16 is
    used on the CPU only where they exist.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def pick_precision(requested: str, device: torch.device) -> str:
    """fp32, or bf16/fp16 autocast. `auto`: bf16 on GPUs that support it, fp32 otherwise. `bf16_native`:
    as auto, and bf16 also on CPUs with native bf16 instructions (1.2-1.5x faster steps than fp32
    there). `bf16` on the CPU is allowed only where the CPU has those instructions."""
    if requested == "bf16_native":
        if device.type != "cuda":
            return "bf16" if cpu_has_native_bf16() else "fp32"
        requested = "auto"
    if requested != "auto":
        if requested == "fp16" and device.type != "cuda":
            raise ValueError("training.precision fp16 needs a CUDA device; use auto or fp32 on CPU "
                             "(or bf16 on a CPU with native bf16 instructions)")
        if requested == "bf16" and device.type != "cuda" and not cpu_has_native_bf16():
            raise ValueError("training.precision bf16: this CPU has no native bf16 instructions (avx512_bf16 or "
                             "amx_bf16), where bf16 would be slower than fp32; use precision: auto (fp32 here) or "
                             "bf16_native (bf16 only where the hardware has it)")
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
        return _pooled(cls.from_config(config), model_spec, task)
    if not os.path.isfile(os.path.join(location, "model.safetensors")):
        found = sorted(os.listdir(location))
        raise FileNotFoundError(
            f"model folder {location} has no model.safetensors (found: {', '.join(found) or 'nothing'}); "
            "peftdeck loads weights from safetensors only. Convert the weights "
            "(model.save_pretrained(folder, safe_serialization=True)) or use model.source: random "
            "for throughput-only studies"
        )
    return _pooled(cls.from_pretrained(
        location, config=config, local_files_only=True, use_safetensors=True, trust_remote_code=False
    ), model_spec, task)


def _pooled(model, model_spec: dict[str, Any], task):
    """A classification model with the configured pooling (`peftdeck.pooling`); QA heads read every token."""
    from .pooling import apply_pooling

    return model if task.kind == "qa" else apply_pooling(model, model_spec.get("pooling", "cls"),
                                                         pair=bool(getattr(task, "pair", False)))


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


def uses_token_types(model: torch.nn.Module) -> bool:
    """Whether the model reads segment ids: its forward takes them and it has more than one segment embedding."""
    import inspect

    if "token_type_ids" not in inspect.signature(model.forward).parameters:
        return False
    return int(getattr(model.config, "type_vocab_size", 0) or 0) > 1


# --- the cell, step by step ----------------------------------------------------------------------

@dataclass
class CellData:
    train_rows: list
    eval_rows: list
    select_rows: list | None
    train_feats: dict[str, list]
    eval_feats: dict[str, list]
    select_feats: dict[str, list] | None
    max_length: int


def prepare_data(spec: dict[str, Any], task) -> CellData:
    """Load the splits, carve the holdout, subsample train and tokenize every split."""
    from transformers import AutoTokenizer

    cell, training, data = spec["cell"], spec["training"], spec["data"]
    seed = int(cell["seed"])
    splits = task.load(data["source"], data["location"], files=data.get("files"))
    train_pool, select_rows = split_holdout(splits["train"], cell.get("holdout"))
    train_rows = task.subsample(train_pool, resolve_train_size(cell["train_size"], len(train_pool)), seed)
    eval_rows = splits["validation"][: data.get("eval_size") or None]

    tokenizer = AutoTokenizer.from_pretrained(spec["model"]["location"], local_files_only=True)
    max_length = training["qa_max_length"] if task.kind == "qa" else training["max_length"]
    # The window stride of question answering is the study's setting; the task object (shared by
    # every cell of a process) is never changed.
    extra = {"doc_stride": int(training["doc_stride"])} if task.kind == "qa" else {}
    return CellData(
        train_rows, eval_rows, select_rows,
        task.encode_train(train_rows, tokenizer, max_length, **extra),
        task.encode_eval(eval_rows, tokenizer, max_length, **extra),
        task.encode_eval(select_rows, tokenizer, max_length, **extra) if select_rows else None,
        max_length)


@dataclass
class CellModel:
    model: torch.nn.Module
    trainable: int
    base_total: int
    base_bytes: int


def build_model(spec: dict[str, Any], task, data: CellData) -> CellModel:
    """Seed, load the encoder with its head, and apply the method (segment ids dropped where unused)."""
    seed_everything(int(spec["cell"]["seed"]))
    model = load_model(spec["model"], task, task.num_labels)
    if not uses_token_types(model):
        for feats in (data.train_feats, data.eval_feats, data.select_feats or {}):
            feats.pop("token_type_ids", None)
    _, base_total = count_parameters(model)
    base_bytes = parameter_bytes(model)
    model = apply_method(model, spec["method"]["kind"], task.kind, spec["method"]["options"])
    trainable, _ = count_parameters(model)
    return CellModel(model, trainable, base_total, base_bytes)


@dataclass
class TrainRun:
    batch_size: int
    micro: int
    accum: int
    steps: int  # planned
    warmup: int
    step: int = 0
    examples: int = 0
    tokens: int = 0
    padded_tokens: int = 0  # what the model actually ran on: each micro-batch is as wide as its longest example
    stopped_early: bool = False
    train_s: float = 0.0
    flops_per_token: float | None = None
    training_memory: dict[str, Any] | None = None
    losses: list[float] = field(default_factory=list)
    startup_s: float = math.nan
    startup_cpu_s: float = 0.0
    compiled: bool = False
    compile_s: float | None = None  # the first compiled step's time (training.compile)


COMPILE_WIDTH_MULTIPLE = 16


def train_model(built: CellModel, spec: dict[str, Any], data: CellData, task, device: torch.device,
                precision: str, autocast, attempt: int, label: str, log) -> TrainRun:
    """The timed loop: length-grouped batches, gradient accumulation, clipping, the LR schedule.

    The first micro-step is measured (FLOPs, memory by kind); the loop stops at the planned steps or
    at the schedule's time budget."""
    cell, training = spec["cell"], spec["training"]
    model, feats = built.model, data.train_feats
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(params, float(cell["lr"]), float(training["weight_decay"]), device)
    batch_size = int(cell["batch_size"])
    micro, accum = micro_batch_for(batch_size, attempt)
    n_feat = len(feats["input_ids"])
    steps = total_steps(spec["schedule"], n_feat, batch_size)
    run = TrainRun(batch_size, micro, accum, steps, int(round(float(training["warmup_ratio"]) * steps)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: linear_warmup_decay(s, steps, run.warmup))
    keys = label_keys(task)
    lengths = [len(x) for x in feats["input_ids"]]
    gen = torch.Generator().manual_seed(int(cell["seed"]))
    scaler = torch.amp.GradScaler(enabled=precision == "fp16")
    clip = float(training["max_grad_norm"])

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run.startup_s = process_age_s()
    run.startup_cpu_s = time.process_time()  # CPU seconds of this process so far: robust to a busy machine
    log(f"cell {label}: {n_feat} train features, {steps} steps of {batch_size} "
        f"({micro}x{accum}), {built.trainable:,}/{built.base_total:,} trainable, {device.type}/{precision}, "
        f"attempt {attempt}")

    # torch.compile: every step after the measured first one runs the compiled module; batch widths
    # are rounded up to a multiple of 16 so that few shapes recur.
    compiled = torch.compile(model, dynamic=True) if training.get("compile") else None
    multiple = COMPILE_WIDTH_MULTIPLE if compiled is not None else 1
    run.compiled = compiled is not None

    def width(part: list[int]) -> int:  # a micro-batch's padded width, as `collate` pads it
        return padded_width(max(lengths[i] for i in part), multiple)

    def forward_backward(idx: list[int], module=None) -> torch.Tensor:
        batch = collate(feats, idx, keys, device, multiple)
        with autocast:
            loss = (model if module is None else module)(**batch).loss
        scaler.scale(loss / accum).backward()
        # Kept on the device: reading it back here would stall the GPU queue on every micro-step.
        return loss.detach().float()

    def measured_forward_backward(idx: list[int]) -> torch.Tensor:
        # Count one micro-step's FLOPs exactly, then scale by tokens processed: cost is linear in
        # tokens for these sequence lengths (attention's share is small).
        holder: list[torch.Tensor] = []
        flops = measure_step_flops(lambda: holder.append(memory_meter.micro_step(lambda: forward_backward(idx))))
        run.flops_per_token = flops / sum(lengths[i] for i in idx)
        return holder[0]

    model.train()
    memory_meter = TrainingMemoryMeter(model, optimizer)  # weights, gradients, optimizer state, activations
    losses: list[torch.Tensor] = []
    budget_s = spec["schedule"].get("seconds")
    train0 = time.perf_counter()
    with simulated_oom(model):  # fault injection for the retry tests (peftdeck.faults); a no-op otherwise
        while run.step < steps and not run.stopped_early:
            for idx in length_grouped_order(lengths, batch_size, gen, training["group_by_length"]):
                if run.step >= steps:
                    break
                if budget_s and time.perf_counter() - train0 >= budget_s:
                    run.stopped_early = True
                    break
                parts = [idx[m:m + micro] for m in range(0, len(idx), micro)]
                loss_sum = 0.0
                first_compiled = compiled is not None and run.compile_s is None and run.flops_per_token is not None
                t_step = time.perf_counter()
                for part in parts:
                    if run.flops_per_token is None:
                        loss_sum += measured_forward_backward(part)
                    else:
                        loss_sum += forward_backward(part, compiled)
                if clip > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, clip)
                scaler.step(optimizer)
                scaler.update()
                if run.training_memory is None:
                    # The measured micro-batch: its padded shape sets the activations.
                    run.training_memory = memory_meter.finish(accum, (len(parts[0]), width(parts[0])))
                optimizer.zero_grad(set_to_none=True)
                if first_compiled:  # the step that compiled the graph: what compiling cost, roughly
                    run.compile_s = time.perf_counter() - t_step
                scheduler.step()
                losses.append(loss_sum / len(parts))
                run.tokens += sum(lengths[i] for i in idx)
                run.padded_tokens += sum(len(p) * width(p) for p in parts)
                run.examples += len(idx)
                run.step += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    run.train_s = time.perf_counter() - train0
    run.losses = [float(x) for x in losses]  # one device-to-host read per step, after training
    return run


@dataclass
class Evaluation:
    outputs: Any
    metrics: dict[str, float]
    selection: dict[str, Any] | None
    eval_s: float


def evaluate(model: torch.nn.Module, spec: dict[str, Any], data: CellData, task, device: torch.device,
             autocast) -> Evaluation:
    """Scores on the dev split, and on the held-out part of train where the cell has one."""
    eval0 = time.perf_counter()
    batch_size = int(spec["training"]["eval_batch_size"])
    outputs = predict(model, data.eval_feats, batch_size, device, autocast, task.kind)
    metrics = {k: float(v) for k, v in task.score(data.eval_rows, data.eval_feats, outputs).items()}
    selection = None
    if data.select_feats is not None:
        select_out = predict(model, data.select_feats, batch_size, device, autocast, task.kind)
        scores = task.score(data.select_rows, data.select_feats, select_out)
        selection = {"split": "held-out part of train", "fraction": spec["cell"]["holdout"],
                     "n": len(data.select_rows), "metrics": {k: float(v) for k, v in scores.items()}}
    return Evaluation(outputs, metrics, selection, time.perf_counter() - eval0)


def run_cell(spec: dict[str, Any], out_path: str, attempt: int = 1, log=print) -> dict[str, Any]:
    wall0 = time.perf_counter()
    training = spec["training"]
    if training.get("threads"):
        torch.set_num_threads(int(training["threads"]))
    task = get_task(spec["cell"]["task"], spec["data"])

    data = prepare_data(spec, task)
    built = build_model(spec, task, data)
    device = pick_device()
    precision = pick_precision(training["precision"], device)
    built.model.to(device)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16,
                              enabled=precision in ("bf16", "fp16"))
    run = train_model(built, spec, data, task, device, precision, autocast, attempt, out_path, log)
    evaluation = evaluate(built.model, spec, data, task, device, autocast)

    peaks = process_peaks(device)
    model = built.model
    facts = {
        "added_by_method": count_added(model, spec["method"]["kind"]),
        "attn_implementation": getattr(getattr(model, "config", None), "_attn_implementation", None),
        "storage": task_storage(model, out_path, built.base_bytes, keep=bool(training.get("save_weights"))),
    }
    # Serving cost last: a LoRA-type model is merged into its weights for the second measurement.
    inference = (measure_inference(model, data.eval_feats, int(training["eval_batch_size"]), device, autocast,
                                   examples=int(training.get("inference_examples", THROUGHPUT_EXAMPLES)),
                                   latency_examples=int(training.get("inference_latency_examples",
                                                                     LATENCY_EXAMPLES)))
                 if training.get("measure_inference", True) else None)
    result = cell_result(spec, task, data, built, run, evaluation, device, precision, attempt, peaks, facts,
                         inference, started=wall0)
    write_json_atomic(out_path, result)
    log(f"cell {out_path}: {result['metrics']} in {result['compute']['wall_s']:.1f} s")
    return result
