"""Prompt tuning (Lester et al., 2021) through peft: trainable virtual tokens before the input; the head trains.

`init` chooses the virtual tokens' starting embeddings, as Lester et al. compare them: `random`
(peft's default), `vocab` (embeddings of vocabulary tokens drawn at random with the cell's seed) or
`text` (the embeddings of `init_text` as the model's own tokenizer splits it, special tokens
included, repeated or cut to `num_virtual_tokens`; e.g. a task phrase such as "is this review
positive or negative ?"). The tokenizer is read from the model's folder, offline.
"""
from __future__ import annotations

from . import MethodSpec, head_prefixes, register

_ALLOWED = {"num_virtual_tokens", "init", "init_text"}
INITS = ("random", "vocab", "text")


@register("prompt_tuning")
def prompt_tuning(model, task_kind, options):
    unknown = set(options) - _ALLOWED
    if unknown:
        raise ValueError(f"method prompt_tuning: unknown option(s) {sorted(unknown)}; allowed: {sorted(_ALLOWED)}")
    if task_kind == "qa":
        raise ValueError("method prompt_tuning is supported for classification and regression tasks, not QA")
    init = options.get("init", "random")
    if init not in INITS:
        raise ValueError(f"method prompt_tuning: init must be one of {list(INITS)}, got {init!r}")
    text = options.get("init_text")
    if init == "text" and not (isinstance(text, str) and text.strip()):
        raise ValueError("method prompt_tuning: init text needs init_text, the phrase whose embeddings start the prompt")
    if text is not None and init != "text":
        raise ValueError(f"method prompt_tuning: init_text is only used with init: text (init is {init!r})")
    from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

    kwargs = {}
    if init == "vocab":
        kwargs["prompt_tuning_init"] = PromptTuningInit.SAMPLE_VOCAB
    elif init == "text":
        location = getattr(model, "name_or_path", "") or getattr(model.config, "_name_or_path", "")
        if not location:
            raise ValueError("method prompt_tuning: init text needs a model loaded from a folder (for its tokenizer)")
        kwargs.update(prompt_tuning_init=PromptTuningInit.TEXT, prompt_tuning_init_text=text,
                      tokenizer_name_or_path=str(location), tokenizer_kwargs={"local_files_only": True})
    # The prompt's width is the word embeddings' width: given here because peft looks for
    # `hidden_size` in the config, which DistilBERT calls `dim`.
    config = model.config
    kwargs.update(token_dim=model.get_input_embeddings().embedding_dim,
                  num_layers=getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", None),
                  num_attention_heads=getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", None))
    cfg = PromptTuningConfig(
        task_type=TaskType.SEQ_CLS,
        num_virtual_tokens=int(options.get("num_virtual_tokens", 20)),
        modules_to_save=head_prefixes(model),
        **kwargs,
    )
    from ..pooling import exclude_prompt

    wrapped = get_peft_model(model, cfg)
    exclude_prompt(wrapped, cfg.num_virtual_tokens)  # a pair's sentence means leave the prompt out
    return wrapped


# Lester et al. (2021) train T5 prompts at 0.3 (Adafactor); prompts need far larger steps than weights.
register(MethodSpec(
    kind="prompt_tuning", label="Prompt tuning", lr=3e-2, colors=("#7570b3", "#a6a1d9", "#4d4890"),
    what_trains="{num_virtual_tokens} trainable virtual input tokens, plus the task head",
    defaults={"num_virtual_tokens": 20}, options=frozenset(_ALLOWED), added=("prompt_encoder",), order=30,
))
