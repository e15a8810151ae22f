# One job per cell. The output path is the cell's address.


rule train_cell:
    input:
        unpack(cell_inputs),
    output:
        P.CELL_PATTERN,
    log:
        "results/{study}/logs/runs/{task}/{method}/n{size}/{sched}-lr{lr}-bs{bs}/seed{seed}.log",
    benchmark:
        "results/{study}/benchmarks/runs/{task}/{method}/n{size}/{sched}-lr{lr}-bs{bs}/seed{seed}.tsv"
    params:
        spec=cell_spec,
        inputs=cell_input_fingerprints,
    threads: max(1, CONFIG["training"]["threads"])
    resources:
        # Each retry (--retries / the profiles) halves the micro-batch and doubles accumulation.
        attempt=lambda wc, attempt: attempt,
        gpu=1,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 240 * attempt,
    conda:
        "../envs/peftdeck.yaml"
    shell:
        # Jobs never touch the network: everything they read was fetched by a local rule.
        "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1"
        " python -m peftdeck.run_cell --spec {params.spec:q} --out {output:q} --attempt {resources.attempt}"
        " > {log:q} 2>&1"


rule cells:
    """Every cell of the study, without the deck (use with --keep-going for sweeps)."""
    input:
        lambda wc: [c.path for c in study_cells()],


localrules:
    choose_settings,


checkpoint choose_settings:
    """A tuned experiment's learning rate and batch size per task and method: the grid point with the best
    mean held-out score (the dev split is not read). Its cells are known once this has run."""
    input:
        cfg="results/{study}/config.resolved.json",
        cells=grid_cells_of,
    output:
        P.chosen_json("{study}", "{experiment}"),
    log:
        "results/{study}/logs/choose_{experiment}.log",
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.choose --config {input.cfg:q} --experiment {wildcards.experiment:q} --out {output:q}"
        " > {log:q} 2>&1"
