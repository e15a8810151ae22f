"""BitFit (Ben Zaken et al., 2022): train only bias terms, plus the task head.

`bitfit` trains every bias of the encoder (attention, feed-forward, LayerNorm, pooler).
`bitfit_subset` trains the two bias groups the paper found to matter most: the query bias of each
attention block and the bias of each intermediate (feed-forward up-projection) layer.
"""
from __future__ import annotations

from . import freeze_all_but, register


def _no_options(kind, options):
    if options:
        raise ValueError(f"method {kind} takes no options, got {sorted(options)}")


@register("bitfit")
def bitfit(model, task_kind, options):
    _no_options("bitfit", options)
    return freeze_all_but(model, lambda name: name.endswith(".bias"))


def _subset(name: str) -> bool:
    return name.endswith("attention.self.query.bias") or name.endswith("intermediate.dense.bias")


@register("bitfit_subset")
def bitfit_subset(model, task_kind, options):
    _no_options("bitfit_subset", options)
    return freeze_all_but(model, _subset)
