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
        [c.path for c in CELLS],
