"""Build the Marp deck from summary.json, and render it to HTML and PDF.

    python -m peftdeck.deck build --summary results/demo/tables/summary.json \\
        --template templates/deck.md.j2 --out slides/demo/deck.md
    python -m peftdeck.deck render --md slides/demo/deck.md --html slides/demo/deck.html --pdf slides/demo/deck.pdf

The template only formats: every number and every finding comes from the summary, and the filters
below turn them into text (a missing value prints as an em dash, never as "nan" or "None").
Rendering calls the Marp CLI pinned in package.json (install it with `make marp`).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DASH = "—"


# --- formatting (the only place numbers become text) -------------------------------------------

def _num(x: Any) -> float | None:
    if isinstance(x, dict):
        x = x.get("mean")
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt_num(x: Any, digits: int = 2) -> str:
    v = _num(x)
    return DASH if v is None else f"{v:.{digits}f}"


def fmt_g(x: Any) -> str:
    """Shortest form: 3.0 -> 3, 2e-05 -> 2e-05, 0.001 -> 0.001."""
    if isinstance(x, str):
        return x
    v = _num(x)
    return DASH if v is None else f"{v:g}"


def fmt_score(x: Any, digits: int = 2) -> str:
    """A score, or a seed entry {mean, std, n}: `91.20 ± 0.35` when std is given, else `91.20`."""
    v = _num(x)
    if v is None:
        return DASH
    text = f"{v:.{digits}f}"
    std = _num(x.get("std")) if isinstance(x, dict) else None
    if std is not None:
        text += f" ± {std:.{digits}f}"
    return text


def fmt_signed(x: Any, digits: int = 2) -> str:
    v = _num(x)
    if v is None:
        return DASH
    if round(v, digits) == 0:
        v = 0.0
    return f"{v:+.{digits}f}"


def fmt_int(x: Any) -> str:
    if isinstance(x, str):
        return x
    v = _num(x)
    return DASH if v is None else f"{int(round(v)):,}"


def fmt_pct(x: Any, digits: int | None = None, sig: int | None = None) -> str:
    """`12.3%`; with sig, significant digits below 1 (0.095%), one decimal above 10."""
    v = _num(x)
    if v is None:
        return DASH
    if digits is not None:
        return f"{v:.{digits}f}%"
    sig = sig or 2
    if v >= 99.95:
        return f"{v:.0f}%"
    if v >= 10:
        return f"{v:.1f}%"
    text = f"{v:.{sig}g}"
    if "e" in text:
        text = f"{v:.{sig + 3}f}".rstrip("0")
    return text + "%"


def fmt_ratio(x: Any, digits: int = 2) -> str:
    """`0.52×`; below 0.01 two significant digits (`0.0037×`), never a bare `0.00×`."""
    v = _num(x)
    if v is None:
        return DASH
    if 0 < abs(v) < 10 ** -digits:
        return f"{v:.2g}×" if "e" not in f"{v:.2g}" else f"{v:.{digits + 4}f}".rstrip("0") + "×"
    return f"{v:.{digits}f}×"


def fmt_pvalue(x: Any) -> str:
    """A p-value: `0.03`, `0.41`, `< 0.001`."""
    v = _num(x)
    if v is None:
        return DASH
    return "< 0.001" if v < 0.001 else f"{v:.2g}" if v < 0.01 else f"{v:.2f}"


def fmt_bytes(x: Any) -> str:
    v = _num(x)
    if v is None:
        return DASH
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if v >= scale:
            return f"{v / scale:.2f} {unit}"
    return f"{v:.0f} B"


def fmt_flops(x: Any) -> str:
    v = _num(x)
    if v is None:
        return DASH
    for unit, scale in (("EFLOP", 1e18), ("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g} FLOP"


def fmt_seconds(x: Any) -> str:
    v = _num(x)
    if v is None:
        return DASH
    if v >= 3600:
        return f"{v / 3600:.1f} h"
    if v >= 60:
        return f"{v / 60:.1f} min"
    return f"{v:.1f} s"


def fmt_size(row: Any) -> str:
    """A training-set size: `1,000`, or `all (88,524)` for a size configured as all."""
    if isinstance(row, dict):
        size, n = row.get("train_size"), row.get("n_train")
    else:
        size, n = row, None
    if size == "all":
        return "all" + (f" ({fmt_int(n)})" if _num(n) is not None else "")
    return fmt_int(size)


def fmt_examples(row: Any) -> str:
    """A training-set size inside a sentence: `1,000`, or `2,000 (the full set)`."""
    if isinstance(row, dict) and row.get("train_size") == "all":
        n = row.get("n_train")
        return (fmt_int(n) + " (the full set)") if _num(n) is not None else "the full set"
    return fmt_size(row)


def fmt_list(items: Sequence[Any], last: str = "and") -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def fmt_schedule(s: dict[str, Any]) -> str:
    one = float(s["epochs"]) == 1
    if s.get("steps"):
        worth = "epoch's" if one else "epochs'"
        return f"max({fmt_int(s['steps'])} steps, {fmt_g(s['epochs'])} {worth} worth of steps)"
    return f"{fmt_g(s['epochs'])} {'epoch' if one else 'epochs'}"


def fmt_ci(comp: Any, digits: int = 2) -> str:
    """A difference with its bootstrap interval, `+0.40 [-0.20, +1.00]`; without an interval, the difference."""
    if not isinstance(comp, dict):
        return fmt_signed(comp, digits)
    text = fmt_signed(comp.get("delta"), digits)
    ci = comp.get("ci")
    if text != DASH and isinstance(ci, (list, tuple)) and len(ci) == 2:
        text += f" [{fmt_signed(ci[0], digits)}, {fmt_signed(ci[1], digits)}]"
    return text


def fmt_verdict(comp: Any, tolerance: Any = 1.0) -> str:
    """What a comparison says: with an interval, `clearly ahead` / `clearly behind` / `no clear difference`;
    without one (too few seeds), the tolerance rule in words."""
    if not isinstance(comp, dict) or not comp.get("outcome"):
        return DASH
    outcome = comp["outcome"]
    if comp.get("decided_by") == "ci":
        return {"wins": "clearly ahead", "loses": "clearly behind", "ties": "no clear difference"}[outcome]
    tol = fmt_g(tolerance)
    return {"wins": f"ahead by > {tol}", "loses": f"behind by > {tol}", "ties": f"within ±{tol}"}[outcome]


def fmt_fraction(x: Any) -> str:
    """A share of the training set: 10.0 -> `10%`, 12.5 -> `12.5%`; `all` -> `100%`."""
    if isinstance(x, dict):
        x = x.get("fraction")
    if x == "all":
        return "100%"
    if isinstance(x, str) and x.endswith("%"):
        return x
    v = _num(x)
    return DASH if v is None else f"{v:g}%"


def fmt_level(x: Any) -> str:
    """A level or a share given as a fraction, in whole percent: 0.95 -> `95%`, 0.05 -> `5%`."""
    v = _num(x)
    return DASH if v is None else f"{int(round(v * 100))}%"


def fmt_share(x: Any) -> str:
    """A share given as a fraction, to one decimal of a percent at most: 0.1 -> `10%`, 0.125 -> `12.5%`."""
    v = _num(x)
    return DASH if v is None else f"{round(v * 100, 1):g}%"


def lookup(keys: Sequence[Any], mapping: dict[str, Any]) -> list[Any]:
    """Map each key through `mapping` (keys it lacks stay as they are)."""
    return [mapping.get(k, k) for k in keys]


FILTERS = {
    "lookup": lookup,
    "num": fmt_num, "g": fmt_g, "score": fmt_score, "signed": fmt_signed, "int": fmt_int, "pct": fmt_pct,
    "ratio": fmt_ratio, "examples": fmt_examples, "bytes": fmt_bytes, "flops": fmt_flops, "seconds": fmt_seconds, "size": fmt_size,
    "join_and": fmt_list, "schedule": fmt_schedule, "ci": fmt_ci, "verdict": fmt_verdict, "fraction": fmt_fraction,
    "pvalue": fmt_pvalue, "level": fmt_level, "share": fmt_share,
}


# --- build ----------------------------------------------------------------------------------

def render_markdown(summary: dict[str, Any], template: str | Path) -> str:
    import jinja2

    template = Path(template)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template.parent)),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    text = env.get_template(template.name).render(**summary, summary=summary)
    return tidy_slides(text)


def tidy_slides(text: str) -> str:
    """Collapse blank-line runs and put a blank line around every slide separator.

    Without the blank line before it, a `---` under a paragraph would turn that paragraph into a
    heading, and under an HTML block it would be swallowed by the block.
    """
    lines: list[str] = []
    raw = text.strip().splitlines()
    in_front = bool(raw) and raw[0].strip() == "---"
    for i, line in enumerate(raw):
        line = line.rstrip()
        if i > 0 and in_front and line == "---":
            in_front = False
            lines.append(line)
            continue
        if not in_front and line == "---":
            if lines and lines[-1] != "":
                lines.append("")
            lines.append(line)
            lines.append("")
            continue
        if not line and (not lines or lines[-1] == ""):
            continue
        lines.append(line)
    return "\n".join(lines).strip() + "\n"


def build(summary_path: str | Path, template: str | Path, out: str | Path) -> Path:
    summary = json.loads(Path(summary_path).read_text())
    text = render_markdown(summary, template)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return out


# --- render ---------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def marp_command(repo: str | Path | None = None) -> list[str] | None:
    """The pinned Marp CLI from node_modules, else one on PATH; None when there is none."""
    for base in [Path(repo)] if repo else [Path.cwd(), REPO]:
        local = base / "node_modules" / ".bin" / "marp"
        if local.is_file():
            return [str(local)]
    found = shutil.which("marp")
    return [found] if found else None


def browser_path() -> str | None:
    env = os.environ.get("CHROME_PATH")
    if env and Path(env).is_file():
        return env
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def render(md: str | Path, html: str | Path | None = None, pdf: str | Path | None = None,
           timeout: float = 300) -> list[Path]:
    """Render the deck with Marp: HTML (no browser needed) and/or PDF (needs Chromium)."""
    marp = marp_command()
    if marp is None:
        raise RuntimeError("Marp CLI not found: run `make marp` (npm ci: the version package.json pins) in the repository root")
    env = dict(os.environ)
    written = []
    for target, extra in ((html, ["--html"]), (pdf, ["--pdf"])):
        if target is None:
            continue
        cmd = [*marp, str(md), "--allow-local-files", "--html", "-o", str(target)]
        if "--pdf" in extra:
            chrome = browser_path()
            if chrome is None:
                raise RuntimeError("PDF needs Chromium: run `make system-deps` (Debian, as root; or apt-get install chromium) or set CHROME_PATH")
            env["CHROME_PATH"] = chrome
            cmd += ["--pdf", "--browser", "chrome", "--browser-path", chrome]
            if hasattr(os, "getuid") and os.getuid() == 0:
                env.setdefault("CHROME_NO_SANDBOX", "1")  # Chromium's sandbox refuses to run as root
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not Path(target).is_file():
            raise RuntimeError(f"marp failed ({proc.returncode}) for {target}:\n{proc.stderr.strip()[-2000:]}")
        written.append(Path(target))
    return written


def alias(src: str | Path, out: str | Path) -> Path:
    """Copy a study's deck (Markdown or PDF) to `out`; Markdown gets its relative links (figures)
    rewritten so that they still point into the study's folder. Written atomically."""
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise FileNotFoundError(f"{src} does not exist; build the study's deck first")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if src.suffix == ".md":
        prefix = os.path.relpath(src.parent, out.parent)
        text = re.sub(r"\]\((?![a-z]+:|/|#)([^)]+)\)", lambda m: f"]({prefix}/{m.group(1)})", src.read_text())
        tmp.write_text(text)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m peftdeck.deck", description="Build or render the slide deck.")
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="summary.json + template -> deck.md")
    b.add_argument("--summary", required=True)
    b.add_argument("--template", default="templates/deck.md.j2")
    b.add_argument("--out", default="slides/demo/deck.md")
    r = sub.add_parser("render", help="deck.md -> deck.html and/or deck.pdf with Marp")
    r.add_argument("--md", default="slides/demo/deck.md")
    r.add_argument("--html")
    r.add_argument("--pdf")
    a = sub.add_parser("alias", help="copy a study's deck to a second path (slides/deck.md), links kept working")
    a.add_argument("--src", required=True)
    a.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    try:
        if args.command == "alias":
            print(f"deck: wrote {alias(args.src, args.out)} (a copy of {args.src})")
        elif args.command == "build":
            out = build(args.summary, args.template, args.out)
            print(f"deck: wrote {out}")
        else:
            if not args.html and not args.pdf:
                ap.error("render needs --html and/or --pdf")
            for path in render(args.md, args.html, args.pdf):
                print(f"deck: wrote {path}")
    except (RuntimeError, FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"deck: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
