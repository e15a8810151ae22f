"""Which modules of each encoder architecture a method targets: one entry per `config.model_type`.

Methods that act on named sub-modules (LoRA's query and value projections, BitFit subset's query and
intermediate biases, the adapters' insertion points, IA3's keys, values and feed-forward output)
look their names up here. Every name is a path *inside one transformer block* (the module
`<...>.layer.<N>` or `<...>.layers.<N>`), so one entry serves the sequence-classification and the
question-answering model of an architecture alike.

An architecture that is not listed fails when the method is applied, with a message that names
this table. To add one, build a tiny model from its config, print `model.named_modules()` and fill
in an `Architecture` with the names of one block.

This module imports neither torch nor transformers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    block: str                    # regular expression of a block's path, e.g. r"layer\.\d+"
    query: str                    # attention projections (the same module when q, k, v are fused)
    key: str
    value: str
    attention_out: str            # attention output projection
    ffn_in: str                   # feed-forward up-projection ("intermediate")
    ffn_out: str                  # feed-forward down-projection
    adapter_attention: str        # module after whose output the attention adapter sits
    adapter_ffn: str              # module after whose output the feed-forward adapter sits
    fused_qkv: bool = False       # query, key and value are one Linear (their biases cannot be told apart)

    def linear_roles(self) -> dict[str, str]:
        return {"query": self.query, "key": self.key, "value": self.value, "attention_out": self.attention_out,
                "ffn_in": self.ffn_in, "ffn_out": self.ffn_out}


_BERT_LIKE = Architecture(
    block=r"layer\.\d+", query="attention.self.query", key="attention.self.key", value="attention.self.value",
    attention_out="attention.output.dense", ffn_in="intermediate.dense", ffn_out="output.dense",
    # BERT's output sub-layers are dense -> dropout -> LayerNorm(x + residual): the adapter follows the dropout.
    adapter_attention="attention.output.dropout", adapter_ffn="output.dropout",
)

ARCHITECTURES: dict[str, Architecture] = {
    "bert": _BERT_LIKE,
    "roberta": _BERT_LIKE,
    "xlm-roberta": _BERT_LIKE,
    "deberta-v2": Architecture(
        block=r"layer\.\d+", query="attention.self.query_proj", key="attention.self.key_proj",
        value="attention.self.value_proj", attention_out="attention.output.dense", ffn_in="intermediate.dense",
        ffn_out="output.dense", adapter_attention="attention.output.dropout", adapter_ffn="output.dropout",
    ),
    "distilbert": Architecture(
        block=r"layer\.\d+", query="attention.q_lin", key="attention.k_lin", value="attention.v_lin",
        attention_out="attention.out_lin", ffn_in="ffn.lin1", ffn_out="ffn.lin2",
        # DistilBERT adds the residual right after out_lin; its feed-forward ends lin2 -> dropout.
        adapter_attention="attention.out_lin", adapter_ffn="ffn.dropout",
    ),
    "modernbert": Architecture(
        block=r"layers\.\d+", query="attn.Wqkv", key="attn.Wqkv", value="attn.Wqkv",
        attention_out="attn.Wo", ffn_in="mlp.Wi", ffn_out="mlp.Wo",
        adapter_attention="attn.Wo", adapter_ffn="mlp.Wo", fused_qkv=True,
    ),
}


def model_type(model) -> str:
    config = getattr(model, "config", None)
    return str(getattr(config, "model_type", None) or type(model).__name__)


def architecture(model, method: str) -> Architecture:
    """The table entry of `model`'s architecture, or a ValueError that says what to add."""
    kind = model_type(model)
    try:
        return ARCHITECTURES[kind]
    except KeyError:
        raise ValueError(
            f"method {method}: architecture {kind!r} is not in the module table "
            f"(peftdeck.methods.architectures.ARCHITECTURES; known: {', '.join(sorted(ARCHITECTURES))}). "
            f"Add ARCHITECTURES[{kind!r}] = Architecture(...) with the names, inside one transformer block, of "
            "its query/key/value projections, attention output, feed-forward layers and adapter insertion points"
        ) from None


def block_pattern(arch: Architecture, suffixes: list[str] | tuple[str, ...]) -> str:
    """A regular expression that fully matches the named modules of every block (peft's target syntax)."""
    alternatives = "|".join(re.escape(s) for s in dict.fromkeys(suffixes))
    return rf"(?:.*\.)?{arch.block}\.(?:{alternatives})"


def in_block(arch: Architecture, name: str, suffixes: list[str] | tuple[str, ...]) -> bool:
    return re.fullmatch(block_pattern(arch, suffixes), name) is not None
