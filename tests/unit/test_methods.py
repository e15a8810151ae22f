"""Each method trains exactly the tensors it claims to, and nothing frozen moves."""
from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForQuestionAnswering, BertForSequenceClassification

from peftdeck.methods import METHOD_KINDS, apply_method, count_parameters, get_method

LORA = {"r": 8, "alpha": 16, "dropout": 0.1, "target_modules": ["query", "value"]}
OPTIONS = {"full_ft": {}, "bitfit": {}, "bitfit_subset": {}, "lora": LORA, "prompt_tuning": {"num_virtual_tokens": 20},
           "adapter_houlsby": {"reduction_factor": 4}, "adapter_pfeiffer": {"reduction_factor": 4}}


def tiny_config(**kw) -> BertConfig:
    base = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=32, max_position_embeddings=64, num_labels=2)
    base.update(kw)
    return BertConfig(**base)


def expected_tiny(kind: str) -> int:
    h, i, layers, labels = 16, 32, 2, 2
    head = h * labels + labels
    per_layer_bias = 4 * h + h + i + h + h  # q,k,v,o + attn LN + intermediate + output dense + output LN
    if kind == "full_ft":
        return count_parameters(BertForSequenceClassification(tiny_config()))[1]
    if kind == "bitfit":
        return layers * per_layer_bias + h + h + head  # + embeddings LN bias + pooler bias
    if kind == "bitfit_subset":
        return layers * (h + i) + head
    if kind == "lora":
        return layers * 2 * (h * 8 * 2) + head
    if kind == "prompt_tuning":
        return 20 * h + head
    adapter = h * 4 + 4 + 4 * h + h  # down (h->h/4) and up (h/4->h), with biases
    if kind == "adapter_houlsby":  # two adapters per layer, and every LayerNorm
        return layers * 2 * adapter + (1 + 2 * layers) * 2 * h + head
    if kind == "adapter_pfeiffer":  # one adapter per layer, after the feed-forward block
        return layers * adapter + head
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", sorted(OPTIONS))
def test_trainable_counts_on_tiny_bert(kind):
    torch.manual_seed(0)
    model = apply_method(BertForSequenceClassification(tiny_config()), kind, "classification", OPTIONS[kind])
    assert count_parameters(model)[0] == expected_tiny(kind)


@pytest.mark.parametrize("kind", sorted(OPTIONS))
def test_frozen_weights_stay_bit_identical_after_a_step(kind):
    torch.manual_seed(0)
    model = apply_method(BertForSequenceClassification(tiny_config()), kind, "classification", OPTIONS[kind])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-2)
    ids = torch.randint(1, 50, (4, 12))
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.tensor([0, 1, 0, 1]))
    out.loss.backward()
    opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert changed <= names, f"frozen tensors moved: {sorted(changed - names)[:5]}"
    assert grads <= names, "a frozen tensor received a gradient buffer"
    # LoRA's B starts at zero, so A gets no gradient on the first step; everything else must move.
    assert changed, "nothing trained"
    assert len(opt.param_groups[0]["params"]) == len(names)


def test_bitfit_subset_is_query_and_intermediate_bias_only():
    model = apply_method(BertForSequenceClassification(tiny_config()), "bitfit_subset", "classification", {})
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    encoder = {n for n in names if n.startswith("bert.")}
    assert encoder and all(n.endswith(("attention.self.query.bias", "intermediate.dense.bias")) for n in encoder)
    assert {"classifier.weight", "classifier.bias"} <= names


def test_qa_head_trains_with_bitfit():
    model = apply_method(BertForQuestionAnswering(tiny_config()), "bitfit", "qa", {})
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"qa_outputs.weight", "qa_outputs.bias"} <= names
    assert not any(n.endswith(".weight") and n.startswith("bert.") for n in names)


def test_prompt_tuning_refuses_qa():
    with pytest.raises(ValueError, match="not QA"):
        apply_method(BertForQuestionAnswering(tiny_config()), "prompt_tuning", "qa", {"num_virtual_tokens": 4})


def test_unknown_kind_and_option_are_named():
    with pytest.raises(ValueError, match="unknown method kind 'lorra'"):
        get_method("lorra")
    with pytest.raises(ValueError, match="unknown option"):
        apply_method(BertForSequenceClassification(tiny_config()), "lora", "classification", {"rank": 4})
    assert {"full_ft", "bitfit", "bitfit_subset", "lora", "prompt_tuning"} <= METHOD_KINDS


REFERENCE_COUNTS = {  # trainable parameters on bert-base-uncased, binary classification
    "full_ft": 109_483_778, "bitfit": 104_450, "bitfit_subset": 47_618, "lora": 296_450, "prompt_tuning": 16_898,
}
ADAPTER_COUNTS = {  # reduction factor 16: bottleneck 48, 74,544 weights per adapter
    "adapter_houlsby": 24 * 74_544 + 25 * 1_536 + 1_538, "adapter_pfeiffer": 12 * 74_544 + 1_538,
}


@pytest.mark.parametrize("kind", sorted(ADAPTER_COUNTS))
def test_adapters_start_as_the_pretrained_function_and_count_on_bert_base(kind, shared_data):
    cfg = BertConfig.from_pretrained(shared_data / "models/no-weights/bert-base-uncased", num_labels=2)
    torch.manual_seed(0)
    model = BertForSequenceClassification(cfg).eval()
    ids = torch.randint(0, 1000, (2, 9))
    before = model(input_ids=ids).logits
    model = apply_method(model, kind, "classification", {"reduction_factor": 16}).eval()
    assert count_parameters(model)[0] == ADAPTER_COUNTS[kind]
    assert torch.allclose(before, model(input_ids=ids).logits)  # zero-initialised up-projection


@pytest.mark.parametrize("kind", sorted(REFERENCE_COUNTS))
def test_reference_counts_on_bert_base(kind, shared_data):
    cfg = BertConfig.from_pretrained(shared_data / "models/no-weights/bert-base-uncased", num_labels=2)
    with torch.device("meta"):  # counts only: no memory for weights
        model = BertForSequenceClassification(cfg)
    total = count_parameters(model)[1]
    model = apply_method(model, kind, "classification", OPTIONS[kind])
    assert total == REFERENCE_COUNTS["full_ft"]
    assert count_parameters(model)[0] == REFERENCE_COUNTS[kind]


@pytest.mark.parametrize("r", [1, 4, 16])
def test_lora_rank_instances_train_exactly_their_low_rank_matrices(r):
    """The built-in lora_r<N> methods: A (r x h) and B (h x r) on query and value of every layer, plus the head."""
    from peftdeck.config import DEFAULT_METHODS

    spec = DEFAULT_METHODS[f"lora_r{r}"]
    options = {k: v for k, v in spec.items() if k not in ("kind", "lr", "label")}
    assert spec["kind"] == "lora" and options["r"] == r
    torch.manual_seed(0)
    model = apply_method(BertForSequenceClassification(tiny_config()), spec["kind"], "classification", options)
    h, layers, head = 16, 2, 16 * 2 + 2
    expected = {1: 162, 4: 546, 16: 2082}[r]  # layers x 2 targets x 2 matrices x h x r + head = 128 r + 34
    assert expected == layers * 2 * 2 * h * r + head
    assert count_parameters(model)[0] == expected
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    lora_names = {n for n in names if "lora_" in n}
    assert len(lora_names) == layers * 2 * 2
    assert all((".query." in n or ".value." in n) for n in lora_names)
    shapes = {tuple(p.shape) for n, p in model.named_parameters() if "lora_A" in n}
    assert shapes == {(r, h)}
