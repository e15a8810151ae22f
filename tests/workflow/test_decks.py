"""One deck per study: building the demo and then another study leaves both decks and their figures.

The cells' results are synthetic (tests/unit/synthetic_cells.py) and Snakemake may run only the
reporting rules (`--allowed-rules`), so the test exercises the deck paths of the real workflow
without training anything.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repo_copy import workdir_copy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from synthetic_cells import write_results  # noqa: E402

from peftdeck import paths as P  # noqa: E402
from peftdeck.config import load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
STUDIES = {"demo": "config/demo.yaml", "tiny": "tests/workflow/configs/tiny.yaml"}
REPORTING = ["resolved_config", "aggregate", "plots", "deck_md", "deck"]


def snakemake(repo: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=repo, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert proc.returncode == 0, f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    return proc


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def repo(tmp_path):
    return workdir_copy(tmp_path)


def test_dry_runs_put_each_study_deck_in_its_own_folder(repo):
    outputs = {}
    for study, config in STUDIES.items():
        out = snakemake(repo, "-n", "deck", "--configfile", config)
        text = out.stdout + out.stderr
        slides = {w.strip(",") for line in text.splitlines() if line.strip().startswith("output:")
                  for w in line.split()[1:] if w.startswith("slides/")}
        assert P.deck_md(study) in slides and all(s.startswith(f"slides/{study}/") for s in slides), slides
        assert any(s.startswith(f"slides/{study}/figures/") for s in slides), slides
        outputs[study] = slides
    assert not outputs["demo"] & outputs["tiny"]


@pytest.mark.slow
def test_building_another_study_leaves_the_demo_deck_in_place(repo):
    for config in STUDIES.values():
        write_results(load_config(repo / config), repo)
    allowed = ["--allowed-rules", *REPORTING]
    snakemake(repo, "--cores", "1", "deck", "--configfile", STUDIES["demo"], *allowed)
    demo_dir = repo / P.slides_dir("demo")
    demo = digest(demo_dir)
    assert "deck.md" in demo and any(k.startswith("figures/") for k in demo), demo
    snakemake(repo, "--cores", "1", "deck", "--configfile", STUDIES["tiny"], *allowed)
    assert digest(demo_dir) == demo  # untouched
    tiny = digest(repo / P.slides_dir("tiny"))
    assert "deck.md" in tiny and any(k.startswith("figures/") for k in tiny), tiny
    assert (repo / P.deck_md("demo")).read_text() != (repo / P.deck_md("tiny")).read_text()
    # Figures are linked relative to each deck, so each deck shows its own.
    for study in STUDIES:
        md = (repo / P.deck_md(study)).read_text()
        links = [line.split("](", 1)[1].split(")", 1)[0] for line in md.splitlines() if "](figures/" in line]
        assert links and all((repo / P.slides_dir(study) / link).is_file() for link in links), (study, links)
    # Nothing else is left to do for either study.
    for config in STUDIES.values():
        again = snakemake(repo, "-n", "deck", "--configfile", config, *allowed)
        assert "Nothing to be done" in again.stdout + again.stderr


def test_slides_deck_md_builds_the_study_in_the_config(repo):
    """`snakemake slides/deck.md --configfile <study>` still builds that study's deck (and copies it
    to slides/deck.md, links into slides/<study>/); slides/deck.html names the study's own file."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "slides/deck.md", "--configfile", STUDIES["tiny"]],
                          cwd=repo, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "latest_deck" in out and "deck_md" in out and P.deck_md("tiny") in out
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "slides/deck.html", "--configfile", STUDIES["tiny"]],
                          cwd=repo, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "slides/tiny/deck.html" in out and "snakemake --cores 4 html --configfile tests/workflow/configs/tiny.yaml" in out


def test_alias_keeps_figure_links_working(tmp_path):
    from peftdeck import deck

    study = tmp_path / "slides" / "demo"
    (study / "figures").mkdir(parents=True)
    (study / "figures" / "a.png").write_bytes(b"png")
    (study / "deck.md").write_text("![h:540 center](figures/a.png)\n[site](https://example.org) [top](#1)\n")
    out = deck.alias(study / "deck.md", tmp_path / "slides" / "deck.md")
    text = out.read_text()
    assert "](demo/figures/a.png)" in text and "](https://example.org)" in text and "](#1)" in text
    assert (out.parent / "demo/figures/a.png").is_file()
