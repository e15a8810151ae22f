"""The download rules, run as a user runs them: `snakemake fetch` through the real `huggingface_hub`
and `datasets` clients against a stand-in Hub on 127.0.0.1 (`HF_ENDPOINT`), then the tiny study
trained offline from what was downloaded; and what a user sees without internet.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repo_copy import workdir_copy  # noqa: E402
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hub_data  # noqa: E402
from standin_hub import StandInHub  # noqa: E402

from peftdeck import config as pdconfig  # noqa: E402
from peftdeck import paths as P  # noqa: E402
from peftdeck.tasks import get_task  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY_HUB = "tests/workflow/configs/tiny-hub.yaml"
REFERENCE_TASKS = ("sst2", "mrpc", "rte", "squad")
BERT = "google-bert/bert-base-uncased"
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")




def hub_env(endpoint: str, home: Path, offline: bool = False) -> dict[str, str]:
    """The environment of a user whose Hub is `endpoint`: no proxy in between, caches under `home`."""
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS + _OFFLINE_VARS}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    if offline:
        env.update({k: "1" for k in _OFFLINE_VARS})
    return env


def snakemake(repo: Path, *args: str, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=timeout)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{' '.join(proc.args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    return proc


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- fast checks: the commands the fetch rules run, ids, no internet ---------------------------------

def test_fetch_rules_pass_no_empty_hub_id(tmp_path):
    """Regression: `{source: hub}` without `hub_id` used to become `--hub-id ''`, which argparse
    rejects, so every download of the reference study failed at once."""
    repo = workdir_copy(tmp_path)
    env = hub_env("http://127.0.0.1:9", tmp_path / "hf")
    out = ok(snakemake(repo, "-n", "-p", "fetch", env=env))
    commands = [ln.strip() for ln in (out.stdout + out.stderr).splitlines() if "-m peftdeck.fetch" in ln]
    data = [c for c in commands if " data " in c]
    assert sorted(c.split("--task ")[1].split()[0] for c in data) == sorted(REFERENCE_TASKS), commands
    assert not any("--hub-id" in c for c in data), data
    assert any(f"model --id {BERT} " in c for c in commands), commands
    # The fetch CLI accepts exactly what the rule passes.
    from peftdeck.fetch import main

    with pytest.raises(SystemExit) as exc:
        main(["data", "--task", "sst2", "--hub-id", "", "--out", str(tmp_path / "x"), "--help"])
    assert exc.value.code == 0
    # A config that names another copy of the dataset passes it, quoted, for that task only.
    out = ok(snakemake(repo, "-n", "-p", "fetch", "--config", "data={sst2: {source: hub, hub_id: my-org/glue-copy}}",
                       env=env))
    data = [ln.strip() for ln in (out.stdout + out.stderr).splitlines() if "-m peftdeck.fetch" in ln and " data " in ln]
    assert [c for c in data if "--hub-id" in c] == [next(c for c in data if "--task sst2" in c)]
    assert "--task sst2 --hub-id my-org/glue-copy --out" in " ".join(data)


def test_hub_ids_are_todays_two_part_ids():
    assert {t: get_task(t).hub_id for t in ("sst2", "mrpc", "rte", "cola", "stsb", "imdb", "squad")} == {
        "sst2": "nyu-mll/glue", "mrpc": "nyu-mll/glue", "rte": "nyu-mll/glue", "cola": "nyu-mll/glue",
        "stsb": "nyu-mll/glue", "imdb": "stanfordnlp/imdb", "squad": "rajpurkar/squad"}
    for name in ("config.yaml", "wider.yaml"):
        cfg = pdconfig.load_config(REPO / "config" / name)
        assert cfg["model"]["id"] == BERT


@pytest.mark.parametrize("where, value, full", [
    ("model", "bert-base-uncased", "google-bert/bert-base-uncased"),
    ("data", "glue", "nyu-mll/glue"),
    ("data", "squad", "rajpurkar/squad"),
    ("data", "imdb", "stanfordnlp/imdb"),
    ("data", "my_copy", "owner/name"),
])
def test_a_one_part_hub_id_names_the_full_id_to_use(tmp_path, where, value, full):
    raw = yaml.safe_load((REPO / "config/config.yaml").read_text())
    if where == "model":
        raw["model"]["id"] = value
        key = "model.id"
    else:
        raw["data"]["squad" if value == "squad" else "sst2"]["hub_id"] = value
        key = f"data.{'squad' if value == 'squad' else 'sst2'}.hub_id"
    with pytest.raises(pdconfig.ConfigError) as err:
        pdconfig.validate(raw, source="my.yaml")
    msg = str(err.value)
    assert f"my.yaml: key {key}" in msg and repr(value) in msg and full in msg, msg
    # The same through Snakemake: the run stops before anything starts, with that message.
    if where == "model":
        cfg = tmp_path / "my.yaml"
        cfg.write_text(yaml.safe_dump(raw))
        proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "deck", "--configfile", str(cfg)],
                              cwd=REPO, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert proc.returncode != 0 and full in proc.stdout + proc.stderr


def test_fetch_without_connection_says_so_in_a_few_lines(tmp_path):
    env = hub_env(f"http://127.0.0.1:{closed_port()}", tmp_path / "hf")
    proc = subprocess.run([sys.executable, "-m", "peftdeck.fetch", "--config-label", "config/config.yaml", "data",
                           "--task", "sst2", "--out", str(tmp_path / "sst2")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 8, proc.stderr
    assert "cannot reach the Hugging Face Hub" in proc.stderr and "nyu-mll/glue" in proc.stderr
    assert "snakemake --cores 1 fetch --configfile config/config.yaml" in proc.stderr
    assert not (tmp_path / "sst2").exists() and not list(tmp_path.glob(".sst2.*"))


def test_without_internet_the_reference_deck_fails_in_seconds_naming_the_fix(tmp_path):
    """`snakemake --cores 4 deck` (the reference study, as the README says) on a machine without
    internet: one short message on the terminal, within seconds, and nothing half-downloaded."""
    repo = workdir_copy(tmp_path)
    # A host name that never resolves, as for a machine without DNS (no proxy in between).
    env = hub_env("https://huggingface.invalid", tmp_path / "hf")
    start = time.monotonic()
    proc = snakemake(repo, "--cores", "4", "deck", env=env, timeout=300)
    elapsed = time.monotonic() - start
    terminal = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert elapsed < 60, f"took {elapsed:.0f} s"
    assert terminal.count("cannot reach the Hugging Face Hub at https://huggingface.invalid") == 1, terminal[-4000:]
    for fix in ("snakemake --cores 1 fetch --configfile config/config.yaml", "source: local", "config/demo.yaml",
                "config/cpu.yaml"):
        assert fix in terminal, (fix, terminal[-4000:])
    assert "Traceback" not in terminal and "LocalEntryNotFoundError" not in terminal
    assert not (repo / "resources" / "models").exists() and not (repo / "resources" / "data").exists()


# --- the real thing: `snakemake fetch` through the stand-in Hub, then training offline -------------

@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """The reference study's `snakemake --cores 1 fetch`, as a user runs it, against a stand-in Hub that
    serves a tiny BERT as google-bert/bert-base-uncased and tiny GLUE and SQuAD as nyu-mll/glue and
    rajpurkar/squad; the same rows are also written as the original local files."""
    tmp = tmp_path_factory.mktemp("hub")
    glue, squad = hub_data.glue_rows(seed=3), hub_data.squad_rows(seed=3)
    local = {**hub_data.write_local_glue(glue, tmp / "local" / "glue"),
             "squad": hub_data.write_local_squad(squad, tmp / "local" / "squad")}
    bert = hub_data.tiny_bert_folder(tmp / "tiny-bert", hub_data.all_texts(glue, squad))
    repo = workdir_copy(tmp)
    with StandInHub([hub_data.glue_repo(glue), hub_data.squad_repo(squad), hub_data.bert_repo(bert)]) as hub:
        start = time.monotonic()
        proc = ok(snakemake(repo, "--cores", "1", "-p", "fetch", env=hub_env(hub.url, tmp / "hf-home")))
        elapsed = time.monotonic() - start
        requests = list(hub.requests)
        unknown = list(hub.unknown)
    return {"repo": repo, "local": local, "bert": bert, "proc": proc, "requests": requests, "unknown": unknown,
            "elapsed": elapsed, "tmp": tmp}


@pytest.mark.slow
def test_fetch_downloads_the_reference_study_through_the_hub_clients(fetched):
    repo, requests = fetched["repo"], fetched["requests"]
    model = repo / P.hub_model_dir(BERT)
    for name in ("config.json", "vocab.txt", "model.safetensors"):
        assert (model / name).read_bytes() == (fetched["bert"] / name).read_bytes(), name
    for task in REFERENCE_TASKS:
        saved = repo / P.hub_data_dir(task)
        assert (saved / "dataset_dict.json").is_file(), task
    assert (repo / P.hub_check_marker()).is_file()
    # What the clients asked the stand-in Hub for: today's ids, parquet per config and split.
    paths = [r.split(" ", 1)[1].split("?")[0] for r in requests]
    assert any(p.startswith(f"/api/models/{BERT}") for p in paths)
    assert any(p.startswith(f"/{BERT}/resolve/") and p.endswith("/model.safetensors") for p in paths)
    for config in ("sst2", "mrpc", "rte"):
        for split in ("train", "validation"):
            assert any(p.startswith("/datasets/nyu-mll/glue/resolve/")
                       and p.endswith(f"/{config}/{split}-00000-of-00001.parquet") for p in paths), (config, split)
    assert any(p.startswith("/datasets/rajpurkar/squad/resolve/")
               and p.endswith("/plain_text/train-00000-of-00001.parquet") for p in paths)
    assert not any(p.startswith(("/api/datasets/glue", "/api/datasets/squad", "/api/models/bert-base-uncased"))
                   for p in paths), paths
    terminal = fetched["proc"].stdout + fetched["proc"].stderr
    assert "--hub-id" not in terminal
    # Downloaded once: a second `fetch` has nothing to do (and so needs no Hub).
    again = ok(snakemake(repo, "--cores", "1", "fetch", env=hub_env("http://127.0.0.1:9", fetched["tmp"] / "hf2")))
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
@pytest.mark.parametrize("task", REFERENCE_TASKS)
def test_hub_rows_equal_local_rows(fetched, task):
    """The same data from the Hub (parquet through `datasets`) and from the original files gives
    peftdeck the same examples, in the same order."""
    t = get_task(task)
    from_hub = t.load("hub", fetched["repo"] / P.hub_data_dir(task))
    from_files = t.load("local", fetched["local"][task])
    for split in ("train", "validation"):
        assert len(from_hub[split]) == len(from_files[split]) > 0
        assert from_hub[split] == from_files[split], (task, split)


@pytest.mark.slow
def test_tiny_study_trains_offline_from_what_fetch_downloaded(fetched):
    repo = fetched["repo"]
    cfg = pdconfig.load_config(repo / TINY_HUB)
    # The Hub is gone and switched off: the study must need nothing but resources/.
    env = hub_env(f"http://127.0.0.1:{closed_port()}", fetched["tmp"] / "hf3", offline=True)
    nothing = ok(snakemake(repo, "-n", "fetch", "--configfile", TINY_HUB, env=env))
    assert "Nothing to be done" in nothing.stdout + nothing.stderr
    proc = ok(snakemake(repo, "--cores", "1", "deck", "--configfile", TINY_HUB, env=env))
    terminal = proc.stdout + proc.stderr
    assert "rule fetch_" not in terminal and "rule hub_check" not in terminal
    cells = pdconfig.all_cells(cfg)
    assert len(cells) == 6
    for cell in cells:
        result = json.loads((repo / cell.path).read_text())
        assert result["status"] == "complete"
        assert result["data"]["source"] == "hub" and result["model"]["source"] == "hub"
        assert result["data"]["location"] == P.hub_data_dir(cell.task)
        n = len(get_task(cell.task).load("local", fetched["local"][cell.task])["train"])
        assert result["task"]["n_train"] == n  # train size `all`: every downloaded example
    deck = repo / P.deck_md(cfg["study"])
    assert deck.is_file() and "marp: true" in deck.read_text()
