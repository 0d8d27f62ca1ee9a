"""Learning without Forgetting (Li & Hoiem 2016): keep the pre-trained model's own outputs.

A frozen copy of the pre-trained model (the teacher) sees the same training batches as the
model being fine-tuned (the student); the penalty keeps the student's outputs close to the
teacher's, so the model keeps doing what it did before while it learns the new task.

- ``target: logits`` (vision models with an original classifier, e.g. ImageNet): the
  student's pre-head features go through the *original* classifier (frozen), and the
  penalty is ``weight * T^2 * KL(teacher || student)`` of the predictions softened by the
  ``temperature`` T.
- ``target: features`` (text encoders, or models without an original classifier): the
  penalty is ``weight * MSE`` (or ``1 - cosine``, ``feature_loss: cosine``) between the
  pooled embeddings of teacher and student: mean over real tokens of the last hidden state
  for text (the sentence embedding), the input of the task head for images.
- ``target: auto`` (default): logits when the model is an image model whose original
  classifier can be loaded (timm weights with their head, or ``original_outputs`` given),
  features otherwise.

In a continual sequence (docs/continual.md) the teacher is the previous step's model (the model
as the step starts), compared on features: that is Learning without Forgetting across tasks.

The student's features are captured with a forward hook during the training forward, so
the student is not run twice; only the teacher adds one forward (without gradients).

Example recipe::

    regularisers: [{name: distillation, weight: 1.0, temperature: 2.0}]
"""
from __future__ import annotations

import copy
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from pydantic import Field

from ..data.modalities import MODALITIES
from ..errors import TuneforgeError
from .base import REGULARISERS, Regulariser, RegulariserOptions
from ..models import load_task_model


class DistillationOptions(RegulariserOptions):
    temperature: float = Field(2.0, gt=0, description="softening temperature of the logits (target: logits)")
    target: Literal["auto", "logits", "features"] = Field("auto", description="what to keep close: the original "
                                                                              "head's logits or pooled features")
    feature_loss: Literal["mse", "cosine"] = Field("mse", description="distance between features")
    original_outputs: Optional[int] = Field(None, ge=1, description="outputs of the original classifier "
                                                                    "(default: timm's pretrained_cfg)")


@REGULARISERS.register("distillation", "LwF: keep the pre-trained model's own outputs (logits or embeddings)")
class Distillation(Regulariser):
    name = "distillation"
    Options = DistillationOptions

    def setup(self, model, context=None) -> None:
        o = self.options
        self.teacher, self.original_head = None, None
        continual = getattr(context, "continual", None) is not None  # teacher: the previous step's model
        inputs = MODALITIES.get(model.modality)   # image models come with their original classifier
        if o.target in ("auto", "logits") and inputs.original_classifier and not continual:
            self.teacher = _original_model(model, context, o.original_outputs)
            if self.teacher is None and o.target == "logits":
                raise TuneforgeError("regularisers[distillation].target: 'logits' needs the model's original "
                                     "classifier, which could not be loaded; use target: features")
        self.mode = "logits" if self.teacher is not None else "features"
        if self.teacher is None:
            self.teacher = copy.deepcopy(model)
        else:
            self.original_head = self.teacher.net.get_submodule(self.teacher.head_linear_name)
        self.teacher.eval().requires_grad_(False)
        self._captured: Optional[torch.Tensor] = None
        self._teacher_captured: Optional[torch.Tensor] = None
        self._hooks = [_capture(model, self, "_captured", text=inputs.token_states),
                       _capture(self.teacher, self, "_teacher_captured", text=inputs.token_states)]

    def penalty(self, model, batch, outputs):
        student = self._captured
        if student is None:
            raise RuntimeError("distillation: the student's features were not captured in this forward")
        self._captured = None
        if next(self.teacher.parameters()).device != outputs.device:
            self.teacher.to(outputs.device)
        with torch.no_grad():
            self.teacher(batch)
        teacher = self._teacher_captured.detach()
        if MODALITIES.get(model.modality).token_states:   # mean over the tokens the attention mask keeps
            mask = batch["attention_mask"].unsqueeze(-1).to(student.dtype)
            student = (student * mask).sum(1) / mask.sum(1).clamp_min(1.0)
            teacher = (teacher * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        o = self.options
        if self.mode == "logits":
            t = o.temperature
            log_p_student = F.log_softmax(self.original_head(student).float() / t, -1)
            p_teacher = F.softmax(self.original_head(teacher).float() / t, -1)
            return o.weight * t * t * F.kl_div(log_p_student, p_teacher, reduction="batchmean")
        if o.feature_loss == "cosine":
            return o.weight * (1 - F.cosine_similarity(student.float(), teacher.float(), dim=-1)).mean()
        return o.weight * F.mse_loss(student.float(), teacher.float())

    def remove(self) -> None:
        """Detach the hooks from the student (the teacher is dropped with the regulariser)."""
        for h in self._hooks:
            h.remove()


def _capture(model, owner, attr: str, text: bool):
    """Keep, on ``owner.attr``, what the penalty compares: the last hidden state (text) or the head's input."""
    if text:
        def keep_output(_module, _args, output):
            hidden = output[0] if isinstance(output, tuple) else output.last_hidden_state
            setattr(owner, attr, hidden)
        return model.net.base_model.register_forward_hook(keep_output)

    def keep_input(_module, args):
        setattr(owner, attr, args[0])
    return model.net.get_submodule(model.head_linear_name).register_forward_pre_hook(keep_input)


def _original_model(model, context, outputs: Optional[int]):
    """The pre-trained model with its own classifier, or None when it cannot be had."""
    if context is None or model.head_linear_name is None:
        return None
    if outputs is None:
        cfg = getattr(model.net, "pretrained_cfg", None) or {}
        outputs = cfg.get("num_classes") if model.kind == "timm" else None
    if not outputs:
        return None

    try:
        return load_task_model(context.recipe.model, model.modality, outputs, None, regression=False,
                               image_size=context.recipe.data.image_size, keep_head=True)
    except TuneforgeError:
        return None
