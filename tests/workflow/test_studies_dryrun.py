"""Each study of the wider study, switched on in the demo config, adds its cells and figures to the DAG.

Dry runs only (`snakemake -n`): nothing is trained.
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repo_copy import workdir_copy  # noqa: E402
import yaml

from peftdeck.config import all_cells, load_config, sections, validate
from peftdeck.findings import figure_specs

REPO = Path(__file__).resolve().parents[2]
DEMO = "config/demo.yaml"
STUDY_FIGURES = {"grid": ["grid_sst2"], "lora_ranks": ["lora_ranks"], "fractions": ["fractions"]}


def snakemake(*args: str, cwd: Path) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def job_counts(text: str) -> dict[str, int]:
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A checkout-like copy, so the dry runs never touch the repository's own .snakemake/ or results/."""
    return workdir_copy(tmp_path_factory.mktemp("studies"))


def test_demo_studies_are_off_by_default(workdir):
    base = load_config(workdir / DEMO)
    assert not {"grid", "lora_ranks", "fractions"} & set(sections(base))
    counts = job_counts(snakemake("deck", "-n", "--quiet", "rules", "--configfile", DEMO, cwd=workdir))
    assert counts["train_cell"] == len(all_cells(base))


@pytest.mark.parametrize("kind", sorted(STUDY_FIGURES))
def test_switching_a_study_on_adds_its_cells_and_figures(workdir, kind):
    raw = yaml.safe_load((workdir / DEMO).read_text())
    name = next(n for n, e in raw["experiments"].items() if e.get("slides") == kind)
    on = copy.deepcopy(raw)
    on["experiments"][name]["enabled"] = True
    cfg = validate(on)
    extra = len(all_cells(cfg)) - len(all_cells(load_config(workdir / DEMO)))
    assert extra > 0
    # The same switch from the command line, merged into the demo config.
    out = snakemake("deck", "-n", "--configfile", DEMO, "--config",
                    f"experiments={{{name}: {{enabled: true}}}}", cwd=workdir)
    counts = job_counts(out)
    assert counts["train_cell"] == len(all_cells(cfg)), out[-2000:]
    plots_job = out.split("rule plots:", 1)[1].split("\n\n", 1)[0]
    for fig in STUDY_FIGURES[kind]:
        assert f"slides/demo/figures/{fig}.png" in plots_job
    assert sorted(f"slides/demo/figures/{f['name']}.png" for f in figure_specs(cfg)) == sorted(
        x.strip() for x in plots_job.split("output:", 1)[1].split("\n", 1)[0].split(","))
