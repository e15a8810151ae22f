"""The workflow passes `snakemake --lint`, and every rule that runs a command names a complete conda
environment, so `snakemake --sdm conda` has what each job needs."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("config", ["config/config.yaml", "config/demo.yaml"])
def test_snakemake_lint_is_clean(config):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile", config], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in out, out[-6000:]


def _rules() -> list[tuple[str, str, str]]:
    """(file, rule name, body) of every rule in the rule files."""
    found = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text()
        for m in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", text, re.M):
            found.append((smk.name, m.group(1), m.group(2)))
    return found


def _requirement_names(specs) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", s.strip(), maxsplit=1)[0].lower().replace("_", "-") for s in specs}


def test_every_rule_with_a_command_names_an_existing_conda_env():
    rules = _rules()
    assert len(rules) > 10
    for name, rule, body in rules:
        if "shell:" not in body:
            continue
        m = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", body)
        assert m, f"{name}: rule {rule} runs a command but names no conda environment"
        env = (REPO / "rules" / m.group(1)).resolve()
        assert env.is_file(), f"{name}: rule {rule}: {env} does not exist"
        assert "python -m peftdeck" in body, f"{name}: rule {rule} does not run peftdeck with `python`"


def test_the_python_env_covers_the_package_dependencies():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs/peftdeck.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    missing = _requirement_names(project["dependencies"]) - _requirement_names(pip)
    assert not missing, f"envs/peftdeck.yaml lacks {sorted(missing)} (pyproject.toml dependencies)"
    assert any(str(d).startswith("python") for d in env["dependencies"])
    deck = yaml.safe_load((REPO / "envs/deck.yaml").read_text())["dependencies"]
    assert any(str(d).startswith("nodejs") for d in deck) and any(str(d).startswith("python") for d in deck)


def test_the_default_profile_shows_failed_logs_and_redoes_interrupted_jobs():
    """Snakemake reads profiles/default by itself: a failed job's cause reaches the terminal, and a plain
    rerun after a kill redoes the interrupted jobs (tests/workflow/test_operations.py runs both)."""
    profile = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert profile == {"show-failed-logs": True, "rerun-incomplete": True}
