# Figures and the deck, one folder per study: slides/<study>/deck.md and slides/<study>/figures/.
# Markdown needs only Python; HTML and PDF need marp-cli (`make marp`) and, for PDF, Chromium.
# Targets: `deck` (slides/<study>/deck.md), `html`, `pdf`; e.g.
#   snakemake --cores 2 deck --configfile config/demo.yaml


localrules:
    plots,
    deck_md,
    deck_html,
    deck_pdf,
    deck,
    html,
    pdf,
    latest_deck,
    moved_deck_html,


rule plots:
    input:
        csv=P.cells_csv(STUDY),
        summary=P.summary_json(STUDY),
    output:
        figure_outputs(),
    log:
        f"results/{STUDY}/logs/plots.log",
    params:
        out_dir=lambda wc, output: os.path.dirname(output[0]) if output else P.figures_dir(STUDY),
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.plots --summary {input.summary:q} --cells {input.csv:q} --out-dir {params.out_dir:q}"
        " > {log:q} 2>&1"


rule deck_md:
    input:
        summary=P.summary_json(STUDY),
        figures=rules.plots.output,
        template="templates/deck.md.j2",
        partials=glob.glob("templates/_*.md.j2"),
    output:
        P.deck_md(STUDY),
    log:
        f"results/{STUDY}/logs/deck.log",
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.deck build --summary {input.summary:q} --template {input.template:q} --out {output:q}"
        " > {log:q} 2>&1"


rule deck_html:
    input:
        P.deck_md(STUDY),
    output:
        P.deck_html(STUDY),
    log:
        f"results/{STUDY}/logs/deck_html.log",
    conda:
        "../envs/deck.yaml"
    shell:
        "python -m peftdeck.deck render --md {input:q} --html {output:q} > {log:q} 2>&1"


rule deck_pdf:
    input:
        P.deck_md(STUDY),
    output:
        P.deck_pdf(STUDY),
    log:
        f"results/{STUDY}/logs/deck_pdf.log",
    conda:
        "../envs/deck.yaml"
    shell:
        "python -m peftdeck.deck render --md {input:q} --pdf {output:q} > {log:q} 2>&1"


rule deck:
    """The study's deck: slides/<study>/deck.md and its figures."""
    input:
        P.deck_md(STUDY),


rule html:
    """The study's deck as HTML: slides/<study>/deck.html (needs marp-cli: make marp)."""
    input:
        P.deck_html(STUDY),


rule pdf:
    """The study's deck as PDF: slides/<study>/deck.pdf (needs marp-cli and Chromium: make marp system-deps)."""
    input:
        P.deck_pdf(STUDY),


rule latest_deck:
    """slides/deck.md and slides/deck.pdf: a copy of the deck of the study in the config, its figure
    links pointing into slides/<study>/, so that `snakemake --cores 4 slides/deck.md` builds and
    shows the study asked for. Each study's own deck stays in slides/<study>/; asking for another
    study's slides/deck.md replaces this copy only (the study is a parameter, so a change of study
    makes it again)."""
    input:
        lambda wc: getattr(P, f"deck_{wc.ext}")(STUDY),
    output:
        "slides/deck.{ext}",
    params:
        study=STUDY,
    wildcard_constraints:
        ext="md|pdf",
    log:
        f"results/{STUDY}/logs/latest_deck_{{ext}}.log",
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.deck alias --src {input:q} --out {output:q} > {log:q} 2>&1"


rule moved_deck_html:
    """slides/deck.html: HTML links its figures by path, so it is not copied; the message names the
    study's own file."""
    input:
        lambda wc: moved_deck("html"),
    output:
        "slides/deck.html",
