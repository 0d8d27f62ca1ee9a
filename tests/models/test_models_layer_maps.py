"""Layer maps: block order, every parameter in exactly one block, the head is the new head."""
from __future__ import annotations

import pytest
import timm
import torch
from torch import nn
from transformers import (BertConfig, BertForSequenceClassification, DistilBertConfig,
                          DistilBertForSequenceClassification, GPT2Config, GPT2ForSequenceClassification,
                          LlamaConfig, LlamaForSequenceClassification, RobertaConfig,
                          RobertaForSequenceClassification, ViTConfig, ViTForImageClassification)

from tuneforge.models import build_layer_map

SMALL = dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64)


def _check_partition(net: nn.Module, layer_map) -> None:
    names = [n for n, _ in net.named_parameters()]
    assigned = [p for b in layer_map.blocks for p in b.params]
    assert sorted(assigned) == sorted(names)          # each parameter exactly once
    assert len(set(assigned)) == len(assigned)
    assert all(b.params for b in layer_map.blocks)    # no empty block


HF_CASES = [
    (lambda: BertForSequenceClassification(BertConfig(vocab_size=50, num_labels=3, **SMALL)), "bert",
     ["embeddings", "encoder.layer.0", "encoder.layer.1", "head"], {"classifier.weight", "classifier.bias"}),
    (lambda: RobertaForSequenceClassification(RobertaConfig(vocab_size=50, num_labels=3, **SMALL)), "bert",
     ["embeddings", "encoder.layer.0", "encoder.layer.1", "head"], {"classifier.out_proj.weight"}),
    (lambda: DistilBertForSequenceClassification(DistilBertConfig(vocab_size=50, n_layers=2, dim=32, n_heads=2,
                                                                  hidden_dim=64)), "bert",
     ["embeddings", "transformer.layer.0", "transformer.layer.1", "head"], {"classifier.weight"}),
    (lambda: ViTForImageClassification(ViTConfig(image_size=32, patch_size=8, num_labels=3, **SMALL)), "vit",
     ["embeddings", "layers.0", "layers.1", "head"], {"classifier.weight", "vit.layernorm.weight"}),
    (lambda: LlamaForSequenceClassification(LlamaConfig(vocab_size=50, num_key_value_heads=1, **SMALL)), "llama",
     ["embeddings", "layers.0", "layers.1", "head"], {"score.weight", "model.norm.weight"}),
    (lambda: GPT2ForSequenceClassification(GPT2Config(vocab_size=50, n_layer=2, n_embd=32, n_head=2,
                                                      bos_token_id=0, eos_token_id=0)), "gpt2",
     ["embeddings", "h.0", "h.1", "head"], {"score.weight", "transformer.ln_f.weight"}),
]


@pytest.mark.parametrize("build, family, names, in_head", HF_CASES)
def test_hf_families(build, family, names, in_head):
    torch.manual_seed(0)
    net = build()
    layer_map = build_layer_map(net, "hf")
    assert layer_map.family == family
    assert layer_map.names() == names
    assert [b.role for b in layer_map.blocks] == ["embed", "body", "body", "head"]
    assert layer_map.num_body_blocks == 2
    _check_partition(net, layer_map)
    assert in_head <= set(layer_map.head.params)
    # nothing of the backbone's layers leaks into the head
    assert not any(".layer." in p or ".layers." in p or ".h." in p for p in layer_map.head.params)


def test_gpt2_embeddings_hold_token_and_position_tables():
    net = GPT2ForSequenceClassification(GPT2Config(vocab_size=50, n_layer=2, n_embd=32, n_head=2))
    assert set(build_layer_map(net, "hf").blocks[0].params) == {"transformer.wte.weight", "transformer.wpe.weight"}


@pytest.mark.parametrize("arch, names", [
    ("test_efficientnet", ["stem", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4", "neck", "head"]),
    ("test_resnet", ["stem", "layer1", "layer2", "layer3", "layer4", "head"]),
    ("test_convnext", ["stem", "stages.0", "stages.1", "stages.2", "stages.3", "neck", "head"]),
    ("test_vit", ["stem"] + [f"blocks.{i}" for i in range(6)] + ["neck", "head"]),
])
def test_timm_families(arch, names):
    net = timm.create_model(arch, pretrained=False, num_classes=3)
    layer_map = build_layer_map(net, "timm")
    assert layer_map.family == "timm"
    assert layer_map.names() == names
    _check_partition(net, layer_map)
    classifier = net.pretrained_cfg["classifier"]
    assert set(layer_map.head.params) == {f"{classifier}.weight", f"{classifier}.bias"}
    assert layer_map.num_body_blocks == sum(n not in ("stem", "neck", "head") for n in names)


def test_timm_modules_let_batchnorm_be_found_per_block():
    net = timm.create_model("test_efficientnet", pretrained=False, num_classes=3)
    layer_map = build_layer_map(net, "timm")
    by_name = {b.name: b for b in layer_map.blocks}
    assert "bn1" in by_name["stem"].modules and "bn2" in by_name["neck"].modules
    bns = [m for m in by_name["blocks.1"].modules if isinstance(net.get_submodule(m), nn.BatchNorm2d)]
    assert bns and all(m.startswith("blocks.1.") for m in bns)
    # every BatchNorm of the network is listed in exactly one block
    all_bn = {n for n, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)}
    listed = [m for b in layer_map.blocks for m in b.modules if m in all_bn]
    assert sorted(listed) == sorted(all_bn)


def test_generic_fallback_uses_top_level_children():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Linear(8, 2))
    layer_map = build_layer_map(net, "something-else")
    assert layer_map.family == "generic"
    assert layer_map.names() == ["0", "2", "3"]
    assert layer_map.head.params == ["3.weight", "3.bias"]
    _check_partition(net, layer_map)
    assert layer_map.head.modules == ["3"]
