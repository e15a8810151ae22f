# Validation, wildcard constraints and input functions, done once for every rule file.
import json
import os
import re
import shlex
import sys

from snakemake.exceptions import WorkflowError

from peftdeck import config as pdconfig
from peftdeck import paths as P

try:
    CONFIG = pdconfig.validate(config, source=" + ".join(map(str, workflow.configfiles)) or "config")
except pdconfig.ConfigError as exc:
    raise WorkflowError(str(exc)) from None

STUDY = CONFIG["study"]
CONFIG_LABEL = " + ".join(
    os.path.relpath(f) if os.path.isabs(str(f)) else str(f) for f in workflow.configfiles
)
# The interpreter that runs Snakemake runs the jobs too (quoted: no config string reaches a shell raw).
PY = shlex.quote(sys.executable)
CELLS = pdconfig.all_cells(CONFIG)


def _alternatives(values):
    return "|".join(re.escape(str(v)) for v in sorted(set(values), key=str))


wildcard_constraints:
    study=re.escape(STUDY),
    task=_alternatives(CONFIG["data"]),
    method=_alternatives(CONFIG["methods"]),
    size=P.WILDCARD_RES["size"],
    sched=P.WILDCARD_RES["sched"],
    lr=P.WILDCARD_RES["lr"],
    bs=P.WILDCARD_RES["bs"],
    seed=P.WILDCARD_RES["seed"],


def model_input():
    """The model folder a cell reads; produced by a rule for hub and demo sources."""
    return pdconfig.model_location(CONFIG)


def data_input(task):
    """The data a cell reads: the demo folder as a whole (one rule writes every demo task)."""
    if CONFIG["data"][task]["source"] == "demo":
        return P.demo_data_dir(STUDY)
    return pdconfig.data_location(CONFIG, task)


def cell_inputs(wildcards):
    return {"model": model_input(), "data": data_input(wildcards.task)}


def cell_spec(wildcards):
    return json.dumps(pdconfig.resolve_cell(CONFIG, P.cell_from_wildcards(wildcards)), sort_keys=True)


def present_cells():
    """With allow_missing, the deck is built from whichever cells have finished."""
    import os

    if CONFIG["allow_missing"]:
        return [c.path for c in CELLS if os.path.exists(c.path)]
    return [c.path for c in CELLS]


def figure_outputs():
    """The figures the deck shows: those of the deck sections that enabled experiments feed (by their
    `slides` kind; see peftdeck.findings.FIGURES), one per task where the figure is per task."""
    from peftdeck.findings import figure_specs

    return [f"{P.figures_dir()}/{f['name']}.png" for f in figure_specs(CONFIG)]


def final_outputs():
    return [P.deck_md()]
