"""The offline demo's inputs: generated tasks and a tiny pre-trained BERT.

`peftdeck.demo.data` writes SST-2-, MRPC-, RTE-, SQuAD-, CoLA- and STS-B-like tasks in the original
file formats (one module per task: `sst2`, `mrpc`, `rte`, `squad`, `cola`, `stsb`) plus an unlabelled
corpus (`corpus`); `peftdeck.demo.pretrain` trains a WordPiece vocabulary and a small BERT with
masked-LM on that corpus. Together they let the whole pipeline run without a download.
"""
