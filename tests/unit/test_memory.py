"""Training memory by kind (peftdeck.memory): exact counts on a tiny BERT built from its config."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from peftdeck.memory import (  # noqa: E402
    KINDS,
    TrainingMemoryMeter,
    analytic_adamw,
    optimizer_state_bytes,
    unique_bytes,
)
from peftdeck.methods import apply_method, count_parameters  # noqa: E402

F32 = 4


def tiny_bert(method: str, seed: int = 0):
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=64, num_labels=2)
    model = apply_method(transformers.BertForSequenceClassification(config), method, "classification", {})
    return model


def first_step(model, *, fused: bool = False, micro_batches: int = 1, batch: int = 8, length: int = 16):
    """One optimizer step as train.run_cell takes it, measured; returns (breakdown, optimizer)."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3, fused=fused) if fused else torch.optim.AdamW(params, lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    meter = TrainingMemoryMeter(model, optimizer)
    model.train()

    def forward_backward():
        ids = torch.randint(0, 200, (batch, length), generator=gen)
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.randint(0, 2, (batch,), generator=gen))
        out.loss.backward()
        return out.loss.detach()

    meter.micro_step(forward_backward)
    for _ in range(micro_batches - 1):
        forward_backward()
    optimizer.step()
    result = meter.finish(micro_batches)
    optimizer.zero_grad(set_to_none=True)
    return result, optimizer


def _step_counters(optimizer) -> int:
    return unique_bytes(s["step"] for s in optimizer.state.values() if isinstance(s.get("step"), torch.Tensor))


@pytest.mark.parametrize("method", ["full_ft", "bitfit"])
def test_adamw_state_is_two_moments_per_trainable_value(method):
    model = tiny_bert(method)
    trainable, total = count_parameters(model)
    mem, optimizer = first_step(model)
    counters = _step_counters(optimizer)
    assert mem["optimizer_state"] - counters == 2 * trainable * F32
    assert counters <= F32 * len(optimizer.state)  # one scalar step counter per trainable tensor
    assert mem["gradients"] == trainable * F32
    assert mem["weights"] == total * F32
    expected = analytic_adamw(total, trainable)
    assert mem["weights"] == expected["weights"] and mem["gradients"] == expected["gradients"]


def test_bitfit_gradients_are_a_tiny_fraction_of_full_ft():
    full, _ = first_step(tiny_bert("full_ft"))
    bitfit, _ = first_step(tiny_bert("bitfit"))
    assert bitfit["weights"] == full["weights"]
    assert 0 < bitfit["gradients"] < 0.05 * full["gradients"]
    assert bitfit["optimizer_state"] < 0.05 * full["optimizer_state"]
    assert bitfit["peak"] < full["peak"]


def test_activations_are_what_autograd_saves_not_the_weights():
    torch.manual_seed(0)
    model = torch.nn.Linear(16, 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(32, 16)
    meter = TrainingMemoryMeter(model, optimizer)
    meter.micro_step(lambda: model(x).sum().backward())
    optimizer.step()
    mem = meter.finish()
    # The weight gradient needs the input: that is the one saved tensor; the weight itself is a weight.
    assert mem["activations"] == x.numel() * F32
    assert mem["weights"] == (16 * 4 + 4) * F32
    assert mem["other"] == 0


def test_peak_lies_between_the_largest_phase_and_the_sum_of_kinds():
    mem, _ = first_step(tiny_bert("full_ft"))
    fixed = mem["weights"] + mem["other"] + mem["optimizer_state"]
    assert set(KINDS) <= set(mem)
    assert mem["activations"] > 0
    assert fixed + max(mem["activations"], mem["gradients"]) <= mem["peak"] <= fixed + mem["activations"] + mem["gradients"]


def test_gradient_accumulation_keeps_gradients_alive_through_the_next_forward():
    mem, _ = first_step(tiny_bert("full_ft"), micro_batches=2, batch=4)
    assert mem["peak"] == mem["weights"] + mem["other"] + mem["optimizer_state"] + mem["activations"] + mem["gradients"]


def test_fused_adamw_counts_the_same_moments():
    model = tiny_bert("full_ft")
    trainable, _ = count_parameters(model)
    try:
        mem, optimizer = first_step(model, fused=True)
    except (RuntimeError, TypeError, ValueError):
        pytest.skip("no fused AdamW for this device in this torch build")
    assert mem["optimizer_state"] - _step_counters(optimizer) == 2 * trainable * F32
    assert optimizer_state_bytes(optimizer) == mem["optimizer_state"]


def test_a_cell_result_carries_the_breakdown_and_the_process_peaks(tmp_path):
    from bench_inputs import cell_spec, generated_sst2, tiny_model, word_vocab
    from peftdeck.results import load_cell
    from peftdeck.train import run_cell

    data = generated_sst2(tmp_path / "data" / "sst2", 32, 16, 42)
    model = tiny_model(tmp_path / "model", vocab=word_vocab(data), hidden=32, layers=1, heads=2)
    results = {}
    for method in ("full_ft", "bitfit"):
        spec = cell_spec(model, "random", data, method, lr=1e-3, batch_size=8, epochs=1, seed=42, max_length=32,
                         eval_batch_size=16, threads=1)
        out = tmp_path / method / "metrics.json"
        run_cell(spec, str(out), attempt=2, log=lambda _msg: None)  # attempt 2: two micro-batches of 4
        results[method] = load_cell(out)["compute"]
        assert json.loads(out.read_text())["compute"]["training_memory"] == results[method]["training_memory"]
    for method, c in results.items():
        mem = c["training_memory"]
        assert all(mem[k] >= 0 for k in (*KINDS, "peak")), method
        assert mem["peak"] >= mem["weights"] + mem["optimizer_state"] + mem["activations"], method
        assert c["cpu_peak_rss_bytes"] > mem["peak"]
        assert c["cuda_max_allocated_bytes"] is None or c["device"] == "cuda"
        assert "peak_memory_bytes" not in c
        rows, width = mem["micro_batch_shape"]  # attempt 2 halves the micro-batch: 4 rows, as wide as the longest
        assert rows == 4 and 2 <= width <= 32
    full, bitfit = results["full_ft"]["training_memory"], results["bitfit"]["training_memory"]
    assert bitfit["gradients"] < 0.05 * full["gradients"] and bitfit["peak"] < full["peak"]


def test_table_columns_for_new_and_older_cells():
    import math

    from peftdeck.results import memory_columns

    new = memory_columns({"training_memory": {"weights": 40, "gradients": 4, "optimizer_state": 8, "activations": 100,
                                              "other": 1, "peak": 150, "method": "x"},
                          "cuda_max_allocated_bytes": None, "cpu_peak_rss_bytes": 10**9})
    assert new["peak_memory_bytes"] == 150 and new["memory_kind"] == "training_peak"
    assert new["mem_optimizer_state_bytes"] == 8 and new["cpu_peak_rss_bytes"] == 10**9
    assert math.isnan(new["cuda_max_allocated_bytes"])
    old = memory_columns({"peak_memory_bytes": 123, "memory_kind": "cpu_peak_rss"})
    assert old["peak_memory_bytes"] == 123 and old["memory_kind"] == "cpu_peak_rss" and old["cpu_peak_rss_bytes"] == 123
    assert math.isnan(old["mem_weights_bytes"]) and math.isnan(old["cuda_max_allocated_bytes"])
    gpu = memory_columns({"peak_memory_bytes": 7, "memory_kind": "cuda_max_allocated"})
    assert gpu["cuda_max_allocated_bytes"] == 7 and math.isnan(gpu["cpu_peak_rss_bytes"])


def test_a_result_with_a_broken_breakdown_is_rejected(tmp_path):
    from synthetic_cells import small_config, write_results

    from peftdeck.config import all_cells
    from peftdeck.results import ResultError, load_cell

    config = small_config()
    write_results(config, tmp_path)
    path = tmp_path / next(iter(all_cells(config))).path
    assert load_cell(path)["compute"]["training_memory"]["peak"] > 0
    data = json.loads(path.read_text())
    del data["compute"]["training_memory"]["gradients"]
    path.write_text(json.dumps(data))
    with pytest.raises(ResultError, match="training_memory lacks a byte count for gradients"):
        load_cell(path)
    # An older cell: one peak figure and its kind, no breakdown; still loads.
    data["compute"].pop("training_memory")
    data["compute"].update(peak_memory_bytes=123, memory_kind="cpu_peak_rss")
    path.write_text(json.dumps(data))
    assert load_cell(path)["compute"]["peak_memory_bytes"] == 123
