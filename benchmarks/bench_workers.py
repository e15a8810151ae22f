"""The benchmark's workers, each run inside its own child process (`trainer_vs_cell.py --worker KIND`)."""
from __future__ import annotations

import math
import time
from typing import Any


def _worker_trainer(job: dict[str, Any]) -> dict[str, Any]:
    """One Trainer variant on the cell in `job["spec"]`, with the pipeline's own data and model code."""
    import dataclasses
    import inspect

    import numpy as np
    import torch

    from peftdeck.methods import apply_method, count_parameters
    from peftdeck.tasks import get_task
    from peftdeck.train import load_model, measure_step_flops, pick_device, seed_everything

    spec, style = job["spec"], job["style"]
    cell, training = spec["cell"], spec["training"]
    if training.get("threads"):
        torch.set_num_threads(int(training["threads"]))
    task = get_task(cell["task"], spec["data"])
    seed = int(cell["seed"])
    if cell["train_size"] != "all":
        raise ValueError("the Trainer variants run cells with train_size all (the benchmark writes the subset files)")
    splits = task.load(spec["data"]["source"], spec["data"]["location"], files=spec["data"].get("files"))
    train_rows, eval_rows = splits["train"], splits["validation"]

    from datasets import Dataset
    from transformers import (AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments,
                              default_data_collator)
    from transformers.training_args import OptimizerNames

    tokenizer = AutoTokenizer.from_pretrained(spec["model"]["location"], local_files_only=True)
    max_length = int(training["max_length"])

    def dataset(rows):
        feats = task.encode_train(rows, tokenizer, max_length)
        ids, types = feats["input_ids"], feats["token_type_ids"]
        mask = [[1] * len(x) for x in ids]
        if style == "ref":  # the reference reports padded every example to max_length
            pad = tokenizer.pad_token_id or 0
            ids = [x + [pad] * (max_length - len(x)) for x in ids]
            types = [x + [0] * (max_length - len(x)) for x in types]
            mask = [x + [0] * (max_length - len(x)) for x in mask]
        return Dataset.from_dict({"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
                                  "labels": feats["labels"]})

    train_ds, eval_ds = dataset(train_rows), dataset(eval_rows)
    seed_everything(seed)  # the same initial weights as our path: same seed, same load order
    model = load_model(spec["model"], task, task.num_labels)
    model = apply_method(model, spec["method"]["kind"], task.kind, spec["method"]["options"])
    trainable, total = count_parameters(model)
    device = pick_device()
    batch_size = int(cell["batch_size"])
    epochs = float(spec["schedule"]["epochs"])
    steps = math.ceil(len(train_ds) / batch_size) * math.ceil(epochs)
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    optim_names = {o.value for o in OptimizerNames}
    args: dict[str, Any] = dict(
        output_dir=job["output_dir"], per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=int(training["eval_batch_size"]), learning_rate=float(cell["lr"]),
        num_train_epochs=epochs, weight_decay=float(training["weight_decay"]),
        max_grad_norm=float(training["max_grad_norm"]), lr_scheduler_type="linear",
        warmup_steps=int(round(float(training["warmup_ratio"]) * steps)), seed=seed,
        save_strategy="no", report_to="none", disable_tqdm=True,
    )
    if device.type == "cpu" and "use_cpu" in fields:
        args["use_cpu"] = True
    if style == "ref":
        args.update(eval_strategy="epoch", logging_strategy="epoch")
        collator = default_data_collator
    else:
        args.update(eval_strategy="no", logging_strategy="no", dataloader_pin_memory=device.type == "cuda")
        if "adamw_torch_fused" in optim_names:
            args["optim"] = "adamw_torch_fused"
        if "train_sampling_strategy" in fields:
            args["train_sampling_strategy"] = "group_by_length"
        else:
            args["group_by_length"] = True
        if device.type == "cuda":
            args.update(bf16=torch.cuda.is_bf16_supported(), dataloader_num_workers=2,
                        dataloader_persistent_workers=True)
        elif training.get("precision") == "bf16_native":  # the same bf16 autocast ours runs with there
            from peftdeck.train import cpu_has_native_bf16

            args["bf16"] = cpu_has_native_bf16()
        collator = DataCollatorWithPadding(tokenizer)
    args = {k: v for k, v in args.items() if k in fields or k == "output_dir"}
    targs = TrainingArguments(**args)

    def compute_metrics(pred):
        # Labels from the prediction itself: with length grouping the Trainer also *evaluates* in a
        # shuffled, length-grouped order, so the rows' order would not match the logits'.
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        rows = [{"label": label.item()} for label in np.asarray(pred.label_ids).reshape(-1)]
        return task.score(rows, None, np.asarray(logits))

    counts: dict[str, Any] = {"examples": 0, "tokens": 0, "flops_per_token": None}

    class CountingTrainer(Trainer):
        """Counts examples and (padded) tokens, and FLOPs of the first step with PyTorch's counter, as ours does."""

        def training_step(self, model, inputs, *a, **kw):
            ids = inputs["input_ids"]
            b = counts
            b["examples"] += ids.shape[0]
            b["tokens"] += ids.numel()
            if b["flops_per_token"] is None:
                out: list = []
                flops = measure_step_flops(lambda: out.append(super(CountingTrainer, self).training_step(model, inputs, *a, **kw)))
                b["flops_per_token"] = flops / ids.numel()
                b["first_step"] = {"shape": list(ids.shape), "flops": flops}
                return out[0]
            return super().training_step(model, inputs, *a, **kw)

    kw: dict[str, Any] = dict(model=model, args=targs, train_dataset=train_ds, data_collator=collator,
                              compute_metrics=compute_metrics)
    if style == "ref":
        kw["eval_dataset"] = eval_ds
    tok_arg = "processing_class" if "processing_class" in inspect.signature(Trainer.__init__).parameters else "tokenizer"
    kw[tok_arg] = tokenizer
    trainer = CountingTrainer(**kw)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    trainer.train()
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t0
    primary = task.primary_metric
    evals = [h for h in trainer.state.log_history if f"eval_{primary}" in h]
    if style == "ref" and evals:
        metric = evals[-1][f"eval_{primary}"]  # the last epoch's evaluation is the trained model's
    else:
        pred = trainer.predict(eval_ds)
        metric = pred.metrics[f"test_{primary}"]
    b = counts
    return {
        "examples_per_s": b["examples"] / train_s, "train_s": train_s, "examples": b["examples"],
        "metric_name": primary, "metric": float(metric),
        "train_flops": float((b["flops_per_token"] or 0.0) * (b["tokens"] or 0)),
        "train_tokens_padded": b["tokens"], "first_step": b.get("first_step"),
        "device": device.type, "threads": torch.get_num_threads(), "params_trainable": trainable, "params_total": total,
        "precision": "bf16" if args.get("bf16") else "fp32", "optimizer": str(getattr(targs.optim, "value", targs.optim)),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "padding": f"to max_length {max_length}" if style == "ref" else "dynamic (DataCollatorWithPadding), group_by_length",
        "eval_in_training": style == "ref",
        "gpu_peak_bytes": int(torch.cuda.max_memory_allocated()) if device.type == "cuda" else None,
    }


def _worker_peak(job: dict[str, Any]) -> dict[str, Any]:
    """Dense matmul throughput of this machine: fp32 on CPU, bf16 on a GPU; best of several timed runs."""
    import torch

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    cuda = torch.cuda.is_available()
    n = int(job.get("n") or (8192 if cuda else 2048))
    dtype = torch.bfloat16 if cuda else torch.float32
    device = "cuda" if cuda else "cpu"
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(int(job.get("repeats", 5))):
        reps, t0 = 0, time.perf_counter()
        while True:
            torch.mm(a, b)
            reps += 1
            if cuda:
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            if dt >= float(job.get("seconds", 0.5)):
                break
        best = max(best, 2 * n**3 * reps / dt)
    return {"peak_flops": best, "n": n, "dtype": str(dtype).replace("torch.", ""), "device": device,
            "threads": torch.get_num_threads(),
            "device_name": torch.cuda.get_device_name() if cuda else _cpu_model()}


def _worker_imports(job: dict[str, Any]) -> dict[str, Any]:
    """What a cell's imports cost, in the order a training job pays them (fresh process)."""
    out = {}
    for label, stmt in (("import torch", "import torch"),
                        ("+ transformers BERT", "import transformers.models.bert.modeling_bert"),
                        ("+ peftdeck training code", "import peftdeck.train"),
                        ("+ peft (LoRA, prompt tuning only)", "import peft")):
        w, c = time.perf_counter(), time.process_time()
        try:
            exec(stmt, {})
        except ImportError as err:
            out[label] = {"error": str(err)}
            continue
        out[label] = {"wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c}
    return {"imports": out}


def _worker_weights(job: dict[str, Any]) -> dict[str, Any]:
    """Random weights saved as safetensors, so a tiny cell loads the way real cells do (from_pretrained)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(int(job.get("seed", 0)))
    BertForMaskedLM(BertConfig.from_pretrained(job["dir"])).save_pretrained(job["dir"], safe_serialization=True)
    return {"dir": job["dir"]}


MEMORY_METHODS = {"full_ft": {}, "bitfit": {}, "lora": {"r": 8, "alpha": 16, "dropout": 0.0}}


def _worker_memory(job: dict[str, Any]) -> dict[str, Any]:
    """Training memory by kind of one method: the pipeline's model, method and optimizer, one measured
    step on a random batch of `batch_size` x `max_length` tokens, then a second step in which a GPU's
    allocator peak is read (steady state: optimizer state exists, gradients were freed)."""
    import torch

    from peftdeck.memory import TrainingMemoryMeter, analytic_adamw, unique_bytes
    from peftdeck.methods import apply_method, count_parameters
    from peftdeck.tasks import get_task
    from peftdeck.train import load_model, make_optimizer, pick_device, pick_precision, seed_everything

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    task = get_task("sst2")
    seed_everything(int(job.get("seed", 42)))
    model = load_model({"source": "random", "location": job["model_dir"]}, task, task.num_labels)
    model = apply_method(model, job["method"], task.kind, MEMORY_METHODS.get(job["method"], {}))
    trainable, total = count_parameters(model)
    device = pick_device()
    precision = pick_precision(job.get("precision", "auto"), device)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(params, 1e-4, 0.01, device)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    gen = torch.Generator().manual_seed(0)
    b, n = int(job["batch_size"]), int(job["max_length"])
    vocab = model.config.vocab_size

    def forward_backward():
        ids = torch.randint(0, vocab, (b, n), generator=gen).to(device)
        labels = torch.randint(0, 2, (b,), generator=gen).to(device)
        with autocast:
            loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
        loss.backward()
        return loss.detach()

    meter = TrainingMemoryMeter(model, optimizer)
    t0 = time.perf_counter()
    meter.micro_step(forward_backward)
    optimizer.step()
    measured = meter.finish(1)
    step_s = time.perf_counter() - t0
    optimizer.zero_grad(set_to_none=True)
    cuda_peak = None
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        forward_backward()
        optimizer.step()
        torch.cuda.synchronize()
        cuda_peak = int(torch.cuda.max_memory_allocated())
        optimizer.zero_grad(set_to_none=True)
    counters = unique_bytes(st["step"] for st in optimizer.state.values() if isinstance(st.get("step"), torch.Tensor))
    return {"method": job["method"], "params_trainable": trainable, "params_total": total,
            "training_memory": measured, "analytic": analytic_adamw(total, trainable),
            "optimizer_step_counter_bytes": counters, "cuda_max_allocated_step2_bytes": cuda_peak,
            "device": device.type, "precision": precision, "batch_size": b, "max_length": n,
            "measured_step_s": step_s,
            "device_name": torch.cuda.get_device_name() if device.type == "cuda" else _cpu_model()}


WORKERS = {"trainer": _worker_trainer, "peak": _worker_peak, "imports": _worker_imports, "weights": _worker_weights,
           "memory": _worker_memory}


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()
