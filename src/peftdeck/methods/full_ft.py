"""Full fine-tuning: every weight of encoder and head trains; the reference other methods are measured against."""
from __future__ import annotations

from . import MethodSpec, register


def full_ft(model, task_kind, options):
    SPEC.check_options(options)
    for param in model.parameters():
        param.requires_grad_(True)
    return model


SPEC = register(MethodSpec(
    kind="full_ft", label="Full FT", what_trains="every weight of the encoder and the task head",
    lr=2e-5,  # BERT (Devlin et al., 2019) picks from 2e-5 ... 5e-5
    colors=("#1f3b73", "#4a6fa5", "#8fa9d1"), apply=full_ft, reference=True, order=0,
))
