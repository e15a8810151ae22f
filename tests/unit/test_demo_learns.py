"""The demo study must show methods that learn: BitFit and LoRA beat the majority class on the
generated SST-2-shaped task with the demo's own pre-trained model, settings and learning rates.

A guard against the demo encoder returning to a pooled vector that carries no sentence content,
where every method that keeps the encoder frozen predicts one class and the deck is all collapse.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from peftdeck.config import load_config, resolve_cell  # noqa: E402
from peftdeck.demo import data, pretrain  # noqa: E402
from peftdeck.paths import Cell  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MARGIN = 10.0  # accuracy points above the majority-class baseline


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    config = load_config(ROOT / "config" / "demo.yaml")
    folder = tmp_path_factory.mktemp("demo")
    demo_sizes = {k: v for k, v in config["demo"].items() if k != "seed"}
    data.generate_all(folder / "data", seed=config["demo"]["seed"], sizes=demo_sizes, tasks=("sst2",))
    model = config["model"]
    pretrain.pretrain(folder / "data" / "corpus.txt", folder / "model", seed=config["demo"]["seed"],
                      steps=model["pretrain_steps"], hidden_size=model["hidden_size"],
                      num_layers=model["num_layers"], log=lambda _: None)
    return config, folder


# The demo encoder does not give frozen-encoder methods a usable sentence vector yet (docs/design.md,
# "The demo model"). strict: the day this passes it fails as XPASS, and the marker must go.
@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="demo encoder: PEFT at the majority class on SST-2 (docs/design.md)")
@pytest.mark.parametrize("method", ["bitfit", "lora"])
def test_frozen_encoder_methods_learn_the_sst2_shaped_task(demo, method):
    from peftdeck.train import run_cell

    config, folder = demo
    glue = config["experiments"]["glue"]
    cell = Cell("demo", "sst2", method, "all", "ep" + str(glue["schedules"][0]["epochs"]).removesuffix(".0"),
                float(config["methods"][method]["lr"]), int(glue["batch_sizes"][0]), int(glue["seeds"][0]))
    spec = resolve_cell(config, cell)
    spec["model"]["location"] = str(folder / "model")
    spec["data"]["location"] = str(folder / "data" / "sst2")
    result = run_cell(spec, str(folder / f"{method}.json"), log=lambda _: None)
    accuracy, majority = result["metrics"]["accuracy"], result["baseline"]["accuracy"]
    assert not result["predictions"]["collapsed"]
    assert accuracy >= majority + MARGIN, (method, accuracy, majority)
