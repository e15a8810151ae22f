"""`model.pooling: mean`: the head reads the masked mean of the token states, padding excluded,
for plain calls, for prompt tuning's extended mask and after a LoRA merge; other heads refuse it.
`pair_mean`: a sentence pair is read as (u, v, |u - v|) of its two sentences' means."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from peftdeck.config import ConfigError, validate  # noqa: E402
from peftdeck.inference import merge_for_serving  # noqa: E402
from peftdeck.methods import apply_method, count_parameters  # noqa: E402
from peftdeck.pooling import MeanPooler, PairMeanPooler, apply_pooling  # noqa: E402

H = 32


def tiny_bert(pooling: str = "mean", num_labels: int = 2, pair: bool = False):
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=64, hidden_size=H, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=37, num_labels=num_labels, pad_token_id=0)
    return apply_pooling(transformers.BertForSequenceClassification(config).eval(), pooling, pair=pair)


def batch():
    ids = torch.tensor([[2, 5, 9, 7, 3, 0, 0], [2, 11, 4, 6, 8, 10, 3]])
    return ids, (ids != 0).long()


def manual_mean(model, ids, mask):
    """The classifier applied to the mean of the last hidden states over the real tokens, by hand."""
    hidden = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
    means = torch.stack([hidden[i, : int(mask[i].sum())].mean(0) for i in range(len(ids))])
    return model.classifier(means)


def test_mean_pooling_is_the_masked_mean_of_the_token_states():
    model = tiny_bert()
    ids, mask = batch()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        assert torch.allclose(logits, manual_mean(model, ids, mask), atol=1e-6)
        # padding takes no part: the padded row scores as it does alone, unpadded
        alone = model(input_ids=ids[:1, :5], attention_mask=mask[:1, :5]).logits
        assert torch.allclose(logits[:1], alone, atol=1e-5)
        # and the mask is really read: counting the padding in changes the score
        unmasked = model(input_ids=ids, attention_mask=torch.ones_like(mask)).logits
        assert not torch.allclose(logits[:1], unmasked[:1], atol=1e-4)


def test_cls_pooling_leaves_the_model_as_it_was():
    model = tiny_bert("cls")
    assert not isinstance(model.bert.pooler, MeanPooler)
    ids, mask = batch()
    with torch.no_grad():
        assert not torch.allclose(model(input_ids=ids, attention_mask=mask).logits, manual_mean(model, ids, mask))


def test_mean_pooler_holds_no_weights_so_bitfit_trains_fewer_biases():
    trainable = {p: count_parameters(apply_method(tiny_bert(p), "bitfit", "classification", {}))[0]
                 for p in ("cls", "mean")}
    assert trainable["cls"] - trainable["mean"] == H  # the pooler's dense bias is gone


def test_prompt_tuning_pools_over_the_prompt_and_the_real_tokens():
    model = apply_method(tiny_bert(), "prompt_tuning", "classification", {"num_virtual_tokens": 3})
    ids, mask = batch()
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    pooler = model.base_model.bert.pooler
    assert pooler.mask.shape == (2, 3 + ids.shape[1])
    assert pooler.mask[:, :3].eq(1).all() and pooler.mask[0, 3 + 5:].eq(0).all()


def test_a_merged_lora_model_still_pools_by_the_mask():
    model = apply_method(tiny_bert(), "lora", "classification", {"r": 4, "target_modules": ["query", "value"]})
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.3 * torch.randn_like(p))
    ids, mask = batch()
    model.eval()
    with torch.no_grad():
        before = model(input_ids=ids, attention_mask=mask).logits
        merged = merge_for_serving(model)
        assert torch.allclose(merged(input_ids=ids, attention_mask=mask).logits, before, atol=1e-5)
        assert torch.allclose(merged(input_ids=ids[:1, :5], attention_mask=mask[:1, :5]).logits, before[:1], atol=1e-5)


def test_a_head_without_a_pooler_is_refused_with_the_fix():
    config = transformers.RobertaConfig(vocab_size=64, hidden_size=H, num_hidden_layers=1, num_attention_heads=2,
                                        intermediate_size=37, num_labels=2)
    model = transformers.RobertaForSequenceClassification(config)
    with pytest.raises(ValueError, match=r"model.pooling mean: this model \(roberta\).*Use pooling: cls"):
        apply_pooling(model, "mean")


def pair_batch():
    """Two pairs: [CLS] a a [SEP] b b [SEP] (padded), and [CLS] a a a [SEP] b [SEP]."""
    ids = torch.tensor([[2, 5, 9, 3, 7, 4, 3, 0], [2, 11, 4, 6, 3, 8, 3, 0]])
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 0, 1, 1, 0]])
    return ids, (ids != 0).long(), types


def test_pair_mean_reads_the_two_sentences_means_and_their_distance():
    model = tiny_bert("pair_mean", pair=True)
    assert isinstance(model.bert.pooler, PairMeanPooler)
    assert model.classifier.in_features == 3 * H and model.classifier.out_features == 2
    assert model.classifier.bias.abs().max() == 0  # the encoder's own initialisation
    ids, mask, types = pair_batch()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
        hidden = model.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        first = [hidden[0, 0:4].mean(0), hidden[1, 0:5].mean(0)]  # [CLS] and the first [SEP] with it
        second = [hidden[0, 4:7].mean(0), hidden[1, 5:7].mean(0)]  # padding in neither
        by_hand = torch.stack([torch.cat([u, v, (u - v).abs()]) for u, v in zip(first, second)])
        assert torch.allclose(logits, model.classifier(by_hand), atol=1e-5)
        # the type ids are read: calling the pair one sentence gives another score
        assert not torch.allclose(logits, model(input_ids=ids, attention_mask=mask).logits, atol=1e-4)


def test_pair_mean_reads_a_single_sentence_as_its_mean():
    model = tiny_bert("pair_mean", pair=False)
    assert type(model.bert.pooler) is MeanPooler and model.classifier.in_features == H
    ids, mask = batch()
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids, attention_mask=mask).logits, manual_mean(model, ids, mask), atol=1e-6)


def test_pair_mean_under_prompt_tuning_leaves_the_prompt_out_of_both_means():
    model = apply_method(tiny_bert("pair_mean", pair=True), "prompt_tuning", "classification",
                         {"num_virtual_tokens": 3})
    ids, mask, types = pair_batch()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    assert logits.shape == (2, 2)
    pooler = model.base_model.bert.pooler
    assert pooler.prompt == 3
    assert pooler.types.shape == (2, 3 + ids.shape[1]) and torch.equal(pooler.types[:, 3:], types)
    # by hand on states of the prompt's length plus the pair's: the first three positions count nowhere
    torch.manual_seed(1)
    hidden = torch.randn(2, 3 + ids.shape[1], H)
    pooled = pooler(hidden)
    real = hidden[:, 3:]
    u = torch.stack([real[0, 0:4].mean(0), real[1, 0:5].mean(0)])
    v = torch.stack([real[0, 4:7].mean(0), real[1, 5:7].mean(0)])
    assert torch.allclose(pooled, torch.cat([u, v, (u - v).abs()], dim=-1), atol=1e-6)
    hidden[:, :3] += 100.0  # whatever the prompt's states are
    assert torch.allclose(pooler(hidden), pooled, atol=1e-5)
    # the wider head is the head: prompt tuning trains it
    assert any(p.shape[-1] == 3 * H for n, p in model.named_parameters() if p.requires_grad and "classifier" in n)


def test_the_config_accepts_cls_mean_and_pair_mean_only():
    base = {"study": "t", "model": {"source": "demo"}, "data": {"sst2": {"source": "demo"}},
            "experiments": {"glue": {"tasks": ["sst2"], "methods": ["bitfit"], "train_sizes": [10],
                                     "schedules": [{"epochs": 1}]}}}
    assert validate(base, source="t")["model"]["pooling"] == "cls"
    assert validate({**base, "model": {"source": "demo", "pooling": "pair_mean"}}, source="t")["model"]["pooling"] \
        == "pair_mean"
    with pytest.raises(ConfigError, match="pooling"):
        validate({**base, "model": {"source": "demo", "pooling": "max"}}, source="t")


def test_the_pooling_reaches_classification_cells_only_and_the_default_changes_no_cell():
    from peftdeck.config import experiment_cells, resolve_cell

    def specs(pooling):
        model = {"source": "demo", **({"pooling": pooling} if pooling else {})}
        config = validate({"study": "t", "model": model, "data": {"sst2": {"source": "demo"}, "squad": {"source": "demo"}},
                           "experiments": {"e": {"tasks": ["sst2", "squad"], "methods": ["full_ft"], "train_sizes": [10],
                                                 "schedules": [{"epochs": 1}]}}}, source="t")
        return {c.task: resolve_cell(config, c) for c in experiment_cells(config, "e")}

    mean, default, cls = specs("mean"), specs(None), specs("cls")
    assert mean["sst2"]["model"]["pooling"] == "mean" and "pooling" not in mean["squad"]["model"]
    # cells of a study that never named a pooling are the same cells (Snakemake reruns nothing)
    assert default == cls and "pooling" not in default["sst2"]["model"]
    assert mean["squad"] == default["squad"]
