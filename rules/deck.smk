# Figures and the deck. Markdown needs only Python; HTML and PDF need marp-cli (and Chromium for PDF).


localrules:
    plots,
    deck,
    deck_html,
    deck_pdf,


rule plots:
    input:
        csv=P.cells_csv(STUDY),
        summary=P.summary_json(STUDY),
    output:
        figure_outputs(),
    log:
        f"results/{STUDY}/logs/plots.log",
    params:
        out_dir=P.figures_dir(),
    shell:
        "{PY} -m peftdeck.plots --summary {input.summary:q} --cells {input.csv:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule deck:
    input:
        summary=P.summary_json(STUDY),
        figures=rules.plots.output,
        template="templates/deck.md.j2",
    output:
        P.deck_md(),
    log:
        f"results/{STUDY}/logs/deck.log",
    shell:
        "{PY} -m peftdeck.deck build --summary {input.summary:q} --template {input.template:q} --out {output:q} > {log:q} 2>&1"


rule deck_html:
    input:
        P.deck_md(),
    output:
        "slides/deck.html",
    log:
        f"results/{STUDY}/logs/deck_html.log",
    shell:
        "{PY} -m peftdeck.deck render --md {input:q} --html {output:q} > {log:q} 2>&1"


rule deck_pdf:
    input:
        P.deck_md(),
    output:
        "slides/deck.pdf",
    log:
        f"results/{STUDY}/logs/deck_pdf.log",
    shell:
        "{PY} -m peftdeck.deck render --md {input:q} --pdf {output:q} > {log:q} 2>&1"
