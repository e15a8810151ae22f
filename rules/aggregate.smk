# Results -> one tidy table, markdown tables and the deck's context (every number the deck shows).


localrules:
    resolved_config,
    aggregate,


rule resolved_config:
    """The validated config with defaults filled in; rewritten only when its content changes."""
    output:
        "results/{study}/config.resolved.json",
    log:
        "results/{study}/logs/resolved_config.log",
    params:
        cfg=json.dumps(CONFIG, sort_keys=True),
    run:
        write_resolved_config(output[0], params.cfg, log[0])


rule aggregate:
    input:
        cfg="results/{study}/config.resolved.json",
        cells=present_cells,
    output:
        csv=P.cells_csv("{study}"),
        summary=P.summary_json("{study}"),
    log:
        "results/{study}/logs/aggregate.log",
    params:
        out_dir=lambda wc: P.tables_dir(wc.study),
        allow_missing="--allow-missing" if CONFIG["allow_missing"] else "",
        label=CONFIG_LABEL,
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.aggregate --config {input.cfg:q} --config-label {params.label:q}"
        " --out-dir {params.out_dir:q} {params.allow_missing} > {log:q} 2>&1"
