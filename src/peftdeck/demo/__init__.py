"""The offline demo's inputs: generated tasks and a tiny pre-trained BERT.

`peftdeck.demo.data` writes SST-2-, MRPC-, RTE- and SQuAD-like tasks in the original file formats
(plus an unlabelled corpus); `peftdeck.demo.pretrain` trains a WordPiece vocabulary and a small
BERT with masked-LM on that corpus. Together they let the whole pipeline run without a download.
"""
