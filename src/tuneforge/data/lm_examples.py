"""Causal-LM examples: which columns a row is read from, and how it becomes tokens and labels.

Three kinds of rows (chosen by the recipe's ``data`` section):

* plain text (``text_column``, default ``text``): continued pre-training; every token is a target;
* a prompt/response pair (``prompt_column`` + ``response_column``);
* a chat (``messages_column``): a list of ``{role, content}`` messages.

Pairs and chats are written with the tokenizer's chat template (a plain ``prompt\\nresponse``
layout when the tokenizer has none), and by default only the response (assistant) tokens are
targets: every other label is ``-100``, the value the loss ignores (``data.train_on_prompt``
makes every token a target).

Example::

    ids, labels = encode_example(("2+2?", "4"), tokenizer, max_length=64, train_on_prompt=False)
"""
from __future__ import annotations

from typing import Any, Union

from ..errors import DataError
from .modality import MODALITIES, Modality

IGNORE = -100
Record = Union[str, tuple, list]   # text, (prompt, response), or a list of messages


def lm_columns(data) -> list[tuple[str, str]]:
    """``[(recipe key, column)]`` a causal-LM data section reads, the main one first."""
    if data.messages_column:
        return [("messages_column", data.messages_column)]
    if data.prompt_column or data.response_column:
        return [("prompt_column", data.prompt_column or "prompt"), ("response_column", data.response_column or "response")]
    return [("text_column", data.text_column or "text")]


def has_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def prompt_text(prompt: str, tokenizer) -> str:
    """The text a model is given to answer ``prompt`` (what generation starts from)."""
    if has_template(tokenizer):
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
    return f"{prompt}\n"


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _chat_pieces(messages: list, tokenizer) -> list[tuple[str, bool]]:
    """``[(text, is target)]`` pieces whose concatenation is the templated chat."""
    pieces, done = [], ""
    for i, m in enumerate(messages):
        if m.get("role") == "assistant":
            before = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True) \
                if i else ""
            upto = tokenizer.apply_chat_template(messages[:i + 1], tokenize=False)
            if not before.startswith(done) or not upto.startswith(before):
                raise DataError("the tokenizer's chat template does not write a chat as a growing prefix, so the "
                                "assistant turns cannot be located; set data.train_on_prompt: true")
            pieces += [(before[len(done):], False), (upto[len(before):], True)]
            done = upto
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if full[len(done):]:
        pieces.append((full[len(done):], False))
    return pieces


def _pieces(record: Record, tokenizer) -> list[tuple[str, bool]]:
    eos = tokenizer.eos_token or ""
    if isinstance(record, str):
        return [(record + eos, True)]
    if isinstance(record, tuple):
        prompt, response = record
        if has_template(tokenizer):
            return _chat_pieces([{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
                                tokenizer)
        return [(prompt_text(prompt, tokenizer), False), (response + eos, True)]
    if has_template(tokenizer):
        return _chat_pieces(list(record), tokenizer)
    return [(f"{m['content']}\n" + (eos if m.get("role") == "assistant" else ""), m.get("role") == "assistant")
            for m in record]


def encode_example(record: Record, tokenizer, max_length: int, train_on_prompt: bool) -> tuple[list[int], list[int]]:
    """``(token ids, labels)`` of one example, cut to ``max_length``; labels are ``-100`` where no loss is."""
    ids: list[int] = []
    labels: list[int] = []
    bos = getattr(tokenizer, "bos_token_id", None)
    if isinstance(record, str) and bos is not None and not has_template(tokenizer):
        ids, labels = [bos], [IGNORE]
    for text, target in _pieces(record, tokenizer):
        piece = _ids(tokenizer, text)
        ids += piece
        labels += piece if (target or train_on_prompt) else [IGNORE] * len(piece)
    return ids[:max_length], labels[:max_length]


def _messages(value: Any, where: str) -> list:
    if isinstance(value, str):
        import json
        try:
            value = json.loads(value)
        except ValueError:
            raise DataError(f"{where}: the messages cell is not a JSON list of {{role, content}}") from None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list) or not all(isinstance(m, dict) and "role" in m and "content" in m for m in value):
        raise DataError(f"{where}: messages must be a list of {{role, content}} mappings")
    if not any(m["role"] == "assistant" for m in value):
        raise DataError(f"{where}: the chat has no assistant message, so nothing would be learned from it")
    return [dict(m) for m in value]


class LanguageText(Modality):
    """Text a causal LM continues: plain text, prompt/response pairs, or chats (see the module docstring)."""

    name, default_column = "lm-text", "text"
    hf_example_head = "AutoModelForCausalLM"

    model_modality = "text"

    def column(self, data):
        return lm_columns(data)[0]

    def required_columns(self, data):
        return lm_columns(data)

    def inputs(self, parts, column, data):
        out = {}
        for role, p in parts.items():
            cols = lm_columns(data)
            if cols[0][0] == "text_column":
                out[role] = p.df[column].astype(str).tolist()
            elif cols[0][0] == "prompt_column":
                out[role] = list(zip(p.df[cols[0][1]].astype(str), p.df[cols[1][1]].astype(str)))
            else:
                out[role] = [_messages(v, p.where(i)) for i, v in zip(p.df.index, p.df[column])]
        return out

    def raw_inputs(self, values, data):
        """``predict`` inputs are prompts."""
        return [str(v) for v in values]


MODALITIES.register(LanguageText.name, "text for causal language models")(LanguageText())
