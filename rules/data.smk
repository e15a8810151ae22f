# Everything that may touch the network runs here, as local rules on the submitting machine;
# training jobs read only what these rules left under resources/ (or the demo's results/<study>/).


localrules:
    fetch,
    hub_check,
    fetch_model,
    fetch_data,
    demo_data,


rule hub_check:
    """Before the first download, ask once whether the Hub answers at all: without a connection the run
    stops here, in seconds, with one message naming the ways out (instead of one failure per download).
    The marker stays; downloads take it as `ancient`, so a new check never makes them look outdated."""
    output:
        P.hub_check_marker(),
    log:
        "resources/logs/hub_check.log",
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.fetch check --out {output:q} > {log:q} 2>&1"


rule fetch_model:
    input:
        ancient(P.hub_check_marker()),
    output:
        directory(P.hub_model_dir("{model_id}")),
    log:
        "resources/logs/fetch_model_{model_id}.log",
    params:
        hub_id=lambda wc: CONFIG["model"]["id"],
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.fetch model --id {params.hub_id:q} --out {output:q}"
        " > {log:q} 2>&1"


rule fetch_data:
    input:
        ancient(P.hub_check_marker()),
    output:
        directory(P.hub_data_dir("{task}")),
    log:
        "resources/logs/fetch_data_{task}.log",
    params:
        # Only a config that names another Hub dataset passes --hub-id; the task knows its own.
        hub_id=lambda wc: fetch_hub_id_arg(wc.task),
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.fetch data --task {wildcards.task:q}{params.hub_id}"
        " --out {output:q} > {log:q} 2>&1"


rule fetch:
    """Download every Hub model and dataset the study needs (run where there is internet)."""
    input:
        ([model_input()] if CONFIG["model"]["source"] == "hub" else [])
        + [P.hub_data_dir(t) for t, s in CONFIG["data"].items() if s["source"] == "hub"],


rule demo_data:
    output:
        directory(P.demo_data_dir("{study}")),
    log:
        "results/{study}/logs/demo_data.log",
    params:
        seed=CONFIG["demo"]["seed"],
        cls_train=CONFIG["demo"]["classification_train"],
        cls_eval=CONFIG["demo"]["classification_eval"],
        qa_train=CONFIG["demo"]["qa_train"],
        qa_eval=CONFIG["demo"]["qa_eval"],
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.demo.data --out {output:q} --seed {params.seed}"
        " --classification-train {params.cls_train} --classification-eval {params.cls_eval}"
        " --qa-train {params.qa_train} --qa-eval {params.qa_eval} > {log:q} 2>&1"


rule demo_pretrain:
    input:
        P.demo_data_dir("{study}"),
    output:
        directory(P.demo_model_dir("{study}")),
    log:
        "results/{study}/logs/demo_pretrain.log",
    benchmark:
        "results/{study}/benchmarks/demo_pretrain.tsv"
    params:
        seed=CONFIG["demo"]["seed"],
        steps=CONFIG["model"].get("pretrain_steps", 300),
        hidden=CONFIG["model"].get("hidden_size", 64),
        layers=CONFIG["model"].get("num_layers", 2),
    threads: 2
    conda:
        "../envs/peftdeck.yaml"
    shell:
        "python -m peftdeck.demo.pretrain --corpus {input:q}/corpus.txt --out {output:q} --seed {params.seed}"
        " --steps {params.steps} --hidden-size {params.hidden} --num-layers {params.layers} > {log:q} 2>&1"
