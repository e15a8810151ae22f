"""The conclusions and summary slides: the supported claims of every section, in the deck's order."""
from __future__ import annotations

from typing import Any

from ._common import clean

def conclusions(glue: dict[str, Any] | None, squad: dict[str, Any] | None, grid: dict[str, Any] | None = None,
                ranks: dict[str, Any] | None = None, fractions: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The supported claims of every section, for the conclusions and summary slides."""
    out: list[dict[str, Any]] = []
    if glue:
        order = ("tasks_near_baseline", "learned_together", "closest_to_reference", "matches_or_beats_reference",
                 "pct_of_reference_range", "memory_savings", "memory_not_lower", "not_learned_runs", "diverged_runs",
                 "fewest_parameters")
        for key in order:
            for o in glue["observations"]:
                if o["id"] == key and o["supported"]:
                    out.append({"part": "glue", **o})
    if squad:
        for comp in squad["comparisons"]:
            met = squad["metrics"][0] if squad["metrics"] else None
            if met is None:
                continue
            hyp = comp["hypothesis"][met]
            if hyp["supported"]:
                out.append({"part": "squad", "id": "hypothesis", "supported": True,
                            "data": {"label": comp["label"], "reference_label": squad["reference_label"],
                                     "metric": met, **hyp,
                                     "crossover_n": comp["crossover"][met]["n"]
                                     if comp["crossover"][met]["supported"] else None}})
            cross = comp["crossover"][met]
            if cross["supported"]:
                out.append({"part": "squad", "id": "crossover", "supported": True,
                            "data": {"label": comp["label"], "reference_label": squad["reference_label"],
                                     "metric": met, **cross}})
    for part, summ, ids in (("grid", grid, ("grid_vs_reference",)), ("lora_ranks", ranks, ("rank_span",)),
                            ("fractions", fractions, ("fraction_holds_everywhere", "fraction_verdict"))):
        if not summ:
            continue
        chosen = [f for f in summ["findings"] if f["id"] in ids and f["supported"]]
        # A method that holds up on every task is said once, not once per task.
        everywhere = {f["data"]["label"] for f in chosen if f["id"] == "fraction_holds_everywhere"}
        for f in chosen:
            if f["id"] == "fraction_verdict" and f["data"]["label"] in everywhere:
                continue
            out.append({"part": part, **f})
    return clean(out)
