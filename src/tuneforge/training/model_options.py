"""Options that change how the network runs, not what it computes: gradient checkpointing, torch.compile.

``train.gradient_checkpointing: true`` keeps only each layer's input during the forward pass
and recomputes the layer in the backward pass: activation memory falls from one set per
layer to about one layer's, for roughly one extra forward pass of compute. Hugging Face
models use ``activation_checkpointing_enable`` (transformers 5; ``gradient_checkpointing_enable``
before) with ``use_reentrant=False``, the variant that gives exact gradients for frozen
inputs and parameters (a LoRA base model, a frozen embedding); timm models use
``set_grad_checkpointing``, whose checkpoints are non-reentrant by default. Only layers in
training mode are checkpointed, so frozen blocks kept in eval mode cost nothing extra, and
the frozen-prefix cache stays exact (its probe compares outputs before it is used).

``train.compile: true`` compiles the network's forward with ``torch.compile``
(``train.compile_backend``: ``inductor`` generates fused kernels and needs a C compiler on
CPU; ``aot_eager`` and ``eager`` only trace, for checking that a model compiles). It uses
``nn.Module.compile``, which compiles in place: ``model.net`` stays the same module with
the same parameter names, so checkpoints, ``model/`` and exports never see the
``_orig_mod.`` prefix of a ``torch.compile`` wrapper. The frozen-prefix cache is off under
compile (it swaps module outputs per batch, which a compiled graph would re-trace).

Both are applied by the run pipeline right after the strategy wrapped the model (adapters
are already in place), before the run folder exists, so an unsupported model is refused
up front.
"""
from __future__ import annotations

from ..errors import RecipeError


def apply_model_options(model, train) -> None:
    """Turn on ``train.gradient_checkpointing`` and ``train.compile`` on ``model.net`` (in place)."""
    if train.gradient_checkpointing:
        enable_gradient_checkpointing(model.net)
    if train.compile:
        model.net.compile(backend=train.compile_backend)


def enable_gradient_checkpointing(net) -> None:
    """Non-reentrant activation checkpointing on a transformers or timm network; RecipeError if it has none."""
    if hasattr(net, "supports_gradient_checkpointing"):  # transformers
        if not net.supports_gradient_checkpointing:
            raise RecipeError(f"train.gradient_checkpointing: {type(net).__name__} does not support gradient "
                              f"checkpointing in transformers; remove it")
        kwargs = {"use_reentrant": False}
        if hasattr(net, "activation_checkpointing_enable"):  # transformers 5
            net.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            net.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        # transformers also hooks the embeddings so that their output requires grad: only reentrant
        # checkpoints need that, and the hook would keep the frozen-prefix cache off
        net.disable_input_require_grads()
    elif hasattr(net, "set_grad_checkpointing"):  # timm
        try:
            net.set_grad_checkpointing(True)
        except (NotImplementedError, AssertionError) as e:
            raise RecipeError(f"train.gradient_checkpointing: the timm model {type(net).__name__} does not "
                              f"support it ({e}); remove it") from None
    else:
        raise RecipeError(f"train.gradient_checkpointing: {type(net).__name__} has no gradient checkpointing "
                          f"(neither a transformers nor a timm model); remove it")


def is_checkpointing(net) -> bool:
    """Whether gradient checkpointing is on (transformers' per-layer flags, or timm's model flag)."""
    if getattr(net, "grad_checkpointing", False):
        return True
    return any(getattr(m, "gradient_checkpointing", False) is True for m in net.modules())
