# Everything that may touch the network runs here, as local rules on the submitting machine;
# training jobs read only what these rules left under resources/ (or the demo's results/<study>/).


localrules:
    fetch,
    fetch_model,
    fetch_data,
    demo_data,


rule fetch_model:
    output:
        directory(P.hub_model_dir("{model_id}")),
    log:
        "resources/logs/fetch_model_{model_id}.log",
    params:
        hub_id=lambda wc: CONFIG["model"]["id"],
    shell:
        "{PY} -m peftdeck.fetch model --id {params.hub_id:q} --out {output:q} > {log:q} 2>&1"


rule fetch_data:
    output:
        directory(P.hub_data_dir("{task}")),
    log:
        "resources/logs/fetch_data_{task}.log",
    params:
        hub_id=lambda wc: CONFIG["data"][wc.task].get("hub_id", ""),
    shell:
        "{PY} -m peftdeck.fetch data --task {wildcards.task:q} --hub-id {params.hub_id:q} --out {output:q} > {log:q} 2>&1"


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
    shell:
        "{PY} -m peftdeck.demo.data --out {output:q} --seed {params.seed}"
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
    shell:
        "{PY} -m peftdeck.demo.pretrain --corpus {input:q}/corpus.txt --out {output:q} --seed {params.seed}"
        " --steps {params.steps} --hidden-size {params.hidden} --num-layers {params.layers} > {log:q} 2>&1"
