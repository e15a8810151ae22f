"""What the cluster and GPU profiles ask for, read the way Snakemake reads them (yte templates),
without a cluster or a GPU. test_slurm.py runs the SLURM settings for real."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yte

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def environ():
    """The profiles set PEFTDECK_CELLS_PER_GPU for the jobs they start: put os.environ back after."""
    saved = dict(os.environ)
    for var in ("PEFTDECK_CELLS_PER_GPU", "PEFTDECK_GPUS", "PEFTDECK_SLURM_CELLS_PER_JOB", "CUDA_VISIBLE_DEVICES"):
        os.environ.pop(var, None)
    yield os.environ
    os.environ.clear()
    os.environ.update(saved)


def _profile(name: str) -> dict:
    with open(REPO / "profiles" / name / "config.yaml") as f:
        return yte.process_yaml(f, require_use_yte=True)


def test_local_gpu_profile_allows_gpus_times_cells_per_gpu(environ):
    environ.update({"PEFTDECK_GPUS": "0,1", "PEFTDECK_CELLS_PER_GPU": "3"})
    assert _profile("local-gpu")["resources"] == {"gpu": 6}
    environ.pop("PEFTDECK_CELLS_PER_GPU")
    environ["PEFTDECK_GPUS"] = "none"  # no GPU: cells run on the CPU, one at a time
    assert _profile("local-gpu")["resources"] == {"gpu": 1}
    assert environ["PEFTDECK_CELLS_PER_GPU"] == "1"  # what the cells' slot allocator will read


def test_slurm_profile_bundles_cells_with_one_gpu_per_job(environ):
    environ["PEFTDECK_SLURM_CELLS_PER_JOB"] = "6"
    prof = _profile("slurm")
    assert prof["groups"] == ["train_cell=train"]
    assert prof["group-components"] == ["train=6"]
    # the cells of a job one after another: CPUs and memory of one cell, runtime of all
    assert prof["resources"] == ["gpu_slot=1"] and prof["set-resource-scopes"] == ["gpu_slot=local"]
    train = prof["set-resources"]["train_cell"]
    # one GPU per job whatever the bundle size (a string is not summed over a bundle)
    assert train["gres"] == "gpu:1" and train["gpu"] == 0 and train["gpu_slot"] == 1
    assert prof["keep-incomplete"] is True  # a failed cell does not take its bundle's results with it
    environ.pop("PEFTDECK_SLURM_CELLS_PER_JOB")
    assert _profile("slurm")["group-components"] == ["train=4"]


def test_slurm_test_profile_bundles_like_the_real_one():
    text = (REPO / "profiles" / "slurm-test" / "config.yaml").read_text()
    for line in ("- train_cell=train", "- train=5", "- gpu_slot=1", "- gpu_slot=local", "gpu_slot: 1",
                 'gres: "gpu:1"', "keep-incomplete: true"):
        assert line in text
