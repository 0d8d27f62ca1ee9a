"""A causal language model behind the TaskModel interface: its own LM head, per-example losses, generation.

``forward(batch)`` returns ``[B, 2]``: per row, the summed next-token negative log-likelihood over
the tokens whose label is not ``-100``, and how many such tokens there are. The training loss is
their ratio over the batch, and evaluation keeps these two numbers per example, so perplexity and
its bootstrap over examples need no logits (see :mod:`tuneforge.evaluation.perplexity`).

Only the positions that carry a loss go through the LM head (:func:`target_nll`): the decoder's
last hidden states are gathered at the target tokens first, so a batch never holds ``[B, T, vocab]``
logits (with SmolLM2's 49,152-token vocabulary, 0.8 GB in fp32 for 16 rows of 256 tokens, and as much
again for their gradient), and the prompt tokens of instruction data cost no head matmul. Whether a
model's logits are its LM head applied to its decoder's output (no soft-capping or scaling after the
head) is checked once, on the loaded model, against the full logits (:func:`head_on_targets_agrees`);
a model that fails, a prompt-learning wrapper and a compiled network take the full-logits path.

A packed batch (``segment_ids`` / ``position_ids``, see :mod:`tuneforge.data.lm_encode`) gets a
4-D block-diagonal causal mask: a token attends only to earlier tokens of its own example.
:func:`packing_problem` checks, on the loaded model, that this is honoured (packed and unpacked
losses agree); a model that ignores it is refused rather than left to leak attention.

The model keeps its pre-trained LM head (tied to the input embeddings in SmolLM2): there is no new
head to solve or warm up.

Under prompt tuning or prefix tuning (:mod:`tuneforge.strategies.prompt_learning`) ``net`` is peft's
``PeftModelForCausalLM`` around the pre-trained network; ``virtual_tokens`` leading positions of its
logits belong to the soft prompt and are dropped before the loss. Such a model is saved as the
unchanged pre-trained network (``exported_net``) plus the prompt in ``prompt/`` (``save_parts``), and
:func:`load_saved_causal_lm` puts the prompt back.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from ..errors import ModelError
from .task_model import TaskModel
from .loading import resolve
from .families import build_layer_map
from .hf_loading import _first_line, _tokenizer, quiet_transformers, set_dropout
from ..data.lm_encode import LMEncodedSplit

IGNORE = -100
PROMPT_DIR = "prompt"      # model/prompt: the learnt prompt or prefix of a prompt-learning run (a peft folder)
PACKING_TOLERANCE = 1e-4   # nats per target token: float32 noise is ~1e-6; a leak on a tiny random Llama ~1e-2


def token_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``[B, 2]``: summed next-token NLL and target-token count per row (labels aligned with inputs)."""
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE,
                          reduction="none").view(labels.shape)
    return torch.stack([nll.sum(1), (labels != IGNORE).sum(1).to(nll.dtype)], dim=1)


def target_nll(hidden: torch.Tensor, head, labels: torch.Tensor) -> torch.Tensor:
    """:func:`token_nll` from the decoder's last hidden states ``[B, T, D]``, with the LM head applied only
    at positions whose next token is a target."""
    hidden, labels = hidden[:, :-1], labels[:, 1:]
    keep = labels != IGNORE
    rows = keep.nonzero()[:, 0]
    logits = head(hidden[keep]).float()
    nll = F.cross_entropy(logits, labels[keep], reduction="none")
    sums = torch.zeros(labels.shape[0], dtype=nll.dtype, device=nll.device).index_add(0, rows, nll)
    return torch.stack([sums, keep.sum(1).to(nll.dtype)], dim=1)


def packed_mask(segment_ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive ``[B, 1, T, T]`` mask: query i sees key j when j <= i in the same example (padding sees itself)."""
    t = segment_ids.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=segment_ids.device).tril()
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    allowed = (causal & same) | torch.eye(t, dtype=torch.bool, device=segment_ids.device)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=segment_ids.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]


class CausalLMModel(TaskModel):
    """A Hugging Face ``*ForCausalLM`` network and its tokenizer (see the module docstring)."""

    new_head = False   # the pre-trained LM head is kept: adapters do not retrain it, no head is solved
    virtual_tokens = 0  # leading logit positions of a learnt soft prompt (prompt tuning), dropped before the loss
    head_on_targets = False  # set by head_on_targets_agrees on the loaded model: see the module docstring
    generate_settings = None  # the saved run's `generate` section (a GenerateSection), set by the task's load_saved

    def _decoder_and_head(self):
        """``(decoder, lm_head)`` of the network as it is now wrapped, or None where the decoder cannot be
        called on its own (a prompt-learning wrapper adds virtual tokens; a compiled network's graph is
        its whole forward)."""
        net = self.net
        if self.prompt_learning or getattr(net, "_compiled_call_impl", None) is not None:
            return None
        decoder, head = net.get_decoder(), net.get_output_embeddings()
        return None if decoder is None or decoder is net or head is None else (decoder, head)

    def forward(self, batch: dict) -> torch.Tensor:
        kwargs = {"input_ids": batch["input_ids"]}
        if "segment_ids" in batch:
            dtype = self.net.get_input_embeddings().weight.dtype
            if torch.is_autocast_enabled(batch["input_ids"].device.type):
                dtype = torch.get_autocast_dtype(batch["input_ids"].device.type)
            kwargs["attention_mask"] = packed_mask(batch["segment_ids"], dtype)
            kwargs["position_ids"] = batch["position_ids"]
        else:
            kwargs["attention_mask"] = batch["attention_mask"]
        parts = self._decoder_and_head() if self.head_on_targets else None
        if parts is not None:
            return target_nll(parts[0](**kwargs).last_hidden_state, parts[1], batch["targets"])
        logits = self.net(**kwargs).logits
        return token_nll(logits[:, self.virtual_tokens:], batch["targets"])

    @property
    def prompt_learning(self) -> bool:
        """Whether ``net`` is peft's prompt-learning wrapper (prompt or prefix tuning)."""
        config = getattr(self.net, "active_peft_config", None)
        return bool(getattr(config, "is_prompt_learning", False))

    def exported_net(self):
        """The network ``model/`` holds: the pre-trained one, unchanged, under prompt learning (nothing merges)."""
        return self.net.get_base_model() if self.prompt_learning else self.net

    def save_parts(self, folder) -> dict:
        """Write the learnt prompt into ``folder/prompt`` (a peft folder); what ``tuneforge.json`` records of it."""
        if not self.prompt_learning:
            return {}
        self.net.save_pretrained(str(Path(folder) / PROMPT_DIR))
        return {"prompt_adapter": PROMPT_DIR, "prompt_method": str(self.net.active_peft_config.peft_type.value)}

    def features(self, batch: dict) -> torch.Tensor:
        raise NotImplementedError("a causal LM has no pooled features; its baseline is the pre-trained model")

    @torch.no_grad()
    def generate(self, prompts: list[str], settings) -> list[str]:
        """The text generated after each (already templated) prompt, with ``settings`` (recipe.generate)."""
        tok, device = self.preprocessor, next(self.net.parameters()).device
        was = self.net.training
        self.net.eval()
        old_side = tok.padding_side
        tok.padding_side = "left"
        out = []
        # peft ignores position ids under prompt tuning, so a left-padded row would see its tokens at shifted
        # positions: a prompt-learning model generates one prompt at a time, as a user of the adapter would
        size = 1 if self.prompt_learning else 8
        try:
            for start in range(0, len(prompts), size):
                enc = tok(prompts[start:start + size], return_tensors="pt", padding=True, add_special_tokens=False)
                enc = {k: v.to(device) for k, v in enc.items()}
                extra = dict(do_sample=True, temperature=settings.temperature, top_p=settings.top_p) \
                    if settings.do_sample else dict(do_sample=False)
                ids = self.net.generate(**enc, max_new_tokens=settings.max_new_tokens, pad_token_id=tok.pad_token_id,
                                        eos_token_id=tok.eos_token_id, **extra)
                width = enc["input_ids"].shape[1]
                out += [tok.decode(row[width:], skip_special_tokens=True).strip() for row in ids]
        finally:
            tok.padding_side = old_side
            self.net.train(was)
        return out


def load_causal_lm(section) -> CausalLMModel:
    """The pre-trained causal LM of a recipe's ``model`` section (alias, folder or cached hub id)."""

    spec, local_only = resolve(section)
    if spec.kind != "hf":
        raise ModelError(f"model.name {section.name!r}: causal-lm needs a Hugging Face language model, not timm")
    return _wrap(spec.path, section.name, dict(trust_remote_code=section.trust_remote_code, local_files_only=local_only),
                 section.dropout)


def _wrap(path, name: str, common: dict, dropout: Optional[float] = None) -> CausalLMModel:
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        with quiet_transformers():
            config = AutoConfig.from_pretrained(path, **common)
            if dropout is not None:
                set_dropout(config, dropout)
            net = AutoModelForCausalLM.from_pretrained(path, config=config, **common)
    except (OSError, ValueError) as e:
        raise ModelError(f"model.name {name!r}: no causal language model could be loaded ({_first_line(e)})") from None
    net.eval()
    tokenizer = _tokenizer(path, name, net, common)
    head = "lm_head" if hasattr(net, "lm_head") else None
    model = CausalLMModel(net, build_layer_map(net, "hf"), "hf", "lm-text", tokenizer, name, 1, head_linear=head)
    model.head_on_targets = head_on_targets_agrees(model)
    return model


@torch.no_grad()
def head_on_targets_agrees(model: CausalLMModel) -> bool:
    """Whether the LM head on the decoder's output at the target positions gives the network's own losses
    (False for a model that post-processes its logits, or whose decoder cannot be found)."""
    parts = model._decoder_and_head()
    if parts is None:
        return False
    try:
        ids = torch.arange(1, 9, device=next(model.net.parameters()).device).remainder(
            model.net.config.vocab_size).view(1, -1)
        mask, labels = torch.ones_like(ids), ids.clone()
        labels[:, :3] = IGNORE
        full = token_nll(model.net(input_ids=ids, attention_mask=mask).logits, labels)
        fast = target_nll(parts[0](input_ids=ids, attention_mask=mask).last_hidden_state, parts[1], labels)
        return bool(torch.allclose(full, fast, rtol=1e-4, atol=1e-4))
    except Exception:   # a decoder that wants other inputs: the full-logits path serves it
        return False


def load_saved_causal_lm(folder, source: str, meta: Optional[dict] = None) -> CausalLMModel:
    """A causal LM saved by tuneforge (``model/``): a plain transformers folder, plus its learnt prompt
    (``prompt/``) when ``tuneforge.json`` (``meta``) names one."""
    model = _wrap(str(folder), source, dict(local_files_only=True, trust_remote_code=False))
    prompt = (meta or {}).get("prompt_adapter")
    if prompt:
        from peft import PeftModel
        model.net = PeftModel.from_pretrained(model.net, str(Path(folder) / prompt)).eval()
        config = model.net.active_peft_config
        model.virtual_tokens = config.num_virtual_tokens if config.peft_type.value == "PROMPT_TUNING" else 0
    return model


@torch.no_grad()
def packing_problem(model: CausalLMModel, encoded) -> Optional[str]:
    """Why packing would leak attention across examples on this model, or None when it does not.

    Runs the first packed row that holds two or more examples both packed and one example per
    row, and compares the losses.
    """
    rows = [i for i, p in enumerate(encoded.packs or []) if len(p) > 1]
    if not rows:
        return None
    members = encoded.packs[rows[0]]
    single = LMEncodedSplit([encoded.token_ids[i] for i in members], [encoded.labels[i] for i in members],
                            encoded.pad_id)
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        packed = model({k: v.to(device) for k, v in encoded.batch([rows[0]]).items()}).sum(0)
        alone = model({k: v.to(device) for k, v in single.batch(list(range(len(members)))).items()}).sum(0)
    finally:
        model.train(was)
    per_token = abs(float(packed[0]) - float(alone[0])) / max(1.0, float(alone[1]))
    if float(packed[1]) != float(alone[1]) or per_token > PACKING_TOLERANCE:
        return (f"{type(model.net).__name__} does not honour a block-diagonal attention mask (packed loss "
                f"{float(packed[0] / packed[1]):.4f} vs {float(alone[0] / alone[1]):.4f} unpacked), so packed "
                "examples would attend to each other; set data.packing: false")
    return None
