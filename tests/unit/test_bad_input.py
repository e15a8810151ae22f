"""Bad input, one case per test: each must stop with a message that names the problem and the fix,
and must not destroy anything that already finished. Plus the guards against running what the
config says (shell quoting, safetensors only, no remote code)."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from peftdeck import config as pdconfig
from peftdeck.paths import Cell
from peftdeck.results import ResultError, load_cell

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "workflow" / "configs" / "tiny.yaml"


def tiny() -> dict:
    return yaml.safe_load(TINY.read_text())


def finished_cell(root: Path, study: str = "tiny") -> Path:
    """A stand-in for a result that already finished; its bytes must survive every failure."""
    path = root / Cell(study, "sst2", "bitfit", "all", "ep1", 0.01, 16, 42).path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"finished": true}\n')
    return path


# --- the config, through the public command ------------------------------------------------------

def _dry_run(tmp_path: Path, cfg: dict) -> subprocess.CompletedProcess:
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "bad.yaml")],
        capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
def test_unknown_method_in_an_experiment_fails_the_dry_run(tmp_path):
    cfg = tiny()
    cfg["experiments"]["glue"]["methods"].append("bitfitt")
    done = finished_cell(tmp_path)
    proc = _dry_run(tmp_path, cfg)
    assert proc.returncode != 0
    msg = proc.stdout + proc.stderr
    assert "experiments.glue.methods[5]" in msg and "'bitfitt' is not a defined method" in msg, msg
    assert "allowed: " in msg and "bitfit" in msg and "define it under `methods:`" in msg
    assert done.read_text() == '{"finished": true}\n'


@pytest.mark.slow
def test_unknown_task_in_an_experiment_fails_the_dry_run(tmp_path):
    cfg = tiny()
    cfg["experiments"]["glue"]["tasks"] = ["sst2", "mrcp"]
    done = finished_cell(tmp_path)
    proc = _dry_run(tmp_path, cfg)
    assert proc.returncode != 0
    msg = proc.stdout + proc.stderr
    assert "experiments.glue.tasks[1]" in msg and "'mrcp'" in msg and "expected one of sst2, mrpc" in msg, msg
    assert done.read_text() == '{"finished": true}\n'


def test_task_without_a_data_source_names_the_key_to_add():
    cfg = tiny()
    cfg["experiments"]["glue"]["tasks"] = ["sst2", "rte"]
    with pytest.raises(pdconfig.ConfigError, match=r"experiments\.glue\.tasks\[1\]: task 'rte' has no data source; "
                                                   r"add `data\.rte: "):
        pdconfig.validate(cfg)


def test_unknown_method_kind_lists_the_registered_kinds():
    cfg = tiny()
    cfg["methods"]["mine"] = {"kind": "loraa", "lr": 1e-3}
    with pytest.raises(pdconfig.ConfigError, match=r"methods\.mine\.kind: value 'loraa' is not a registered "
                                                   r"method kind; allowed: .*lora"):
        pdconfig.validate(cfg)


# --- data -----------------------------------------------------------------------------------------

SST2_TRAIN = "sentence\tlabel\na fine film .\t1\na dull film .\t0\nsharp and funny .\t1\n"
SST2_DEV = "sentence\tlabel\ngood .\t1\nbad .\t0\n"


def _spec(data_dir: Path, train_size="all") -> dict:
    cfg = pdconfig.validate({**tiny(), "data": {"sst2": {"source": "local", "path": str(data_dir)}},
                             "experiments": {"glue": {"tasks": ["sst2"], "methods": ["bitfit"]}}})
    cell = Cell("tiny", "sst2", "bitfit", train_size, "ep1", 0.01, 16, 42)
    return pdconfig.resolve_cell(cfg, cell)


def _run_cell(tmp_path: Path, spec: dict, capsys) -> tuple[int, str, Path]:
    from peftdeck import run_cell

    out = tmp_path / Cell("tiny", "sst2", "bitfit", spec["cell"]["train_size"], "ep1", 0.01, 16, 42).path
    rc = run_cell.main(["--spec", json.dumps(spec), "--out", str(out)])
    return rc, capsys.readouterr().err, out


def _data(tmp_path: Path, train: str | bytes | None = SST2_TRAIN, dev: str | None = SST2_DEV) -> Path:
    d = tmp_path / "sst2-data"
    d.mkdir()
    if train is not None:
        (d / "train.tsv").write_bytes(train.encode() if isinstance(train, str) else train)
    if dev is not None:
        (d / "dev.tsv").write_text(dev)
    return d


def test_train_size_larger_than_the_data_names_task_size_and_count():
    from peftdeck.tasks import get_task

    rows = [{"text_a": f"s{i}", "text_b": None, "label": i % 2} for i in range(5)]
    with pytest.raises(ValueError, match=r"sst2: asked for n=10 training examples but only 5 are available; "
                                         r"use a size up to 5 \(or `all`\)"):
        get_task("sst2").subsample(rows, 10, seed=42)


def test_run_cell_surfaces_a_train_size_larger_than_the_data(tmp_path, capsys):
    done = finished_cell(tmp_path)
    rc, err, out = _run_cell(tmp_path, _spec(_data(tmp_path), train_size=50), capsys)
    assert rc == 1
    assert "sst2: asked for n=50 training examples but only 3 are available" in err and "train_sizes" in err, err
    assert not out.exists() and done.read_text() == '{"finished": true}\n'


def test_missing_data_file_names_the_file_and_the_config_key(tmp_path, capsys):
    data = _data(tmp_path, train=None)
    rc, err, out = _run_cell(tmp_path, _spec(data), capsys)
    assert rc == 1
    assert f"sst2: train file not found: {data / 'train.tsv'}" in err, err
    assert "data.sst2.path" in err and "data.sst2.files.train" in err
    assert not out.exists()


def test_missing_data_folder_names_the_folder(tmp_path, capsys):
    rc, err, _ = _run_cell(tmp_path, _spec(tmp_path / "nowhere"), capsys)
    assert rc == 1 and f"data folder not found: {tmp_path / 'nowhere'}" in err and "data.sst2.path" in err, err


@pytest.mark.parametrize("garbled, where", [
    ("sentence\tlabel\na fine film .\t1\nthis row lost its tab 0\n", "line 3: expected 2 tab-separated fields, found 1"),
    ("sentence\tlabel\na fine film .\tpositive\n", "line 2: bad label 'positive', expected a class id 0..1"),
    ("text\tstars\nfine\t1\n", "line 1: header lacks column(s) ['sentence', 'label']"),
    (b"sentence\tlabel\n\xff\xfe\x00garbage\t1\n", "line 2: not valid UTF-8"),
])
def test_corrupt_data_file_names_the_file_line_and_what_was_expected(tmp_path, capsys, garbled, where):
    data = _data(tmp_path, train=garbled)
    rc, err, out = _run_cell(tmp_path, _spec(data), capsys)
    assert rc == 1
    assert f"sst2: {data / 'train.tsv'}, {where}" in err, err
    assert not out.exists()


# --- results met by the aggregation --------------------------------------------------------------

def _good_result(cell: Cell) -> dict:
    return {"schema": "peftdeck.cell/1", "status": "complete", "cell": cell.as_dict(),
            "task": {"name": cell.task, "metrics": ["accuracy"]}, "metrics": {"accuracy": 50.0},
            "params": {}, "compute": {}, "hparams": {}, "model": {}, "data": {}, "versions": {}}


@pytest.mark.parametrize("content, problem", [
    ('{"schema": "peftdeck.cell/1", "status": "comp', "not valid JSON"),
    ('{"accuracy": 0.91}', "not a peftdeck cell result (schema None"),
    ("[1, 2, 3]", "not a peftdeck cell result"),
    ("foreign", "belongs to another cell (task: file has 'mrpc', path means 'sst2')"),
    ("partial", "result status is 'running', not 'complete'"),
    ("nan", "metric 'accuracy' is missing or not a finite number"),
])
def test_corrupt_or_foreign_result_names_the_file_and_the_rerun_command(tmp_path, content, problem):
    cell = Cell("tiny", "sst2", "bitfit", "all", "ep1", 0.01, 16, 42)
    path = tmp_path / cell.path
    path.parent.mkdir(parents=True)
    if content == "foreign":
        content = json.dumps(_good_result(Cell("tiny", "mrpc", "bitfit", "all", "ep1", 0.01, 16, 42)))
    elif content == "partial":
        content = json.dumps({**_good_result(cell), "status": "running"})
    elif content == "nan":
        content = json.dumps({**_good_result(cell), "metrics": {"accuracy": None}})
    path.write_text(content)
    with pytest.raises(ResultError) as err:
        load_cell(path, expect=cell.as_dict())
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and problem in msg, msg
    assert f"delete it and rerun that cell: snakemake --cores 1 {path}" in msg
    assert path.read_text() == content  # reported, never deleted


def test_aggregation_stops_on_a_corrupt_result_naming_file_and_cell(tmp_path, monkeypatch, capsys):
    from peftdeck import aggregate

    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(TINY.read_text())
    cells = pdconfig.all_cells(pdconfig.load_config(cfg_path))
    good, bad = cells[0], cells[1]
    for c, text in ((good, json.dumps(_good_result(good))), (bad, '{"schema": "peftdeck.cell/1", "trunc')):
        (tmp_path / c.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / c.path).write_text(text)
    monkeypatch.chdir(tmp_path)
    rc = aggregate.main(["--config", str(cfg_path), "--out-dir", "results/tiny/tables"])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"{bad.path}: not valid JSON" in err and f"snakemake --cores 1 {bad.path}" in err, err
    assert (tmp_path / good.path).read_text() == json.dumps(_good_result(good))
    assert (tmp_path / bad.path).exists()
    assert not (tmp_path / "results/tiny/tables/cells.csv").exists()


# --- the model ----------------------------------------------------------------------------------

def _config_only_model(folder: Path) -> Path:
    from transformers import BertConfig

    BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=16).save_pretrained(folder)
    return folder


def test_model_folder_without_safetensors_names_the_folder_and_the_fix(tmp_path):
    from peftdeck.tasks import get_task
    from peftdeck.train import load_model

    folder = _config_only_model(tmp_path / "bert-no-weights")
    (folder / "pytorch_model.bin").write_bytes(b"not loaded: pickled weights are refused")
    with pytest.raises(FileNotFoundError) as err:
        load_model({"source": "local", "location": str(folder), "name": "x"}, get_task("sst2"), 2)
    msg = str(err.value)
    assert f"model folder {folder} has no model.safetensors" in msg
    assert "found: config.json, pytorch_model.bin" in msg
    assert "safe_serialization=True" in msg and "model.source: random" in msg


def test_missing_model_folder_says_which_rule_or_key_fixes_it(tmp_path):
    from peftdeck.tasks import get_task
    from peftdeck.train import load_model

    task = get_task("sst2")
    with pytest.raises(FileNotFoundError, match=r"model folder .*nowhere does not exist; fix model\.path"):
        load_model({"source": "local", "location": str(tmp_path / "nowhere"), "name": "x"}, task, 2)
    with pytest.raises(FileNotFoundError, match=r"does not exist; run the fetch rule first"):
        load_model({"source": "hub", "location": str(tmp_path / "nowhere"), "name": "x"}, task, 2)


# --- security ------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("study", "my study"), ("study", "demo;rm -rf ~"), ("study", "../elsewhere"), ("study", "$(id)"),
])
def test_names_that_become_paths_reject_shell_and_path_characters(key, value):
    cfg = tiny()
    cfg[key] = value
    with pytest.raises(pdconfig.ConfigError, match=rf"key {key}: value .* is not allowed"):
        pdconfig.validate(cfg)


@pytest.mark.parametrize("name", ["lora;x", "lora x", "LoRA", "a/b"])
def test_method_names_reject_shell_and_path_characters(name):
    cfg = tiny()
    cfg["methods"][name] = {"kind": "lora", "lr": 1e-3}
    with pytest.raises(pdconfig.ConfigError, match="methods"):
        pdconfig.validate(cfg)


# Placeholders a shell command may hold unquoted: integers the schema checks, fixed flags, and the
# The optional `--hub-id <id>` of the download rule (quoted with shlex.quote in rules/common.smk).
UNQUOTED_OK = {
    "params.hub_id": None,
    "params.allow_missing": None,
    "resources.attempt": None,
    "params.seed": ("demo", "seed"),
    "params.cls_train": ("demo", "classification_train"),
    "params.cls_eval": ("demo", "classification_eval"),
    "params.qa_train": ("demo", "qa_train"),
    "params.qa_eval": ("demo", "qa_eval"),
    "params.steps": ("model", "pretrain_steps"),
    "params.hidden": ("model", "hidden_size"),
    "params.layers": ("model", "num_layers"),
}


def _shell_placeholders() -> list[tuple[str, str]]:
    found = []
    for smk in sorted((REPO / "rules").glob("*.smk")) + [REPO / "Snakefile"]:
        lines = smk.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() != "shell:":
                continue
            indent = len(line) - len(line.lstrip())
            for body in lines[i + 1:]:
                if body.strip() and len(body) - len(body.lstrip()) <= indent:
                    break
                if body.strip().startswith("#"):
                    continue
                found += [(f"{smk.name}: {body.strip()}", m) for m in re.findall(r"(?<!\{)\{([^{}]+)\}(?!\})", body)]
    return found


def test_no_config_string_reaches_a_shell_unquoted():
    placeholders = _shell_placeholders()
    assert len(placeholders) > 20, "found no shell commands to check"
    bad = [(where, ph) for where, ph in placeholders if not ph.endswith(":q") and ph not in UNQUOTED_OK]
    assert not bad, f"unquoted placeholders in shell commands (use {{...:q}}): {bad}"
    common = (REPO / "rules/common.smk").read_text()
    assert re.search(r'return f" --hub-id \{shlex\.quote\(hub_id\)\}" if hub_id else ""', common)
    schema = pdconfig._schema()["properties"]
    for ph, where in UNQUOTED_OK.items():
        if where:
            assert schema[where[0]]["properties"][where[1]]["type"] == "integer", ph


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            kwargs = {k.arg: k.value.value for k in node.keywords
                      if k.arg and isinstance(k.value, ast.Constant)}
            yield node, ast.unparse(node.func), kwargs


def test_models_load_from_safetensors_only_and_never_run_remote_code():
    not_weights = ("AutoConfig", "AutoTokenizer", "BertConfig", "BertTokenizerFast", "PeftConfig")
    sources = {p: p.read_text() for p in (REPO / "src" / "peftdeck").rglob("*.py")}
    weight_loads = 0
    for path, text in sources.items():
        assert not re.search(r"\bshell\s*=\s*True|os\.system\(|os\.popen\(", text), path
        for node, func, kwargs in _calls(ast.parse(text)):
            where = f"{path.relative_to(REPO)}:{node.lineno}: {func}"
            assert kwargs.get("trust_remote_code") is not True, where
            if func == "torch.load":
                assert kwargs.get("weights_only") is True, where
            # Every weight-loading from_pretrained (not configs or tokenizers) insists on safetensors.
            if func.endswith(".from_pretrained") and func.split(".")[0] not in not_weights:
                weight_loads += 1
                assert kwargs.get("use_safetensors") is True and kwargs.get("trust_remote_code") is False, where
    assert weight_loads >= 1, "found no model loading to check"
