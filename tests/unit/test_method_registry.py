"""The method registry is the one place a method is described: everything else reads it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from peftdeck import methods
from peftdeck.config import DEFAULT_METHODS, ConfigError, validate

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"


def test_discovering_the_methods_imports_no_deep_learning_library():
    code = ("import sys\nimport peftdeck.config, peftdeck.methods\n"
            "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))\n"
            "print(sorted(peftdeck.methods.METHOD_KINDS))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(SRC)})
    heavy, kinds = out.stdout.strip().splitlines()
    assert heavy == "[]"
    for kind in ("full_ft", "bitfit", "bitfit_subset", "lora", "dora", "lora_all", "ia3", "prompt_tuning",
                 "prefix_tuning", "adapter_houlsby", "adapter_pfeiffer"):
        assert repr(kind) in kinds


@pytest.mark.parametrize("kind", sorted(methods.METHOD_KINDS))
def test_every_spec_declares_all_its_facts(kind):
    spec = methods.get_spec(kind)
    assert spec.kind == kind and spec.label and spec.lr > 0
    assert callable(methods.get_method(kind))
    assert spec.colors and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in spec.colors)
    assert set(spec.defaults) <= spec.allowed_options()
    line = spec.describe()
    assert line and "{" not in line and "task head" in line
    instance = DEFAULT_METHODS[kind]
    assert instance["kind"] == kind and instance["lr"] == spec.lr and instance["label"] == spec.label
    assert methods.describe(instance) == line


def test_colours_do_not_repeat_across_kinds():
    firsts = [methods.get_spec(k).colors[0] for k in methods.METHOD_KINDS]
    assert len(set(firsts)) == len(firsts)


def test_the_rank_sweep_instances_come_from_the_lora_module():
    for r in (1, 4, 8, 16):
        spec = DEFAULT_METHODS[f"lora_r{r}"]
        assert spec["kind"] == "lora" and spec["r"] == r and spec["alpha"] == 2 * r
    assert methods.rank_option("lora") == "r" and methods.rank_option("bitfit") is None
    assert methods.reference_kinds() == {"full_ft"}


def test_config_rejects_an_option_the_method_does_not_declare():
    config = {"study": "t", "model": {"source": "demo"}, "data": {"sst2": {"source": "demo"}},
              "methods": {"ia3": {"lr": 1e-3, "r": 4}},
              "experiments": {"glue": {"tasks": ["sst2"], "methods": ["ia3"]}}}
    with pytest.raises(ConfigError, match=r"methods\.ia3: unknown option\(s\) 'r' for method kind 'ia3'"):
        validate(config)


def test_a_new_method_is_one_module(tmp_path, monkeypatch):
    """A module dropped into the package is found, registered, and known to config and deck."""
    extra = tmp_path / "pkg"
    extra.mkdir()
    (extra / "layernorm_only.py").write_text(
        "from peftdeck.methods import MethodSpec, freeze_all_but, register\n"
        "def apply(model, task_kind, options):\n"
        "    return freeze_all_but(model, lambda n: 'LayerNorm' in n)\n"
        "register(MethodSpec(kind='layernorm_only', label='LayerNorm only', lr=1e-3, colors=('#123456',),\n"
        "                    what_trains='every LayerNorm, plus the task head', apply=apply))\n")
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(extra)])
    monkeypatch.setattr(methods, "_SPECS", dict(methods._SPECS))
    methods._discover()
    try:
        from peftdeck import aggregate

        assert "layernorm_only" in methods.default_methods()
        line = aggregate.describe_method({"kind": "layernorm_only", "lr": 1e-3})
        assert line == "every LayerNorm, plus the task head"
        assert methods.kind_colors("layernorm_only") == ("#123456",)
    finally:
        sys.modules.pop("peftdeck.methods.layernorm_only", None)


SHARED = [REPO / "src" / "peftdeck" / n for n in ("aggregate.py", "config.py", "train.py", "deck.py")]
SHARED += sorted((REPO / "src" / "peftdeck" / "plots").glob("*.py"))
SHARED += sorted((REPO / "templates").glob("*.j2")) + [REPO / "workflow" / "schemas" / "config.schema.yaml"]


@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.name)
def test_no_method_kind_is_spelled_out_outside_the_methods_package(path):
    text = path.read_text(encoding="utf-8")
    for kind in methods.METHOD_KINDS:
        hits = re.findall(rf"""["']{re.escape(kind)}["']|kind\s*==\s*["']?{re.escape(kind)}\b""", text)
        assert not hits, f"{path.name} names method kind {kind!r}: read it from peftdeck.methods instead"
