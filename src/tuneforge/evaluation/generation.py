"""What a causal LM writes: held-out prompts, generations before/after, exact match, reference perplexity.

* :func:`held_out_prompts`: up to ``n`` prompts (and reference answers) from an evaluation split:
  a pair's prompt and response, a chat's last user turn and the assistant's answer, or a plain
  text's first third of words (the rest is the reference).
* :func:`exact_match`: share of generations equal to the reference after trimming spaces and case
  (the check of a "fixed format" instruction set).
* :func:`reference_perplexity`: perplexity on a general reference text (``data/reference_text.txt``,
  or ``evaluate.retention.data``), before vs after measuring how much general language was forgotten.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from ..data.lm_examples import prompt_text
from ..data.packaged import resolve_source
from ..data.bundle import Split
from ..data.lm_encode import encode_lm_split
from .perplexity import lm_metrics
from .predict import predict_outputs

REFERENCE_TEXT = Path(__file__).resolve().parent.parent / "data" / "reference_text.txt"


def held_out_prompts(inputs: list, n: int) -> list[tuple[str, Optional[str], bool]]:
    """``[(prompt, reference, is an instruction)]`` for the first ``n`` examples."""
    out = []
    for record in inputs[:n]:
        if isinstance(record, tuple):
            out.append((record[0], record[1], True))
        elif isinstance(record, list):
            last = max(i for i, m in enumerate(record) if m["role"] == "assistant")
            users = [m for m in record[:last] if m["role"] == "user"]
            out.append((users[-1]["content"] if users else "", record[last]["content"], True))
        else:
            words = str(record).split()
            cut = max(1, len(words) // 3)
            out.append((" ".join(words[:cut]), " ".join(words[cut:]), False))
    return out


def generate_for(model, prompts: list[tuple[str, Optional[str], bool]], settings) -> list[str]:
    texts = [prompt_text(p, model.preprocessor) if instruction else p for p, _, instruction in prompts]
    return model.generate(texts, settings)


def _norm(text: Optional[str]) -> str:
    return " ".join(str(text or "").split()).strip().lower()


def exact_match(generated: list[str], references: list[Optional[str]]) -> Optional[float]:
    """Share of ``generated`` equal to their reference (spaces and case ignored); None without references."""
    pairs = [(g, r) for g, r in zip(generated, references) if r is not None]
    if not pairs:
        return None
    return float(np.mean([_norm(g) == _norm(r) for g, r in pairs]))


def reference_texts(retention) -> tuple[list[str], str]:
    """(paragraphs, where from): ``evaluate.retention.data`` (its text column) or the shipped text."""
    if retention is not None and retention.data:
        df, source, _ = resolve_source(retention.data)
        column = retention.text_column or "text"
        return [str(t) for t in df[column].dropna().tolist()][:retention.probe_size], source
    paragraphs = [p.strip() for p in REFERENCE_TEXT.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return paragraphs, "tuneforge's general reference text (data/reference_text.txt)"


def reference_perplexity(model, retention, data_section, batch_size: int, device, dtype=None) -> dict:
    """Perplexity of ``model`` on the reference text (every token a target, one example per paragraph)."""

    texts, source = reference_texts(retention)
    split = Split(texts, np.zeros(len(texts), dtype=np.float32))
    section = data_section.model_copy(update={"train_on_prompt": True})
    outputs = predict_outputs(model, encode_lm_split(split, model, section), batch_size, device, dtype)
    return {**lm_metrics(outputs), "source": source}
