"""What every figure shares: the Agg backend, slide size, fonts, method colours and saving.

Every figure is sized for a 16:9 slide (12 x 6 in, fonts 14 pt and up) and gives each method the
same colour everywhere (the summary's `palette`, keyed by method label).
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402
from PIL import Image  # noqa: E402  (Pillow: a dependency of matplotlib)

FIGSIZE = (12, 6)
DPI = 150
GREY = "#666666"


def apply_style() -> None:
    """The seaborn theme and font sizes every figure is drawn with."""
    sns.set_theme(style="whitegrid", context="talk")
    plt.rcParams.update({
        "font.size": 15, "axes.titlesize": 17, "axes.labelsize": 15, "xtick.labelsize": 14,
        "ytick.labelsize": 14, "legend.fontsize": 13, "figure.dpi": DPI, "savefig.dpi": DPI,
        "axes.titleweight": "bold",
    })


def method_color(summary: dict[str, Any], label: str) -> str:
    """The method's colour from the summary's palette (grey when it has none)."""
    return summary.get("palette", {}).get(label, GREY)


def is_num(x: Any) -> bool:
    """True for a finite int or float (not None, NaN or infinite)."""
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def save(fig, out_dir: Path, name: str) -> Path:
    """Write `<out_dir>/<name>.png` on a white background and close the figure.

    The PNG is stored with a 256-colour palette (median cut, no dithering): a chart has few colours
    besides its anti-aliased edges, so it looks the same at about a third of the bytes, and the
    deck's PDF (Chromium embeds the decoded pixels) shrinks with it.
    """
    path = out_dir / f"{name}.png"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
    plt.close(fig)
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                   dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def demo_mark(fig, summary: dict[str, Any]) -> None:
    """Stamp figures of a demo study (generated data) in the top right corner."""
    if summary.get("meta", {}).get("demo"):
        fig.text(0.995, 0.995, "DEMO — generated data", ha="right", va="top", fontsize=13,
                 color="#c0392b", fontweight="bold")


def task_label(summary: dict[str, Any], task: str) -> str:
    return summary.get("tasks", {}).get(task, {}).get("label", task)


def metric_label(summary: dict[str, Any], metric: str | None) -> str:
    return summary.get("metric_labels", {}).get(metric, metric or "score")


def no_data(ax, text: str = "no results yet") -> None:
    """A panel that says it has nothing to show."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=15, color=GREY, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
