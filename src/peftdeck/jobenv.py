"""The environment the workflow's jobs run in (called by rules/common.smk when the Snakefile is parsed).

Jobs run `python -m peftdeck...`. Without `--sdm conda` that is the interpreter that runs Snakemake:
its folder goes first on PATH, so jobs see exactly the packages Snakemake sees, whether or not the
virtual environment was activated. With `--sdm conda` each rule's environment (envs/) comes first on
PATH instead, and peftdeck itself is read from the checkout's src/ (put on PYTHONPATH here).

`PEFTDECK_CONFIG_LABEL` carries the study's config file(s) (as `--configfile` takes them) to the
commands that print advice (downloads, training), without making it a rule parameter: a parameter that changes would make Snakemake redo
finished downloads whenever another study's config is used.
"""
from __future__ import annotations

import os
import sys


CONFIG_LABEL_VAR = "PEFTDECK_CONFIG_LABEL"


def prepare(src_dir: str, conda: bool, config_label: str = "", environ: dict | None = None) -> None:
    env = os.environ if environ is None else environ
    env[CONFIG_LABEL_VAR] = config_label
    bindir = os.path.dirname(sys.executable)
    path = env.get("PATH", "")
    if path.split(os.pathsep)[0] != bindir:
        env["PATH"] = bindir + (os.pathsep + path if path else "")
    if conda:
        current = env.get("PYTHONPATH", "")
        if src_dir not in current.split(os.pathsep):
            env["PYTHONPATH"] = src_dir + (os.pathsep + current if current else "")
