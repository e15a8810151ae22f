"""Render a deck with every section of the wider study switched on, and look at the pages.

Same tools and checks as test_render.py (skipped with the reason when Marp, Chromium or pdftoppm is
absent): one page per slide, the new figures are not blank, nothing runs into a slide's margins.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "unit"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_render import _need_tools, build_deck, margin_ink, pages, slide_count, slide_texts  # noqa: E402


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    _need_tools()
    from synthetic_cells import wider_config, write_results

    root = tmp_path_factory.mktemp("wider")
    cfg = wider_config("grid", "ranks", "fractions", demo=True)
    # One missing cell, so the partial / missing marks are rendered too.
    write_results(cfg, root, skip=lambda c: c.method == "adapter_houlsby" and c.train_size == "30%" and c.seed == 3)
    slides = build_deck(cfg, root)
    return {"md": (slides / "deck.md").read_text(), "pages": pages(slides / "deck.pdf", root / "png")}


def test_one_page_per_slide(rendered):
    assert len(rendered["pages"]) == slide_count(rendered["md"])


def test_study_figures_are_not_blank(rendered):
    texts = slide_texts(rendered["md"])
    names = ("grid_sst2", "grid_mrpc", "lora_ranks", "fractions")
    fig_pages = [i for i, t in enumerate(texts) if any(f"](figures/{n}.png)" in t for n in names)]
    assert len(fig_pages) == len(names)
    for i in fig_pages:
        img = rendered["pages"][i]
        body = img[int(img.shape[0] * 0.18):int(img.shape[0] * 0.95)]
        assert body.std() > 0.08 and (body.mean(axis=2) < 0.9).mean() > 0.05, f"slide {i + 1} looks blank"


def test_nothing_runs_off_a_slide(rendered):
    texts = slide_texts(rendered["md"])
    bad = {}
    for i, img in enumerate(rendered["pages"]):
        ink = margin_ink(img)
        if ink["bottom"] > 0.002 or ink["right"] > 0.002:
            title = next((line for line in texts[i].splitlines() if line.startswith("# ")), "?")
            bad[i + 1] = (title, ink)
    assert not bad, f"content in the margins (overflow) on slides {bad}"
