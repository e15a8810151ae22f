"""The serving cost a cell records (compute.inference), LoRA merging, and the simulated out-of-memory
fault that the retry tests rely on."""
from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from bench_inputs import cell_spec, generated_sst2, tiny_model, word_vocab  # noqa: E402
from peftdeck.batches import predict  # noqa: E402
from peftdeck.faults import OOM_VARIABLE, simulated_oom  # noqa: E402
from peftdeck.inference import measure_inference, merge_for_serving, mergeable  # noqa: E402
from peftdeck.methods import apply_method  # noqa: E402
from peftdeck.results import INFERENCE_COLUMNS, inference_columns, load_cell  # noqa: E402
from peftdeck.train import run_cell  # noqa: E402

CPU = torch.device("cpu")
NO_AUTOCAST = torch.autocast(device_type="cpu", enabled=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(data folder, model folder): generated SST-2 and a tiny random BERT (`source: random`)."""
    root = tmp_path_factory.mktemp("tiny")
    data = generated_sst2(root / "data" / "sst2", 32, 40, 42)
    model = tiny_model(root / "model", vocab=word_vocab(data), hidden=32, layers=2, heads=2)
    return data, model


def run(tmp_path, tiny, method: str, attempt: int = 1, **training) -> dict:
    data, model = tiny
    spec = cell_spec(model, "random", data, method, lr=1e-2, batch_size=8, epochs=1, seed=42, max_length=32,
                     eval_batch_size=16, threads=1)
    spec["training"].update(training)
    out = tmp_path / method / "metrics.json"
    result = run_cell(spec, str(out), attempt=attempt, log=lambda _msg: None)
    assert load_cell(out)["compute"] == json.loads(json.dumps(result["compute"]))
    return result


@pytest.mark.parametrize("method", ["lora", "dora", "bitfit", "prompt_tuning"])
def test_a_cell_records_its_serving_cost(tmp_path, tiny, method):
    result = run(tmp_path, tiny, method)
    inf = result["compute"]["inference"]
    assert inf["batch_size"] == 16
    assert inf["n_examples"] == result["task"]["n_eval_features"] == 40  # under the cap: all of them
    assert inf["latency_examples"] == 32
    assert inf["throughput_examples_per_s"] > 0 and inf["latency_ms_batch1"] > 0
    assert inf["seconds"] > 0
    columns = inference_columns(result["compute"])
    assert columns["infer_throughput"] == inf["throughput_examples_per_s"]
    assert columns["infer_latency_ms"] == inf["latency_ms_batch1"]
    if method in ("lora", "dora"):
        merged = inf["merged"]
        assert merged["throughput_examples_per_s"] > 0 and merged["latency_ms_batch1"] > 0
        # The trained update is not zero (lr 1e-2), so equal outputs mean the merge is right.
        assert merged["max_abs_logit_diff"] < 1e-4
        assert columns["infer_latency_ms_merged"] == merged["latency_ms_batch1"]
    else:
        assert inf["merged"] is None
        assert math.isnan(columns["infer_throughput_merged"]) and math.isnan(columns["infer_latency_ms_merged"])


def test_serving_cost_can_be_switched_off(tmp_path, tiny):
    result = run(tmp_path, tiny, "bitfit", measure_inference=False)
    assert result["compute"]["inference"] is None
    assert all(math.isnan(v) for v in inference_columns(result["compute"]).values())


def test_older_cells_without_the_field_give_empty_columns():
    assert set(inference_columns({})) == set(INFERENCE_COLUMNS)
    assert all(math.isnan(v) for v in inference_columns({}).values())
    only_unmerged = inference_columns({"inference": {"throughput_examples_per_s": 5.0, "latency_ms_batch1": 2.0,
                                                     "merged": None}})
    assert (only_unmerged["infer_throughput"], only_unmerged["infer_latency_ms"]) == (5.0, 2.0)
    assert math.isnan(only_unmerged["infer_throughput_merged"])


def tiny_bert(kind: str, num_labels: int = 3):
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=37, num_labels=num_labels, pad_token_id=0)
    model = transformers.BertForSequenceClassification(config)
    return apply_method(model, kind, "classification", {})


def features(n: int = 24) -> dict[str, list]:
    gen = torch.Generator().manual_seed(1)
    lengths = torch.randint(4, 20, (n,), generator=gen).tolist()
    return {"input_ids": [torch.randint(1, 64, (k,), generator=gen).tolist() for k in lengths]}


@pytest.mark.parametrize("kind", ["lora", "lora_all", "dora"])
def test_merged_lora_predicts_what_the_unmerged_one_does(kind):
    model = tiny_bert(kind)
    with torch.no_grad():  # a fresh LoRA update is zero (B = 0): give it a real one
        for name, p in model.named_parameters():
            if "lora_B" in name or "lora_magnitude" in name:
                p.add_(0.5 * torch.randn_like(p))
    feats = features()
    before = predict(model, feats, 8, CPU, NO_AUTOCAST, "classification")
    assert mergeable(model)
    merged = merge_for_serving(model)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    after = predict(merged, feats, 8, CPU, NO_AUTOCAST, "classification")
    assert before.std() > 0
    assert torch.allclose(torch.from_numpy(before), torch.from_numpy(after), atol=1e-5), abs(before - after).max()


def test_only_lora_type_models_merge():
    assert not mergeable(tiny_bert("bitfit"))
    assert not mergeable(tiny_bert("prompt_tuning"))
    assert not mergeable(tiny_bert("ia3"))
    inf = measure_inference(tiny_bert("bitfit"), features(), 8, CPU, NO_AUTOCAST)
    assert inf["merged"] is None and inf["n_examples"] == 24 and inf["latency_examples"] == 24
    assert measure_inference(tiny_bert("bitfit"), {"input_ids": []}, 8, CPU, NO_AUTOCAST) is None


def test_simulated_out_of_memory_fires_on_large_training_batches_only(monkeypatch):
    model = tiny_bert("bitfit")
    ids = torch.ones((8, 6), dtype=torch.long)
    monkeypatch.setenv(OOM_VARIABLE, "4")
    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    with simulated_oom(model):
        model.train()
        model(input_ids=ids[:4])
        with pytest.raises(oom, match="micro-batch of 8"):
            model(input_ids=ids)
        model.eval()
        model(input_ids=ids)  # evaluation is never affected
    model.train()
    model(input_ids=ids)  # the hook is gone after training
    monkeypatch.delenv(OOM_VARIABLE)
    with simulated_oom(model):
        model(input_ids=ids)


def test_simulated_out_of_memory_fails_the_cell_until_the_micro_batch_fits(tmp_path, tiny, monkeypatch, capsys):
    monkeypatch.setenv(OOM_VARIABLE, "4")
    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    with pytest.raises(oom, match=f"simulated out of memory on a micro-batch of 8 \\({OOM_VARIABLE}=4\\)"):
        run(tmp_path, tiny, "bitfit")
    assert not (tmp_path / "bitfit" / "metrics.json").exists()
    result = run(tmp_path, tiny, "bitfit", attempt=2)  # half the micro-batch, accumulated twice
    c = result["compute"]
    assert (c["micro_batch_size"], c["grad_accum_steps"], c["attempt"]) == (4, 2, 2)
    assert c["inference"]["batch_size"] == 16  # serving (eval mode) is not limited

    if torch.cuda.is_available():
        return  # the command line takes a GPU slot there; the exit status is checked on CPU machines
    from peftdeck import run_cell as cli

    data, model = tiny
    spec = cell_spec(model, "random", data, "bitfit", lr=1e-2, batch_size=8, epochs=1, seed=42, max_length=32,
                     eval_batch_size=16, threads=1)
    code = cli.main(["--spec", json.dumps(spec), "--out", str(tmp_path / "cli" / "metrics.json")])
    assert code == 3
    assert "out of GPU memory with micro-batch 8 (attempt 1)" in capsys.readouterr().err
