"""The one ordered map of a model's layers, from input to head.

Every strategy talks about "lower" and "upper" layers through this map only:
``blocks[0]`` is nearest the input (embeddings / stem), ``blocks[-1]`` is the
task head that tuneforge created. Each block lists the names of its parameters
(as in ``net.named_parameters()``) and its modules (for BatchNorm handling).
Every parameter of the network belongs to exactly one block.

Each block also carries a ``role``: "embed" (embeddings / stem), "body" (one of
the repeated blocks: an encoder layer, a decoder layer, a timm stage), "neck"
(what sits between the last body block and the head: a final norm, timm's
``conv_head``) or "head". ``num_body_blocks`` counts the "body" blocks only; it
is the number a recipe means by "the top k blocks".
"""
from __future__ import annotations

from dataclasses import dataclass, field

# the block name of a speech encoder's conv stack (wav2vec2, HuBERT), which strategy.freeze_feature_encoder keeps frozen
FEATURE_ENCODER = "feature_encoder"


@dataclass
class Block:
    name: str                                   # e.g. "embeddings", "encoder.layer.3", "head"
    params: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    role: str = "body"                          # "embed", "body", "neck" or "head"


@dataclass
class LayerMap:
    family: str                                 # "bert", "vit", "timm", "llama", "generic"...
    blocks: list[Block]

    @property
    def head(self) -> Block:
        return self.blocks[-1]

    @property
    def body(self) -> list[Block]:
        """Every block below the head, input first."""
        return self.blocks[:-1]

    @property
    def head_index(self) -> int:
        return len(self.blocks) - 1

    @property
    def num_body_blocks(self) -> int:
        """How many repeated blocks (encoder layers, timm stages...) the model has."""
        return sum(b.role == "body" for b in self.blocks)

    def names(self) -> list[str]:
        return [b.name for b in self.blocks]

    def block_of(self) -> dict[str, int]:
        """Parameter name -> block index."""
        return {p: i for i, b in enumerate(self.blocks) for p in b.params}

    def describe(self) -> list[dict]:
        return [{"index": i, "name": b.name, "role": b.role, "tensors": len(b.params)}
                for i, b in enumerate(self.blocks)]
