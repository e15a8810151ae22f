"""A tiny cell runs end to end with every method and on every encoder architecture; its JSON records
what the task costs to store beyond the shared base model."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from bench_inputs import cell_spec, generated_sst2, tokenizer_files, word_vocab  # noqa: E402
from peftdeck.methods import METHOD_KINDS  # noqa: E402
from peftdeck.train import TASK_WEIGHTS, run_cell, uses_token_types  # noqa: E402

H, L, I = 32, 2, 37


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generated_sst2(tmp_path_factory.mktemp("data") / "sst2", 32, 16, 42)


def encoder_config(model_type: str, vocab_size: int):
    shape = {"hidden_size": H, "num_hidden_layers": L, "num_attention_heads": 2, "intermediate_size": I,
             "vocab_size": vocab_size, "pad_token_id": 0}
    if model_type == "bert":
        return transformers.BertConfig(**shape)
    if model_type == "roberta":
        return transformers.RobertaConfig(**shape, type_vocab_size=1)
    if model_type == "deberta-v2":
        return transformers.DebertaV2Config(**shape, relative_attention=True, pos_att_type=["p2c", "c2p"],
                                            share_att_key=True, norm_rel_ebd="layer_norm", position_buckets=16,
                                            max_relative_positions=-1, position_biased_input=False)
    if model_type == "distilbert":
        return transformers.DistilBertConfig(dim=H, n_layers=L, n_heads=2, hidden_dim=I, vocab_size=vocab_size,
                                             pad_token_id=0)
    if model_type == "modernbert":  # the WordPiece vocabulary below: [PAD] 0, [CLS] 2, [SEP] 3
        return transformers.ModernBertConfig(**shape, bos_token_id=2, eos_token_id=3, cls_token_id=2,
                                             sep_token_id=3, global_attn_every_n_layers=1)
    raise AssertionError(model_type)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, data):
    """{model_type: folder with config.json and a WordPiece tokenizer} (random weights, `source: random`)."""
    vocab = word_vocab(data)
    out = {}
    for model_type in ("bert", "roberta", "deberta-v2", "distilbert", "modernbert"):
        folder = tmp_path_factory.mktemp(model_type)
        encoder_config(model_type, len(vocab)).save_pretrained(folder)
        tokenizer_files(folder, vocab, None)
        # tokenizer.json as well: some architectures' tokenizer class is the fast one only
        transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
        out[model_type] = folder
    return out


def run(tmp_path, model_folder, data, kind, **training):
    spec = cell_spec(model_folder, "random", data, kind, lr=1e-3, batch_size=8, epochs=1, seed=42, max_length=32,
                     eval_batch_size=16, threads=1)
    spec["training"].update(training)
    out = tmp_path / kind / "metrics.json"
    result = run_cell(spec, str(out), log=lambda _msg: None)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    return result, out


@pytest.mark.parametrize("kind", sorted(METHOD_KINDS))
def test_every_method_runs_a_tiny_cell_and_records_its_storage(tmp_path, model_dir, data, kind):
    result, out = run(tmp_path, model_dir["bert"], data, kind)
    params, storage = result["params"], result["storage"]
    assert result["status"] == "complete" and 0 <= result["metrics"]["accuracy"] <= 100
    assert storage["task_parameters"] == params["trainable"]
    # fp32 tensors plus the safetensors header (names, shapes, offsets)
    header = 300 * storage["task_tensors"] + 1024
    assert 4 * params["trainable"] < storage["task_bytes"] < 4 * params["trainable"] + header
    assert storage["base_model_bytes"] == 4 * params["total"]
    assert storage["saved"] is None
    assert sorted(p.name for p in out.parent.iterdir()) == ["metrics.json"]  # the measured file is gone
    if kind not in ("full_ft", "bitfit", "bitfit_subset"):
        assert params["added_by_method"] > 0


@pytest.mark.parametrize("model_type,kind", [("roberta", "lora_all"), ("deberta-v2", "ia3"),
                                             ("distilbert", "adapter_houlsby"), ("modernbert", "dora")])
def test_other_encoders_run_a_tiny_cell(tmp_path, model_dir, data, model_type, kind):
    result, _ = run(tmp_path, model_dir[model_type], data, kind)
    assert result["status"] == "complete" and result["params"]["added_by_method"] > 0


@pytest.fixture(scope="module")
def pair_and_qa_data(tmp_path_factory):
    from peftdeck.demo.data import generate_mrpc, generate_squad

    root = tmp_path_factory.mktemp("tasks")
    return {"mrpc": generate_mrpc(root, 3, n_train=24, n_dev=12), "squad": generate_squad(root, 3, n_train=16, n_dev=8)}


def task_spec(model_folder, task: str, data_folder, kind: str) -> dict:
    from peftdeck.config import experiment_cells, resolve_cell, validate

    config = validate({
        "study": "t", "model": {"source": "random", "path": str(model_folder)},
        "data": {task: {"source": "local", "path": str(data_folder)}},
        "training": {"max_length": 48, "qa_max_length": 64, "doc_stride": 16, "eval_batch_size": 16, "threads": 1},
        "experiments": {"e": {"tasks": [task], "methods": [kind], "schedules": [{"epochs": 1}], "batch_sizes": [8]}},
    })
    (cell,) = experiment_cells(config, "e")
    return resolve_cell(config, cell)


@pytest.mark.parametrize("model_type,task,kind", [
    ("roberta", "mrpc", "lora"), ("distilbert", "mrpc", "bitfit"), ("deberta-v2", "mrpc", "prompt_tuning"),
    ("bert", "squad", "prefix_tuning"), ("distilbert", "squad", "ia3"), ("modernbert", "squad", "adapter_pfeiffer"),
])
def test_sentence_pairs_and_questions_on_other_encoders(tmp_path, model_dir, pair_and_qa_data, model_type, task, kind):
    """Pairs: the WordPiece tokenizer's segment ids must not reach models with one (or no) segment embedding."""
    spec = task_spec(model_dir[model_type], task, pair_and_qa_data[task], kind)
    result = run_cell(spec, str(tmp_path / "metrics.json"), log=lambda _msg: None)
    assert result["status"] == "complete" and result["task"]["kind"] == ("qa" if task == "squad" else "classification")
    assert result["storage"]["task_parameters"] == result["params"]["trainable"]


def test_save_weights_keeps_the_task_tensors_beside_the_result(tmp_path, model_dir, data):
    from safetensors.torch import load_file

    result, out = run(tmp_path, model_dir["bert"], data, "lora", save_weights=True)
    saved = out.parent / TASK_WEIGHTS
    assert result["storage"]["saved"] == TASK_WEIGHTS and saved.stat().st_size == result["storage"]["task_bytes"]
    tensors = load_file(saved)
    assert sum(t.numel() for t in tensors.values()) == result["params"]["trainable"]
    assert any("lora_A" in n for n in tensors) and any("classifier" in n for n in tensors)
    run(tmp_path, model_dir["bert"], data, "lora")  # rerun without: the old tensors would not match it
    assert sorted(p.name for p in out.parent.iterdir()) == ["metrics.json"]


def test_the_serving_measurement_takes_the_studys_sizes(tmp_path, model_dir, data):
    default, _ = run(tmp_path, model_dir["bert"], data, "bitfit")
    small, _ = run(tmp_path, model_dir["bert"], data, "bitfit", inference_examples=8, inference_latency_examples=3)
    inf, inf_small = default["compute"]["inference"], small["compute"]["inference"]
    assert inf_small["n_examples"] == 8 and inf_small["latency_examples"] == 3
    assert inf["n_examples"] > 8 and inf["latency_examples"] > 3
    assert "at most 8 evaluation features" in inf_small["method"] and "at most 3 single-feature" in inf_small["method"]


def test_segment_ids_reach_only_models_that_embed_them(model_dir):
    expected = {"bert": True, "roberta": False, "deberta-v2": False, "distilbert": False, "modernbert": False}
    for model_type, folder in model_dir.items():
        config = transformers.AutoConfig.from_pretrained(folder, num_labels=2)
        model = transformers.AutoModelForSequenceClassification.from_config(config)
        assert uses_token_types(model) is expected[model_type], model_type


def test_a_compiled_cell_trains_as_the_eager_one_does(tmp_path, data):
    """training.compile: the same steps and, within float noise, the same losses and predictions as eager.

    Without dropout, whose random numbers the compiled graph draws its own way."""
    folder = tmp_path / "model"
    vocab = word_vocab(data)
    config = encoder_config("bert", len(vocab))
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
    config.save_pretrained(folder)
    tokenizer_files(folder, vocab, None)
    eager, _ = run(tmp_path / "eager", folder, data, "full_ft")
    compiled, _ = run(tmp_path / "compiled", folder, data, "full_ft", compile=True)
    assert compiled["compute"]["compiled"] and not eager["compute"]["compiled"]
    assert eager["compute"]["compile_s"] is None and compiled["compute"]["compile_s"] > 0
    assert compiled["compute"]["steps"] == eager["compute"]["steps"]
    curve_e, curve_c = ([loss for _, loss in r["compute"]["train_loss_curve"]] for r in (eager, compiled))
    assert len(curve_e) == len(curve_c) and max(abs(a - b) for a, b in zip(curve_e, curve_c)) < 1e-3
    assert compiled["metrics"]["accuracy"] == eager["metrics"]["accuracy"]
    # widths rounded up to a multiple of 16: at least as many tokens run as in the eager cell
    assert compiled["compute"]["train_tokens_padded"] >= eager["compute"]["train_tokens_padded"]
