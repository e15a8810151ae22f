"""Plain Markdown tables of the main results and of the wider study's sections, for reading
without the deck; `peftdeck.aggregate.write_tables` writes them next to summary.json.

`markdown_tables` is re-exported by `peftdeck.aggregate`.
"""
from __future__ import annotations

from typing import Any


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def markdown_tables(summary: dict[str, Any]) -> dict[str, str]:
    """Plain Markdown tables of the main results, for reading without the deck."""
    from .deck import fmt_int, fmt_pct, fmt_score, fmt_signed

    tables = {}
    glue = summary.get("glue")
    if glue:
        header = ["Method"] + [f"{summary['tasks'][t]['label']} ({summary['metric_labels'].get(glue['task_info'][t]['primary_metric'], '?')})"
                               for t in glue["tasks"]] + ["Avg", "% of ref.", "Trainable", "Trainable %"]
        rows = []
        for m in glue["methods"]:
            cells = []
            for t in glue["tasks"]:
                e = m["scores"].get(t) or {}
                text = "missing" if not e or e.get("missing") else fmt_score(e)
                if e.get("collapsed"):
                    text += " (collapsed)"
                cells.append(text)
            rows.append([m["label"], *cells, fmt_score(m["average"]), fmt_pct(m["pct_of_reference"], 1),
                         fmt_int(m["trainable_params"]), fmt_pct(m["trainable_pct"], sig=2)])
        tables["glue.md"] = _md_table(header, rows)
    squad = summary.get("squad")
    if squad:
        for comp in squad["comparisons"]:
            for met in squad["metrics"]:
                lab = summary["metric_labels"].get(met, met)
                header = ["Train size", f"{squad['reference_label']} ({lab})", f"{comp['label']} ({lab})", f"Δ {lab}"]
                rows = []
                for r in comp["rows"]:
                    size = ("all" + (f" ({fmt_int(r['n_train'])})" if r["n_train"] else "")) if r["is_all"] else fmt_int(r["train_size"])
                    v = r[met]
                    rows.append([size, fmt_score(v["reference"]), fmt_score(v["challenger"]), fmt_signed(v["delta"])])
                tables[f"{summary['sections']['squad']}_{comp['method']}_{met}.md"] = _md_table(header, rows)
    tables.update(_wider_tables(summary))
    return tables


def _ci_text(comp: dict[str, Any] | None) -> str:
    from .deck import fmt_ci

    return fmt_ci(comp)


def _wider_tables(summary: dict[str, Any]) -> dict[str, str]:
    """Markdown tables of the grid, LoRA-rank and fraction sections."""
    from .deck import fmt_g, fmt_int, fmt_score

    tables = {}
    tasks, sec = summary["tasks"], summary.get("sections", {})
    grid = summary.get("grid")
    if grid:
        header = ["Task", "Method", "Chosen LR", "Chosen batch", "Held-out", "Dev", f"Δ dev vs {grid['reference_label'] or 'ref.'}"]
        rows = []
        for t in grid["per_task"]:
            for e in t["methods"]:
                ch = e["chosen"] or {}
                rows.append([tasks[t["task"]]["label"], e["label"], fmt_g(ch.get("lr")), fmt_int(ch.get("batch_size")),
                             fmt_score(ch.get("heldout")), fmt_score(e["dev"]),
                             _ci_text(e["vs_reference"]) if e["vs_reference"] else "—"])
        tables[f"{sec['grid']}.md"] = _md_table(header, rows)
    ranks = summary.get("lora_ranks")
    if ranks:
        header = ["Task", "Method", "Rank", "Trainable", "Score", f"Δ vs {ranks['reference_label'] or 'ref.'}"]
        rows = []
        for t in ranks["per_task"]:
            for p in t["points"]:
                rows.append([tasks[t["task"]]["label"], p["label"], str(p["r"]), fmt_int(p["trainable_params"]),
                             fmt_score(p["entry"]), _ci_text(p["vs_reference"]) if p["vs_reference"] else "—"])
            for o in t["others"]:
                rows.append([tasks[t["task"]]["label"], o["label"], "—", fmt_int(o["trainable_params"]),
                             fmt_score(o["entry"]), "reference" if o["is_reference"] else "—"])
        tables[f"{sec['lora_ranks']}.md"] = _md_table(header, rows)
    fr = summary.get("fractions")
    if fr:
        header = ["Task", "Fraction", "n"] + [m["label"] for m in fr["methods"]]
        rows = []
        for t in fr["per_task"]:
            for r in t["rows"]:
                cells = []
                for m in fr["methods"]:
                    e = r["entries"].get(m["method"])
                    text = fmt_score(e) if e else "—"
                    c = r["vs_reference"].get(m["method"])
                    if c:
                        text += f" (Δ {_ci_text(c)})"
                    cells.append(text)
                rows.append([tasks[t["task"]]["label"], str(r["train_size"]), fmt_int(r["n_train"]), *cells])
        tables[f"{sec['fractions']}.md"] = _md_table(header, rows)
    return tables
