# Validation, wildcard constraints and input functions, done once for every rule file.
import glob
import json
import os
import re
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError

from peftdeck import config as pdconfig
from peftdeck import jobenv
from peftdeck import paths as P

try:
    CONFIG = pdconfig.validate(config, source=" + ".join(map(str, workflow.configfiles)) or "config")
except pdconfig.ConfigError as exc:
    raise WorkflowError(str(exc)) from None

STUDY = CONFIG["study"]
CONFIG_LABEL = " + ".join(
    os.path.relpath(f) if os.path.isabs(str(f)) else str(f) for f in workflow.configfiles
)

def _deploys_conda():
    try:
        methods = workflow.deployment_settings.deployment_method
    except AttributeError:
        return False
    return any(str(getattr(m, "name", m)).lower() == "conda" for m in methods)


# Jobs run `python -m peftdeck...`: the interpreter that runs Snakemake, or with --sdm conda the one
# of the rule's environment (envs/), with peftdeck read from this checkout (see peftdeck.jobenv).
jobenv.prepare(os.path.join(workflow.basedir, "src"), conda=_deploys_conda(),
               config_label=" ".join(shlex.quote(f) for f in CONFIG_LABEL.split(" + ")))


def write_resolved_config(out, cfg_json, log):
    from peftdeck.results import write_json_atomic

    write_json_atomic(out, json.loads(cfg_json))
    Path(log).write_text(f"wrote {out}\n")


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
    experiment=_alternatives(pdconfig.tuned_experiments(CONFIG)) or "(?!)",


def model_input():
    """The model folder a cell reads; produced by a rule for hub and demo sources."""
    return pdconfig.model_location(CONFIG)


def data_input(task):
    """The data a cell reads: the demo folder as a whole (one rule writes every demo task)."""
    if CONFIG["data"][task]["source"] == "demo":
        return P.demo_data_dir(STUDY)
    return pdconfig.data_location(CONFIG, task)


def fetch_hub_id_arg(task):
    """` --hub-id <id>` (shell-quoted) when the config names another Hub dataset for the task, else nothing."""
    hub_id = CONFIG["data"][task].get("hub_id")
    return f" --hub-id {shlex.quote(hub_id)}" if hub_id else ""


def cell_inputs(wildcards):
    """A cell's model and data. Those no rule writes (a folder of your own, an installed package) are
    `ancient`: a new timestamp alone (a reinstall, a copy) does not rerun finished cells; a change of
    their contents does, through `cell_input_fingerprints`."""
    model, data = model_input(), data_input(wildcards.task)
    if CONFIG["model"]["source"] in pdconfig.STATIC_MODEL_SOURCES:
        model = ancient(model)
    if CONFIG["data"][wildcards.task]["source"] in pdconfig.STATIC_DATA_SOURCES:
        data = ancient(data)
    return {"model": model, "data": data}


def _cell_resolved(wildcards):
    return pdconfig.resolve_cell(CONFIG, P.cell_from_wildcards(wildcards))


def cell_spec(wildcards):
    return json.dumps(_cell_resolved(wildcards), sort_keys=True)


class _NoStaticInputs:
    """The parameter's value for a cell without static inputs. Snakemake records only parameters it can
    represent (plain values), so this one is left out of the record and the cells of such studies (demo
    data and model, Hub downloads) see no parameter change from it."""

    def __str__(self):
        return ""


def cell_input_fingerprints(wildcards):
    """The contents of the cell's static inputs (see `cell_inputs`): a parameter, so that a change reruns it."""
    return pdconfig.static_input_fingerprints(_cell_resolved(wildcards)) or _NoStaticInputs()


def study_cells(wildcards=None):
    """Every cell of the study. A tuned experiment (`tuned_on`) has cells once its grid has been chosen
    on: asking for its choice here makes Snakemake run the grid and the `choose_settings` checkpoint
    first, then evaluate this function again."""
    for name in pdconfig.tuned_experiments(CONFIG):
        checkpoints.choose_settings.get(study=STUDY, experiment=name)
    return pdconfig.all_cells(CONFIG)


def present_cells(wildcards=None):
    """Input function: every cell's result; with allow_missing, whichever cells have finished."""
    cells = study_cells()
    if CONFIG["allow_missing"]:
        return [c.path for c in cells if os.path.exists(c.path)]
    return [c.path for c in cells]


def grid_cells_of(wildcards):
    """The cells of the grid a tuned experiment takes its settings from."""
    grid = CONFIG["experiments"][wildcards.experiment]["tuned_on"]
    return [c.path for c in pdconfig.experiment_cells(CONFIG, grid)]


def figure_outputs():
    """The figures the deck shows: those of the deck sections that enabled experiments feed (by their
    `slides` kind; see peftdeck.findings.FIGURES), one per task where the figure is per task."""
    from peftdeck.findings import figure_specs

    return [f"{P.figures_dir(STUDY)}/{f['name']}.png" for f in figure_specs(CONFIG)]


def moved_deck(ext):
    """Input function of `moved_deck` (the old, shared deck path); stops, naming where the deck is now."""
    target = {"md": "deck", "html": "html", "pdf": "pdf"}[ext]
    raise WorkflowError(
        f"slides/deck.{ext} is no longer built: each study keeps its own deck in slides/<study>/ (this one: "
        f"{P.slides_dir(STUDY)}/deck.{ext}). Ask for the target `{target}` instead, e.g. snakemake --cores 4 "
        f"{target}" + (f" --configfile {CONFIG_LABEL}" if CONFIG_LABEL else "")
    )


def final_outputs():
    return [P.deck_md(STUDY)]


# --- the warm worker: local runs fork cells from one process that has torch and transformers imported ---
_WARM = {}


def _training_pending():
    try:
        return any(job.rule.name == "train_cell" for job in workflow.dag.needrun_jobs())
    except Exception:  # an API change must not stop the run: start the worker anyway
        return True


def warm_worker_start():
    """Start the warm worker (peftdeck.warm) for a local run that trains cells; jobs hand their cell
    to it over a Unix socket and skip ~4-5 s of imports each. PEFTDECK_WARM=0 switches it off; a job
    that finds no worker (it failed to start, a cluster node) runs its cell itself."""
    import tempfile

    from peftdeck import warm

    if not workflow.local_exec or os.environ.get("PEFTDECK_WARM", "1") == "0" or os.environ.get(warm.ENV_SOCKET):
        return
    if not _training_pending():
        return
    if warm.gpu_visible() and os.environ.get("PEFTDECK_WARM") != "1":
        return  # not yet measured on GPUs (a CUDA call before the fork would break CUDA in the cells)
    warm.sweep_stale(tempfile.gettempdir())
    path = warm.socket_path(tempfile.gettempdir(), os.getpid())
    # Wait for its imports (about as long as one cold start) so that the first cells start warm too;
    # if it is not up in 60 s, jobs run cold.
    proc = warm.start(path, log_path=f"results/{STUDY}/logs/warm_worker.log", wait_s=60)
    if proc is not None:
        os.environ[warm.ENV_SOCKET] = path
        _WARM.update(proc=proc, path=path)


def warm_worker_stop():
    from peftdeck import warm

    if _WARM:
        warm.stop(_WARM.pop("proc"), _WARM.pop("path"))
        os.environ.pop(warm.ENV_SOCKET, None)

