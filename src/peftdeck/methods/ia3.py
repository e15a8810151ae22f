"""IA3 (Liu et al., 2022) through peft: learned vectors that rescale keys, values and the feed-forward activations.

Each targeted projection gets one trained vector: keys and values are scaled on their outputs, the
feed-forward down-projection on its input (the intermediate activation). Which modules those are
comes from `architectures.py` (in ModernBERT, whose query, key and value are one projection, the
whole fused output is scaled).
"""
from __future__ import annotations

from . import MethodSpec, head_prefixes, register
from .architectures import architecture, block_pattern

# Liu et al. (2022, T-Few) train IA3 at 3e-3; peft's IA3 guide uses 3e-3 ... 1e-2 (few values, large steps).
_LR = 3e-3


def ia3(model, task_kind, options):
    SPEC.check_options(options)
    arch = architecture(model, "ia3")
    from peft import IA3Config, get_peft_model

    cfg = IA3Config(
        target_modules=block_pattern(arch, [arch.key, arch.value, arch.ffn_out]),
        feedforward_modules=block_pattern(arch, [arch.ffn_out]),
        modules_to_save=head_prefixes(model),
    )
    return get_peft_model(model, cfg)


SPEC = register(MethodSpec(
    kind="ia3", label="IA3", lr=_LR, colors=("#c92a2a", "#ff6b6b", "#8a1c1c"),
    what_trains="one scaling vector each for the keys, values and feed-forward activations of every block, "
                "plus the task head",
    added=("ia3_l",), apply=ia3, order=50,
))
