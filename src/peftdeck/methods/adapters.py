"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2021).

An adapter is a small residual MLP (down-projection, non-linearity, up-projection) inserted after a
sub-layer's output projection, before the residual LayerNorm. Houlsby places one after the attention
output and one after the feed-forward output and also trains the LayerNorms; Pfeiffer places one
after the feed-forward output only. The up-projection starts at zero, so training starts from the
pretrained function exactly. Where the adapters go in each architecture comes from
`architectures.py`.

The AdapterHub `adapters` package pins an older transformers major version than this project, so
the two configurations are implemented here on plain torch modules (`_layers.py`).
"""
from __future__ import annotations

from . import MethodSpec, freeze_all_but, register
from .architectures import architecture, in_block, model_type

_DEFAULTS = {"reduction_factor": 16}
_ALLOWED = frozenset({"reduction_factor", "activation"})
# Houlsby et al. (2019) search 3e-5 ... 3e-3 for BERT; Pfeiffer et al. (2021) use 1e-4; 1e-3 trains a
# base-size encoder's adapters reliably in a few epochs.
_LR = 1e-3


def _insert(model, spec: MethodSpec, options: dict, where: tuple[str, ...]) -> int:
    spec.check_options(options)
    from ._layers import Bottleneck, ThenAdapter

    factor = int(options.get("reduction_factor", 16))
    activation = str(options.get("activation", "relu"))
    if activation not in ("relu", "gelu"):
        raise ValueError(f"method {spec.kind}: activation {activation!r} is not supported; use relu or gelu")
    arch = architecture(model, spec.kind)
    points = [{"attention": arch.adapter_attention, "ffn": arch.adapter_ffn}[w] for w in where]
    hidden = model.config.hidden_size
    bottleneck = max(1, hidden // factor)
    modules = dict(model.named_modules())
    inserted = 0
    for name, module in list(modules.items()):
        if not in_block(arch, name, points):
            continue
        parent_name, _, child = name.rpartition(".")
        setattr(modules[parent_name], child, ThenAdapter(module, Bottleneck(hidden, bottleneck, activation)))
        inserted += 1
    if not inserted:
        raise ValueError(f"method {spec.kind}: found none of {', '.join(points)} in this {model_type(model)} model; "
                         "fix its entry in peftdeck.methods.architectures.ARCHITECTURES")
    return inserted


def _is_adapter(name: str) -> bool:
    return ".adapter." in name


def adapter_houlsby(model, task_kind, options):
    from torch import nn

    _insert(model, HOULSBY, options, ("attention", "ffn"))
    norms = {n for n, m in model.named_modules() if isinstance(m, nn.LayerNorm)}
    return freeze_all_but(model, lambda n: _is_adapter(n) or n.rpartition(".")[0] in norms)


def adapter_pfeiffer(model, task_kind, options):
    _insert(model, PFEIFFER, options, ("ffn",))
    return freeze_all_but(model, _is_adapter)


HOULSBY = register(MethodSpec(
    kind="adapter_houlsby", label="Adapters (Houlsby)", lr=_LR, colors=("#e7298a", "#f47cb8"),
    what_trains="bottleneck adapters after the attention and feed-forward sub-layers of every block "
                "(1/{reduction_factor} of the width) and every LayerNorm, plus the task head",
    defaults=_DEFAULTS, options=_ALLOWED, added=(".adapter.",), apply=adapter_houlsby, order=40,
))
PFEIFFER = register(MethodSpec(
    kind="adapter_pfeiffer", label="Adapters (Pfeiffer)", lr=_LR, colors=("#a6761d", "#d1a35a"),
    what_trains="a bottleneck adapter after the feed-forward sub-layer of every block "
                "(1/{reduction_factor} of the width), plus the task head",
    defaults=_DEFAULTS, options=_ALLOWED, added=(".adapter.",), apply=adapter_pfeiffer, order=41,
))
