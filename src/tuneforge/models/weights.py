"""Read a user's weights file without running code from it.

``.safetensors`` files are read with safetensors; ``.pth``/``.pt``/``.bin``/``.ckpt``
files with ``torch.load(..., weights_only=True)``, which refuses pickled objects
other than tensors and plain containers. Never plain pickle: a weights file from
the internet must not be able to run code.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ..errors import ModelError

TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
_WRAPPERS = ("state_dict", "model", "model_state", "model_state_dict", "module", "ema")


def read_state_dict(file, what: str = "model.weights") -> dict[str, torch.Tensor]:
    """The tensors of a weights file, keyed by name (``what`` names the setting, for messages).

    Checkpoints that wrap the weights (``{"state_dict": {...}}``) are unwrapped and a
    ``module.`` prefix (left by DistributedDataParallel) is removed.

    Example::

        sd = read_state_dict("resnet.safetensors")
    """
    path = Path(file).expanduser()
    if not path.is_file():
        raise ModelError(f"{what}: weights file {str(path)!r} does not exist; give the path of a local "
                         ".safetensors or .pth file")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            state = load_file(str(path), device="cpu")
        except Exception as e:  # safetensors raises its own error types
            raise ModelError(f"{what}: {str(path)!r} is not a readable safetensors file ({e})") from None
    elif suffix in TORCH_SUFFIXES:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"{what}: {str(path)!r} could not be read as plain tensors ({first}); tuneforge "
                             "only loads weights safely, so save the state dict alone or convert it to "
                             ".safetensors") from None
    else:
        raise ModelError(f"{what}: {str(path)!r} has an unknown weights format; use .safetensors "
                         f"or one of {', '.join(TORCH_SUFFIXES)}")
    return _unwrap(state, path, what)


def _unwrap(state, path: Path, what: str) -> dict[str, torch.Tensor]:
    while isinstance(state, dict) and not any(isinstance(v, torch.Tensor) for v in state.values()):
        inner = next((state[k] for k in _WRAPPERS if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict) or not state:
        raise ModelError(f"{what}: {str(path)!r} holds no state dict (name -> tensor)")
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ModelError(f"{what}: {str(path)!r} holds no tensors")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors
