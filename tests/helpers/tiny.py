"""Tiny models built offline from configs, for fast tests across tuneforge.

Each builder writes a small, randomly initialised (but seeded, hence repeatable)
model into ``path`` and returns what a recipe needs to point at it:

* ``tiny_bert(path)``  -> folder: BERT, 2 layers, hidden 32, word-level vocabulary + fast tokenizer
* ``tiny_vit(path)``   -> folder: ViT, 32x32 images, patch 8, 2 layers, hidden 32 + image processor
* ``tiny_llama(path)`` -> folder: Llama, 2 layers, hidden 32, word-level tokenizer without a pad token
* ``tiny_wav2vec2(path)`` -> folder: wav2vec2, 2 layers, hidden 32, small conv stack + feature extractor
* ``tiny_timm_cnn(path)`` -> weights file of timm's ``test_efficientnet`` (BatchNorm, ~100k
  parameters); use it as ``model: {name: "timm:test_efficientnet", weights: <file>}``

Example::

    from helpers.tiny import tiny_bert
    folder = tiny_bert(tmp_path / "bert")
    recipe.model.name = str(folder)
"""
from __future__ import annotations

from pathlib import Path

import torch

TINY_TIMM_ARCH = "test_efficientnet"

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

WORDS = """
the of and to a in is it you that he was for on are with as his they be at one have this from
or had by not word but what some we can out other were all there when up use your how said an
each she which do their time if will way about many then them write would like so these her long
make thing see him two has look more day could go come did number sound no most people my over
know water than call first who may down side been now find any new work part take get place made
live where after back little only round man year came show every good me give our under name very
through just form sentence great think say help low line differ turn cause much mean before move
right boy old too same tell does set three want air well also play small end put home read hand
port large spell add even land here must big high such follow act why ask men change went light
kind off need house picture try us again animal point mother world near build self earth father
head stand own page should country found answer school grow study still learn plant cover food sun
four between state keep eye never last let thought city tree cross farm hard start might story saw
far sea draw left late run while press close night real life few north open seem together next
white children begin got walk example ease paper group always music those both mark often letter
until mile river car feet care second book carry took science eat room friend began idea fish
mountain stop once base hear horse cut sure watch color face wood main enough plain girl usual
young ready above ever red list though feel talk bird soon body dog family direct pose leave song
measure door product black short numeral class wind question happen complete ship area half rock
order fire south problem piece told knew pass since top whole king space heard best hour better
true during hundred five remember step early hold west ground interest reach fast verb sing listen
six table travel less morning ten simple several vowel toward war lay against pattern slow center
love person money serve appear road map rain rule govern pull cold notice voice unit power town
fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest correct
able pound done beauty drive stood contain front teach week final gave green quick develop ocean
warm free minute strong special mind behind clear tail produce fact street inch multiply nothing
course stay wheel full force blue object decide surface deep moon island foot system busy test
record boat common gold possible plane stead dry wonder laugh thousand ago ran check game shape
happy sad terrible awful wonderful excellent bad movie film loved hated boring amazing
""".split()


def _vocab() -> list[str]:
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
    words = list(dict.fromkeys(WORDS))
    return SPECIAL_TOKENS + chars + [w for w in words if w not in chars]


def tiny_bert(path) -> Path:
    """A 2-layer BERT (hidden 32, 2 heads) and its BertTokenizerFast, saved in ``path``."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocab = _vocab()
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    tokenizer.save_pretrained(path)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(path)
    return path


def tiny_vit(path) -> Path:
    """A 2-layer ViT for 32x32 images (patch 8, hidden 32) and its image processor, in ``path``."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = ViTConfig(image_size=32, patch_size=8, num_hidden_layers=2, hidden_size=32,
                       num_attention_heads=2, intermediate_size=64)
    torch.manual_seed(0)
    ViTModel(config, add_pooling_layer=False).save_pretrained(path)
    ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5, 0.5, 0.5],
                      image_std=[0.5, 0.5, 0.5]).save_pretrained(path)
    return path


def tiny_llama(path) -> Path:
    """A 2-layer Llama (hidden 32) with a word-level tokenizer that has no pad token, in ``path``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import LlamaConfig, LlamaModel, PreTrainedTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocab = ["<unk>", "<s>", "</s>"] + _vocab()[len(SPECIAL_TOKENS):]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>",
                                        eos_token="</s>")
    tokenizer.save_pretrained(path)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
                         bos_token_id=1, eos_token_id=2, pad_token_id=None)
    torch.manual_seed(0)
    LlamaModel(config).save_pretrained(path)
    return path


def tiny_timm_cnn(path, arch: str = TINY_TIMM_ARCH) -> Path:
    """Weights of a small timm CNN with BatchNorm (ImageNet-shaped 1000-class head) as safetensors.

    Returns the weights file; the model name to use is ``f"timm:{arch}"``.
    """
    import timm
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    net = timm.create_model(arch, pretrained=False, num_classes=1000)
    file = path / f"{arch}.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(file))
    return file


def tiny_wav2vec2(path, rate: int = 16000) -> Path:
    """A 2-layer wav2vec2 (hidden 32, a 3-layer conv feature encoder with stride 80, so 200 frames per
    second at 16 kHz) and its feature extractor (``rate`` Hz, normalising, with attention masks), in ``path``."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            conv_dim=(16, 16, 16), conv_kernel=(10, 4, 4), conv_stride=(5, 4, 4),
                            feat_extract_norm="layer", num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                            classifier_proj_size=16, mask_time_prob=0.05, mask_time_length=2, layerdrop=0.0,
                            vocab_size=8)
    torch.manual_seed(0)
    Wav2Vec2Model(config).save_pretrained(path)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=rate, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(path)
    return path
