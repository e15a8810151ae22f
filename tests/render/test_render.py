"""Render a synthetic deck with Marp and look at the pages.

Needs the Marp CLI (`npm ci` in the repository root), Chromium and poppler's pdftoppm; skipped
with the reason when any is absent.

Checks: one PDF page per slide; every figure's page shows a picture (pixel variance); nothing
spills into a slide's bottom or right margin (where an over-long or over-wide table would land),
and that this check does catch a table that is too long.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "unit"))

from peftdeck import aggregate, deck  # noqa: E402

DPI = 48  # a 1280 x 720 px slide -> 640 x 360 px
SCALE = DPI / 96
# Margins of the deck's style (px at 96 dpi): padding 36 56 44 56; the page number sits bottom right.
BOTTOM_BAND = (int(40 * SCALE), int(6 * SCALE))  # rows counted from the bottom edge: from, to
RIGHT_BAND = (int(50 * SCALE), int(6 * SCALE))
CORNER = 0.18  # share of width/height left out near the page number


def _need_tools():
    if deck.marp_command() is None:
        pytest.skip("Marp CLI not installed: run `npm ci` in the repository root")
    if deck.browser_path() is None:
        pytest.skip("Chromium not found (apt-get install chromium, or set CHROME_PATH)")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not found (apt-get install poppler-utils)")


def slide_count(md: str) -> int:
    """Slides in a Marp Markdown file: separators after the front matter, outside code fences, + 1."""
    lines = md.splitlines()
    start = lines.index("---", 1) + 1 if lines and lines[0] == "---" else 0
    fence, seps = False, 0
    for line in lines[start:]:
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and line.strip() == "---":
            seps += 1
    return seps + 1


def slide_texts(md: str) -> list[str]:
    lines = md.splitlines()
    start = lines.index("---", 1) + 1 if lines and lines[0] == "---" else 0
    out, cur = [], []
    for line in lines[start:]:
        if line.strip() == "---":
            out.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    out.append("\n".join(cur))
    return out


def pages(pdf: Path, out: Path) -> list[np.ndarray]:
    import matplotlib.image as mpimg

    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(out / "p")], check=True, timeout=120)
    files = sorted(out.glob("p-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    return [mpimg.imread(f)[..., :3] for f in files]


def margin_ink(img: np.ndarray) -> dict[str, float]:
    """Share of non-white pixels in the bottom and right margins (page-number corner left out)."""
    h, w, _ = img.shape
    ink = img.mean(axis=2) < 0.9
    b0, b1 = BOTTOM_BAND
    r0, r1 = RIGHT_BAND
    bottom = ink[h - b0:h - b1, : int(w * (1 - CORNER))]
    right = ink[: int(h * (1 - CORNER)), w - r0:w - r1]
    return {"bottom": float(bottom.mean()), "right": float(right.mean())}


def build_deck(cfg: dict, root: Path, html: bool = False) -> Path:
    """Aggregate the results under `root`, draw the figures and render deck.md and deck.pdf (and
    deck.html) into `root/slides`, as the workflow's rules do; returns that folder."""
    from peftdeck import plots

    df, missing = aggregate.collect(cfg, allow_missing=True, root=root)
    summary = aggregate.build_summary(df, missing, cfg, config_path="config/demo.yaml")
    slides = root / "slides"
    plots.make_all(df, summary, slides / "figures")
    md = slides / "deck.md"
    md.write_text(deck.render_markdown(summary, REPO / "templates" / "deck.md.j2"))
    deck.render(md, html=slides / "deck.html" if html else None, pdf=slides / "deck.pdf")
    return slides


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    _need_tools()
    from synthetic_cells import small_config, write_results

    root = tmp_path_factory.mktemp("study")
    cfg = small_config(demo=True, seeds=[1, 2])
    write_results(cfg, root, skip=lambda c: c.task == "mrpc" and c.method == "lora" and c.seed == 2,
                  collapsed=lambda c: c.task == "rte" and c.method == "prompt_tuning")
    slides = build_deck(cfg, root, html=True)
    return {"md": (slides / "deck.md").read_text(), "pdf": slides / "deck.pdf", "html": slides / "deck.html",
            "pages": pages(slides / "deck.pdf", root / "png")}


def test_one_page_per_slide(rendered):
    n = slide_count(rendered["md"])
    assert n >= 20
    assert len(rendered["pages"]) == n
    html = rendered["html"].read_text()
    assert html.count('<section id="') == n


def test_figure_pages_are_not_blank(rendered):
    texts = slide_texts(rendered["md"])
    fig_pages = [i for i, t in enumerate(texts) if "](figures/" in t]
    # parameter efficiency, compute and memory, scores vs baseline, Pareto front, loss curves, SQuAD curves
    assert len(fig_pages) == 6
    for i in fig_pages:
        img = rendered["pages"][i]
        h = img.shape[0]
        body = img[int(h * 0.18):int(h * 0.95)]  # below the title
        assert body.std() > 0.08, f"slide {i + 1} looks blank"
        assert (body.mean(axis=2) < 0.9).mean() > 0.05, f"slide {i + 1} has almost no ink"


def test_nothing_runs_off_a_slide(rendered):
    bad = {}
    for i, img in enumerate(rendered["pages"]):
        ink = margin_ink(img)
        if ink["bottom"] > 0.002 or ink["right"] > 0.002:
            bad[i + 1] = ink
    assert not bad, f"content in the margins (overflow) on slides {bad}"


def test_overflow_check_catches_a_long_table(rendered, tmp_path):
    front_matter = rendered["md"].split("\n---\n", 1)[0]  # `---` + the front matter
    rows = "\n".join(f"| row {i} | {i * 1.5:.2f} | {i * 2.5:.2f} |" for i in range(40))
    md = tmp_path / "long.md"
    md.write_text(front_matter + "\n---\n\n# Too long\n\n| a | b | c |\n|---|---:|---:|\n" + rows + "\n")
    deck.render(md, pdf=tmp_path / "long.pdf")
    (img,) = pages(tmp_path / "long.pdf", tmp_path / "png")
    assert margin_ink(img)["bottom"] > 0.002
