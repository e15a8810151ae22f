"""Every method on every supported encoder architecture: exact trainable counts, computed by hand.

Tiny models are built from their configs (random weights, no downloads): hidden size h = 32, two
blocks, two heads, intermediate size i = 37, two labels. Counts below are written out from the
configs, not read from the models.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from peftdeck.methods import (  # noqa: E402
    METHOD_KINDS,
    apply_method,
    count_added,
    count_parameters,
    default_methods,
)
from peftdeck.methods.architectures import ARCHITECTURES  # noqa: E402

H, I, L, V, LABELS, R, TOKENS = 32, 37, 2, 100, 2, 8, 3
ARCHS = ("bert", "roberta", "deberta-v2", "distilbert", "modernbert")


def tiny_config(model_type: str):
    common = {"vocab_size": V, "num_labels": LABELS}
    if model_type == "distilbert":
        return transformers.DistilBertConfig(dim=H, n_layers=L, n_heads=2, hidden_dim=I, **common)
    shape = {"hidden_size": H, "num_hidden_layers": L, "num_attention_heads": 2, "intermediate_size": I}
    if model_type == "bert":
        return transformers.BertConfig(**shape, **common)
    if model_type == "roberta":  # roberta-base has a single segment embedding
        return transformers.RobertaConfig(**shape, type_vocab_size=1, **common)
    if model_type == "deberta-v2":  # shaped like DeBERTa-v3: shared relative-position keys, no absolute positions
        return transformers.DebertaV2Config(**shape, relative_attention=True, pos_att_type=["p2c", "c2p"],
                                            share_att_key=True, norm_rel_ebd="layer_norm", position_buckets=16,
                                            max_relative_positions=-1, position_biased_input=False, **common)
    if model_type == "modernbert":
        return transformers.ModernBertConfig(**shape, pad_token_id=0, bos_token_id=2, eos_token_id=3,
                                             cls_token_id=2, sep_token_id=3, global_attn_every_n_layers=1, **common)
    raise AssertionError(model_type)


def tiny(model_type: str, qa: bool = False):
    torch.manual_seed(0)
    cls = transformers.AutoModelForQuestionAnswering if qa else transformers.AutoModelForSequenceClassification
    return cls.from_config(tiny_config(model_type))


def options(kind: str) -> dict:
    opts = {k: v for k, v in default_methods()[kind].items() if k not in ("kind", "lr", "label")}
    if "num_virtual_tokens" in opts:
        opts["num_virtual_tokens"] = TOKENS
    return opts


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def lora(n_in: int, n_out: int) -> int:
    return R * (n_in + n_out)


# The task head (everything outside the encoder), per architecture.
HEAD = {
    "bert": linear(H, LABELS),                                     # classifier (the pooler is the encoder's)
    "roberta": linear(H, H) + linear(H, LABELS),                   # classifier.dense + classifier.out_proj
    "deberta-v2": linear(H, H) + linear(H, LABELS),                # pooler.dense + classifier
    "distilbert": linear(H, H) + linear(H, LABELS),                # pre_classifier + classifier
    "modernbert": linear(H, H, bias=False) + H + linear(H, LABELS),  # head.dense, head.norm (no biases) + classifier
}
# Bias terms of the encoder (BitFit). BERT-like blocks: q, k, v, attention output, its LayerNorm,
# intermediate, output, its LayerNorm = 7h + i.
ENCODER_BIASES = {
    "bert": L * (7 * H + I) + H + H,          # + embedding LayerNorm + pooler
    "roberta": L * (7 * H + I) + H,           # + embedding LayerNorm (no pooler in the classification model)
    "deberta-v2": L * (7 * H + I) + H + H,    # + embedding LayerNorm + relative-position LayerNorm
    "distilbert": L * (7 * H + I) + H,        # + embedding LayerNorm
}
# LayerNorms of the encoder (Houlsby adapters train them): (count, parameters each).
LAYER_NORMS = {
    "bert": (1 + 2 * L, 2 * H), "roberta": (1 + 2 * L, 2 * H), "distilbert": (1 + 2 * L, 2 * H),
    "deberta-v2": (2 + 2 * L, 2 * H),
    # ModernBERT: embedding norm, final norm, and per block attention and MLP norms, except the first
    # block's attention norm (an identity); weights only.
    "modernbert": (2 + 2 * L - 1, H),
}
# (in, out) of the projections LoRA adapts, per block.
QUERY_VALUE = {"modernbert": [(H, 3 * H)]}                    # one fused query/key/value projection
ALL_LINEAR = {"modernbert": [(H, 3 * H), (H, H), (H, 2 * I), (I, H)]}  # Wqkv, Wo, Wi (gated: 2i), mlp.Wo
for _arch in ("bert", "roberta", "deberta-v2", "distilbert"):
    QUERY_VALUE[_arch] = [(H, H), (H, H)]
    ALL_LINEAR[_arch] = [(H, H)] * 4 + [(H, I), (I, H)]
# IA3 per block: output scales of keys and values, input scale of the feed-forward down-projection.
IA3 = {"modernbert": 3 * H + I}  # the fused projection is scaled as a whole
IA3.update({a: H + H + I for a in ("bert", "roberta", "deberta-v2", "distilbert")})
BOTTLENECK = H // 16
ADAPTER = linear(H, BOTTLENECK) + linear(BOTTLENECK, H)


def expected(arch: str, kind: str) -> tuple[int, int]:
    """(trainable, added by the method) for the tiny model of `arch`."""
    head = HEAD[arch]
    if kind == "bitfit":
        return ENCODER_BIASES[arch] + head, 0
    if kind == "bitfit_subset":
        return L * (H + I) + head, 0
    if kind == "lora":
        added = L * sum(lora(a, b) for a, b in QUERY_VALUE[arch])
        return added + head, added
    if kind == "dora":  # LoRA plus one magnitude per output feature of each adapted projection
        added = L * sum(lora(a, b) + b for a, b in QUERY_VALUE[arch])
        return added + head, added
    if kind == "lora_all":
        added = L * sum(lora(a, b) for a, b in ALL_LINEAR[arch])
        return added + head, added
    if kind == "ia3":
        return L * IA3[arch] + head, L * IA3[arch]
    if kind == "prompt_tuning":
        return TOKENS * H + head, TOKENS * H
    if kind == "prefix_tuning":  # a key and a value vector of width h per layer and token
        return L * 2 * TOKENS * H + head, L * 2 * TOKENS * H
    if kind == "adapter_pfeiffer":
        return L * ADAPTER + head, L * ADAPTER
    if kind == "adapter_houlsby":
        count, each = LAYER_NORMS[arch]
        return L * 2 * ADAPTER + count * each + head, L * 2 * ADAPTER
    raise AssertionError(kind)


# What does not apply, and the error that says so.
UNSUPPORTED = {
    ("modernbert", "bitfit"): "no bias terms",
    ("modernbert", "bitfit_subset"): "fused projection",
    ("deberta-v2", "prefix_tuning"): "takes no key/value cache",
    ("distilbert", "prefix_tuning"): "takes no key/value cache",
    ("modernbert", "prefix_tuning"): "takes no key/value cache",
}
PEFT_GAPS: set[tuple[str, str]] = set()  # combinations peft itself cannot run (none at present)
KINDS = sorted(METHOD_KINDS - {"full_ft"})
CASES = [(a, k) for a in ARCHS for k in KINDS if (a, k) not in UNSUPPORTED and (a, k) not in PEFT_GAPS]


@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_of_the_tests_is_in_the_table(arch):
    assert tiny_config(arch).model_type in ARCHITECTURES


@pytest.mark.parametrize("arch", ARCHS)
def test_full_ft_trains_everything(arch):
    model = tiny(arch)
    total = count_parameters(model)[1]
    model = apply_method(model, "full_ft", "classification", {})
    assert count_parameters(model) == (total, total)


@pytest.mark.parametrize("arch,kind", CASES)
def test_trainable_and_added_counts_by_hand(arch, kind):
    model = apply_method(tiny(arch), kind, "classification", options(kind))
    trainable, added = expected(arch, kind)
    assert count_parameters(model)[0] == trainable
    assert count_added(model, kind) == added


@pytest.mark.parametrize("arch,kind", CASES)
def test_a_step_moves_only_trainable_tensors(arch, kind):
    model = apply_method(tiny(arch), kind, "classification", options(kind))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-2)
    ids = torch.randint(5, V, (4, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 0, 1])).loss.backward()
    opt.step()
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert changed and changed <= names, sorted(changed - names)[:5]
    assert {n for n, p in model.named_parameters() if p.grad is not None} <= names


@pytest.mark.parametrize("arch", ARCHS)
def test_question_answering_heads_load_and_train_with_lora(arch):
    model = apply_method(tiny(arch, qa=True), "lora", "qa", options("lora"))
    ids = torch.randint(5, V, (2, 9))
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                start_positions=torch.tensor([1, 2]), end_positions=torch.tensor([3, 4]))
    out.loss.backward()
    assert count_added(model, "lora") == L * sum(lora(a, b) for a, b in QUERY_VALUE[arch])


@pytest.mark.parametrize("arch,kind", sorted(UNSUPPORTED))
def test_unsupported_combinations_fail_with_a_reason(arch, kind):
    with pytest.raises(ValueError, match=UNSUPPORTED[(arch, kind)]) as err:
        apply_method(tiny(arch), kind, "classification", options(kind))
    assert arch in str(err.value)


def test_an_architecture_missing_from_the_table_names_the_table_and_what_to_add():
    config = transformers.AlbertConfig(vocab_size=V, hidden_size=H, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=I, embedding_size=16, num_labels=LABELS)
    model = transformers.AutoModelForSequenceClassification.from_config(config)
    for kind in ("lora", "bitfit_subset", "adapter_pfeiffer", "ia3", "dora", "lora_all"):
        with pytest.raises(ValueError, match=r"architecture 'albert' is not in the module table") as err:
            apply_method(model, kind, "classification", options(kind))
        assert "ARCHITECTURES['albert']" in str(err.value) and kind in str(err.value)


def test_lora_role_names_map_to_each_architectures_modules():
    """`target_modules: [query, value]` means q_lin/v_lin in DistilBERT and query_proj/value_proj in DeBERTa."""
    wanted = {"distilbert": ("q_lin", "v_lin"), "deberta-v2": ("query_proj", "value_proj"), "bert": ("query", "value")}
    for arch, (q, v) in wanted.items():
        model = apply_method(tiny(arch), "lora", "classification", {"r": 2, "target_modules": ["query", "value"]})
        adapted = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters() if ".lora_A." in n}
        assert adapted == {q, v}, arch


def test_adapters_start_as_the_pretrained_function_on_every_architecture():
    for arch in ARCHS:
        model = tiny(arch).eval()
        ids = torch.randint(5, V, (2, 9))
        before = model(input_ids=ids).logits
        model = apply_method(model, "adapter_houlsby", "classification", {"reduction_factor": 4}).eval()
        assert torch.allclose(before, model(input_ids=ids).logits, atol=1e-6), arch


def test_xlm_roberta_shares_robertas_entry():
    config = transformers.XLMRobertaConfig(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=2,
                                           intermediate_size=I, type_vocab_size=1, num_labels=LABELS)
    for kind in ("lora", "adapter_houlsby", "ia3"):
        model = transformers.AutoModelForSequenceClassification.from_config(config)
        model = apply_method(model, kind, "classification", options(kind))
        assert count_parameters(model)[0] == expected("roberta", kind)[0], kind
