"""Causal-LM fine-tuning (``task: causal-lm``): continued pre-training on text, or instruction tuning.

Rows are plain text, prompt/response pairs or chats (:mod:`tuneforge.data.lm_examples`); the
model is the pre-trained ``*ForCausalLM`` with its own LM head (:mod:`tuneforge.models.causal_lm`);
the loss is next-token cross-entropy on the response tokens (every token for plain text). The
default strategy is LoRA. Evaluation: held-out perplexity with a bootstrap over examples; the
baseline is the pre-trained model itself (perplexity before); generated samples for a few
held-out prompts before and after, with exact match against the reference answers; retention is
the perplexity on a general reference text before and after. ``predict`` generates.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import DataError, RecipeError
from ..models.precision import autocast_dtype
from .base import Task, register
from ..data.cleaning import _missing, drop_rows
from ..data.columns import missing_column_message
from ..data.lm_examples import has_template, lm_columns
from ..data.lm_encode import encode_lm_split
from ..models.causal_lm import packing_problem
from ..models.causal_lm import load_causal_lm
from ..models.causal_lm import load_saved_causal_lm
from ..recipe.schema import GenerateSection
from ..evaluation.perplexity import lm_metrics
from ..evaluation.perplexity import lm_intervals
from ..evaluation.perplexity import lm_paired_bootstrap
from ..evaluation import predict_outputs
from ..evaluation.generation import exact_match, generate_for, held_out_prompts
from ..evaluation.generation import reference_perplexity


@register
class CausalLM(Task):
    """fine-tune a causal language model on text or instruction pairs (perplexity, generations)"""

    name, modality = "causal-lm", "lm-text"
    metric_kind = "language-model"
    problem_type = "causal_lm"
    baseline_name = "pre-trained model (before fine-tuning)"
    bootstrap_unit = "examples"
    default_strategy = "lora"
    learns_prompts = True
    example_mean_loss = False  # averaged over the tokens of the whole batch
    label_column_key = None
    summary_columns = ("perplexity", "nll")
    headline_metrics = ("perplexity", "nll")
    leaderboard_columns = ("perplexity",)

    # -- data ----------------------------------------------------------------------------------
    def check_data(self, data) -> list[str]:
        problems = []
        if bool(data.prompt_column) != bool(data.response_column) and not data.messages_column:
            problems.append("data.prompt_column and data.response_column go together: set both (instruction "
                            "pairs), or neither (plain text in data.text_column)")
        if data.messages_column and (data.prompt_column or data.response_column):
            problems.append("data.messages_column (chats) and data.prompt_column/response_column (pairs) exclude "
                            "each other: set one kind")
        return problems

    def clean_targets(self, df, label_column, data, source, lines, report):

        problems = self.check_data(data)
        if problems:
            raise DataError(problems[0])
        for key, column in lm_columns(data)[1:]:   # the main column was checked by the loader
            if column not in df.columns:
                raise DataError(missing_column_message(key, column, df.columns, source))
            df = drop_rows(df, df[column].map(_missing).astype(bool), "missing response", column, data.clean,
                           source, lines, report)
        return df

    def encode_targets(self, labels, names, declared, where) -> np.ndarray:
        return np.zeros(len(labels), dtype=np.float32)   # the targets are the tokens themselves

    def encode_split(self, split, model, data, role, seed, targets_transform=None):

        encoded = encode_lm_split(split, model, data, pack=data.packing and role == "train", seed=seed)
        if encoded.target_tokens == 0:
            raise DataError(f"the {role} split has no token to learn from: every response is empty or cut off "
                            f"by data.max_length={data.max_length} (raise it)")
        if encoded.packs is not None:
            problem = packing_problem(model, encoded)
            if problem:
                raise RecipeError(f"data.packing: {problem}")
        return encoded

    # -- model ---------------------------------------------------------------------------------
    def hf_auto_class(self) -> str:
        return "AutoModelForCausalLM"

    def build_model(self, section, label_names, image_size=None, keep_head=False, num_outputs=None):
        return load_causal_lm(section)

    def load_saved(self, folder, meta):
        model = load_saved_causal_lm(folder, meta.get("source", str(folder)), meta)
        recipe = (meta.get("extra") or {}).get("recipe") or {}
        model.generate_settings = GenerateSection(**recipe.get("generate", {}))
        return model

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, weights=None) -> torch.Tensor:
        """Mean next-token NLL over the batch's target tokens (``weights``, main's class balance, does not apply)."""
        return outputs[:, 0].sum() / outputs[:, 1].sum().clamp_min(1.0)

    # -- evaluation ----------------------------------------------------------------------------
    def metric_names(self) -> list[str]:
        return ["perplexity", "nll"]

    def compute_metrics(self, targets, outputs, label_names, decision=None) -> dict:
        return lm_metrics(outputs)

    def test_statistics(self, targets, outputs, label_names, evaluate, seed, decision=None) -> dict:
        return {"test_ci": lm_intervals(outputs, evaluate.bootstrap, evaluate.confidence, seed),
                "confidence": evaluate.confidence, "bootstrap": evaluate.bootstrap}

    def paired_bootstrap(self, targets, outputs_a, outputs_b, metric, resamples, confidence, seed) -> dict:
        return lm_paired_bootstrap(outputs_a, outputs_b, metric, resamples, confidence, seed)

    def majority_outputs(self, train_targets, n, label_names):
        raise NotImplementedError("a causal LM's baseline is the pre-trained model (own_baselines)")

    def own_baselines(self, p, eval_split, precision, device):
        """The pre-trained model itself: its perplexity (with interval), generations and reference perplexity."""

        ev, dtype = p.recipe.evaluate, autocast_dtype(precision)
        if not ev.baseline:
            return {}, {}, {}
        outputs = predict_outputs(p.model, p.encoded[eval_split], ev.batch_size, device, dtype)
        before = {**self.compute_metrics(None, outputs, None), "split": eval_split,
                  "ci": lm_intervals(outputs, ev.bootstrap, ev.confidence, p.recipe.train.seed),
                  **self._generations(p, "before"), "reference": self._reference(p, device, dtype)}
        return {}, before, {"probe": outputs}

    def extra_evaluation(self, p, run_dir, device, console) -> dict:
        import json

        dtype = None
        after = self._generations(p, "after")
        base_file = run_dir / "baseline.json"
        before = json.loads(base_file.read_text()).get("linear_probe", {}) if base_file.is_file() else {}
        out = {}
        if after.get("samples"):
            samples = [{**a, "before": b.get("before")} for a, b in
                       zip(after["samples"], before.get("samples") or [{}] * len(after["samples"]))]
            out["generation"] = {"settings": p.recipe.generate.model_dump(), "samples": samples,
                                 "exact_match": {"before": before.get("exact_match"),
                                                 "after": after.get("exact_match")}}
        ref_after = self._reference(p, device, dtype)
        ref_before = before.get("reference")
        out["retention"] = {"measure": "perplexity on a general reference text (lower is better)",
                            "source": ref_after.get("source"),
                            "before": ref_before.get("perplexity") if ref_before else None,
                            "after": ref_after.get("perplexity"),
                            "change": (ref_after["perplexity"] - ref_before["perplexity"]) if ref_before else None}
        return out

    def input_free_loss(self, model, train_targets) -> float:
        """A uniform guess over the vocabulary."""
        import math
        return math.log(model.net.get_input_embeddings().num_embeddings)

    def _held_out(self, p):
        split = p.data.test if p.data.test is not None else p.data.validation
        return split.inputs if split is not None else []

    def _generations(self, p, when: str) -> dict:

        prompts = held_out_prompts(self._held_out(p), p.recipe.generate.samples)
        if not prompts:
            return {}
        texts = generate_for(p.model, prompts, p.recipe.generate)
        samples = [{"prompt": q, "reference": r, when: t} for (q, r, _), t in zip(prompts, texts)]
        references = [r if instruction else None for _, r, instruction in prompts]  # plain text: no exact answer
        return {"samples": samples, "exact_match": exact_match(texts, references)}

    def _reference(self, p, device, dtype) -> dict:
        return reference_perplexity(p.model, p.recipe.evaluate.retention, p.recipe.data, p.recipe.evaluate.batch_size,
                                    device, dtype)

    # -- prediction ----------------------------------------------------------------------------
    def raw_predictions(self, model, inputs, data, batch_size) -> Optional[list[dict]]:

        settings = model.generate_settings or GenerateSection()
        texts = generate_for(model, [(str(x), None, True) for x in inputs], settings)
        return [{"prompt": str(x), "generated": t} for x, t in zip(inputs, texts)]

    def card_pipeline(self, folder, inputs, data, load_args):
        """Greedy (or sampled, as ``generate:`` says) text generation from a user prompt, templated as in
        training: the tokenizer's chat template when it has one, else the prompt and a new line."""
        from transformers import AutoTokenizer   # reads the saved tokenizer's template (no model weights)
        if not (Path(folder) / "config.json").is_file():
            return None
        settings = GenerateSection(**(self._recipe(folder).get("generate") or {}))
        sampling = (f"do_sample=True, temperature={settings.temperature}, top_p={settings.top_p}"
                    if settings.do_sample else "do_sample=False")
        chat = has_template(AutoTokenizer.from_pretrained(folder))
        prompts, how = (('[[{"role": "user", "content": p}] for p in prompts]', "the chat template")
                        if chat else ('[p + "\\n" for p in prompts]', "the prompt and a new line"))
        return [], [f'generator = pipeline("text-generation", model=MODEL{load_args})',
                    'prompts = ["Name three colours.", "What is the capital of France?"]',
                    f"outputs = generator({prompts},   # {how}, as in training",
                    f"                    max_new_tokens={settings.max_new_tokens}, {sampling}, return_full_text=False"
                    + ("" if chat else ", add_special_tokens=False") + ")",
                    'predictions = [o[0]["generated_text"].strip() for o in outputs]']

    @staticmethod
    def _recipe(folder) -> dict:
        meta = Path(folder) / "tuneforge.json"
        if not meta.is_file():
            return {}
        return ((json.loads(meta.read_text(encoding="utf-8")).get("extra") or {}).get("recipe") or {})

    def num_outputs(self, label_names) -> int:
        return 2   # per example: summed NLL, target tokens

    def predict_rows(self, outputs, label_names, decision=None):
        """Per example of a scored split: its perplexity and target tokens (``predict`` generates instead)."""
        out = np.asarray(outputs, dtype=np.float64).reshape(-1, 2)
        return [{"perplexity": float(np.exp(s / n)) if n > 0 else None, "tokens": int(n)} for s, n in out]

    def format_prediction(self, row: dict) -> tuple[str, str]:
        if "generated" in row:
            return row["generated"], ""
        return f"perplexity {row['perplexity']}", f"{row['tokens']} tokens"
