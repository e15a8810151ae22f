"""One home for every fact: a method is declared by its module in peftdeck/methods/, a task by its
module in peftdeck/tasks/, and nothing else in the pipeline names one.

The first test is the check made permanent: it reads every file of src/, rules/, templates/ and the
Snakefile and fails, listing the lines, where a method kind (or a built-in method instance) or a
built-in task is spelled out outside its home folder.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from peftdeck import methods
from peftdeck.config import SECTION_KINDS, ConfigError, check_hub_id, validate
from peftdeck.tasks import SOURCES, TASKS, get_task, legacy_hub_ids, task_description, task_label

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("src", "rules", "templates", "Snakefile")
SKIP_SUFFIXES = {".pyc", ".png", ".svg", ".pdf", ".ttf", ".woff", ".woff2"}

# Folders that are the home of a name: the methods package for method kinds; the tasks package for
# tasks, and the demo package, which holds each task's generator of demo data.
METHOD_HOMES = ("src/peftdeck/methods/",)
TASK_HOMES = ("src/peftdeck/tasks/", "src/peftdeck/demo/")

# A task name that is also the name of a deck section (`slides:` in a config, its key in the summary
# and the template's variable) cannot be told apart from the section by a text search: `squad` is
# Part II of the deck and the experiment that feeds it by default. Those words are left out here.
SECTION_NAMES = frozenset(SECTION_KINDS)


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def _files() -> list[Path]:
    out = []
    for entry in SCANNED:
        path = REPO / entry
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in candidates:
            rel = p.relative_to(REPO).as_posix()
            if "__pycache__" in rel or ".egg-info/" in rel or p.suffix in SKIP_SUFFIXES:
                continue
            out.append(p)
    return out


def _offences(names: set[str], homes: tuple[str, ...]) -> list[str]:
    patterns = {name: _word(name) for name in sorted(names)}
    found = []
    for path in _files():
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith(homes):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            hits = [name for name, pattern in patterns.items() if pattern.search(line)]
            if hits:
                found.append(f"{rel}:{number}: [{', '.join(hits)}] {line.strip()}")
    return found


def method_names() -> set[str]:
    """Every method kind and every built-in method instance (e.g. the LoRA rank sweep's)."""
    return set(methods.METHOD_KINDS) | set(methods.default_methods())


def test_no_method_is_named_outside_the_methods_package():
    found = _offences(method_names(), METHOD_HOMES)
    assert not found, ("method kinds named outside src/peftdeck/methods/ (read the fact from the method's "
                       "MethodSpec instead):\n  " + "\n  ".join(found))


def test_no_task_is_named_outside_the_tasks_package():
    found = _offences(set(TASKS) - SECTION_NAMES, TASK_HOMES)
    assert not found, ("built-in tasks named outside src/peftdeck/tasks/ (read the fact from the task's "
                       "object in peftdeck.tasks.TASKS instead):\n  " + "\n  ".join(found))


def test_only_known_section_names_are_left_out_of_the_task_search():
    # A new collision between a task and a section name would hide that task from the search above.
    assert set(TASKS) & SECTION_NAMES == {"squad"}


def test_the_search_finds_a_name_where_it_is_spelled_out():
    assert _word("lora").search('kind == "lora"') and not _word("lora").search("lora_ranks")
    assert _word("rte").search("tasks: [rte]") and not _word("rte").search("inserted")


# --- methods -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(methods.METHOD_KINDS))
def test_every_method_declares_description_colour_and_defaults(kind):
    spec = methods.get_spec(kind)
    assert spec.label and spec.lr > 0 and callable(methods.get_method(kind))
    line = spec.describe()
    assert isinstance(line, str) and line and "{" not in line
    assert spec.colors and all(re.fullmatch(r"#[0-9a-fA-F]{6}", c) for c in spec.colors)
    assert isinstance(spec.defaults, Mapping) and set(spec.defaults) <= spec.allowed_options()
    instance = methods.default_methods()[kind]
    assert {k: v for k, v in instance.items() if k not in ("kind", "lr", "label")} == dict(spec.defaults)
    assert isinstance(spec.added, tuple) and all(isinstance(m, str) and m for m in spec.added)


# --- tasks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_declares_its_facts(name):
    task = TASKS[name]
    assert task.name == name and get_task(name) is task
    assert task.label and task.description
    assert task_label(name) == task.label and task_description(name) == task.description
    assert task.kind in ("classification", "regression", "qa") and task.metrics
    assert task.primary_metric == task.metrics[0]
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", task.hub_id)
    assert set(task.sources) <= set(SOURCES) and {"local", "hub"} <= set(task.sources)
    assert ("demo" in task.sources) == bool(task.demo_generator)
    if task.demo_generator:
        assert callable(task.demo_writer())
    for legacy, current in task.legacy_hub_ids().items():
        assert "/" not in legacy and re.fullmatch(r"[\w.-]+/[\w.-]+", current)


def test_a_task_of_your_own_is_shown_by_its_name():
    assert task_label("my_reviews") == "my_reviews" and task_description("my_reviews") == "my_reviews"
    own = get_task("my_reviews", {"source": "local", "path": "x", "text": "review", "label": "stars"})
    assert own.label == "my_reviews" and own.sources == ("local",)


def test_each_task_names_its_legacy_hub_ids():
    ids = legacy_hub_ids()
    for task in TASKS.values():
        assert ids[task.hub_id.rsplit("/", 1)[-1]] == task.hub_id
    for legacy, current in ids.items():
        with pytest.raises(ConfigError, match=re.escape(f"use the full id {current!r}")):
            check_hub_id(legacy, "dataset", "data.x.hub_id")


def test_a_task_without_demo_data_refuses_source_demo():
    no_demo = [n for n, t in TASKS.items() if "demo" not in t.sources]
    if not no_demo:
        pytest.skip("every built-in task has demo data")
    name = no_demo[0]
    config = {"study": "t", "model": {"source": "demo"}, "data": {name: {"source": "demo"}},
              "experiments": {"glue": {"tasks": [name], "methods": [sorted(methods.reference_kinds())[0]]}}}
    with pytest.raises(ConfigError, match=rf"data\.{name}: source 'demo' is not available .*no generated demo data"):
        validate(config)


# --- parameters a method adds ----------------------------------------------------------------------

ADDING = ("lora", "dora", "lora_all", "ia3", "prompt_tuning", "prefix_tuning", "adapter_houlsby",
          "adapter_pfeiffer")


def _tiny_bert():
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=37, num_labels=2)
    return transformers.BertForSequenceClassification(cfg)


def _options(kind: str) -> dict:
    opts = {k: v for k, v in methods.default_methods()[kind].items() if k not in ("kind", "lr", "label")}
    if "num_virtual_tokens" in opts:
        opts["num_virtual_tokens"] = 3
    return opts


@pytest.mark.parametrize("kind", sorted(methods.METHOD_KINDS))
def test_added_parameters_are_the_new_tensors_the_method_put_in(kind):
    """What a spec counts as added = every tensor the method created, less peft's copies of the head."""
    model = _tiny_bert()
    before = {id(p) for p in model.parameters()}
    model = methods.apply_method(model, kind, "classification", _options(kind))
    new, seen = 0, set()
    for name, p in model.named_parameters():
        if id(p) in before or id(p) in seen or "modules_to_save" in name:
            continue
        seen.add(id(p))
        new += p.numel()
    assert methods.count_added(model, kind) == new
    if kind in ADDING:
        assert new > 0


def test_added_counts_of_adapters_lora_and_prompt_tuning_by_hand():
    h, i, layers, r, tokens, bottleneck = 32, 37, 2, 8, 3, 32 // 16
    adapter = (h * bottleneck + bottleneck) + (bottleneck * h + h)
    expected = {
        "adapter_pfeiffer": layers * adapter,
        "adapter_houlsby": layers * 2 * adapter,
        "lora": layers * 2 * (r * h + h * r),  # query and value: A (r x h) and B (h x r)
        "prompt_tuning": tokens * h,
    }
    for kind, count in expected.items():
        model = methods.apply_method(_tiny_bert(), kind, "classification", _options(kind))
        assert methods.count_added(model, kind) == count, kind
