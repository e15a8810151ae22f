"""BitFit (Ben Zaken et al., 2022): train only bias terms, plus the task head.

`bitfit` trains every bias of the encoder (attention, feed-forward, LayerNorm, pooler).
`bitfit_subset` trains the two bias groups the paper found to matter most: the query bias of each
attention block and the bias of each intermediate (feed-forward up-projection) layer; which modules
those are in each architecture comes from `architectures.py`.
"""
from __future__ import annotations

from . import MethodSpec, freeze_all_but, is_head_param, register
from .architectures import architecture, in_block, model_type

# The paper's learning rates for BERT-base on GLUE: 1e-4 ... 1e-3 (Ben Zaken et al., 2022, section 3).
_LR = 1e-3


def bitfit(model, task_kind, options):
    SPEC.check_options(options)
    if not any(n.endswith(".bias") and not is_head_param(model, n) for n, _ in model.named_parameters()):
        raise ValueError(f"method bitfit: this {model_type(model)} model has no bias terms in its encoder "
                         "(its config switches them off), so BitFit would train the task head only")
    return freeze_all_but(model, lambda name: name.endswith(".bias"))


def bitfit_subset(model, task_kind, options):
    SUBSET.check_options(options)
    arch = architecture(model, "bitfit_subset")
    if arch.fused_qkv:
        raise ValueError(f"method bitfit_subset: {model_type(model)} computes query, key and value with one "
                         f"fused projection ({arch.query}), so the query bias alone cannot be trained; use bitfit")
    targets = (arch.query, arch.ffn_in)
    names = [n for n, _ in model.named_parameters() if n.endswith(".bias") and in_block(arch, n[:-5], targets)]
    if not names:
        raise ValueError(f"method bitfit_subset: found no biases of {', '.join(targets)} in this "
                         f"{model_type(model)} model (its config may switch biases off)")
    keep = set(names)
    return freeze_all_but(model, keep.__contains__)


SPEC = register(MethodSpec(
    kind="bitfit", label="BitFit", what_trains="every bias term of the encoder, plus the task head",
    lr=_LR, colors=("#d95f02", "#f28e2b", "#f7b267"), apply=bitfit, order=10,
))
SUBSET = register(MethodSpec(
    kind="bitfit_subset", label="BitFit subset",
    what_trains="query biases and intermediate (feed-forward) biases, plus the task head",
    lr=_LR, colors=("#e6ab02", "#c49a00", "#f1d264"), apply=bitfit_subset, order=11,
))
