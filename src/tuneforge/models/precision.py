"""Numeric precision: fp32, bf16 autocast, fp16 autocast with loss scaling, or ``auto`` (bf16 where the
hardware does it well, else fp32).

``fp16`` is for GPUs without bf16 (CUDA before Ampere: V100, T4): autocast to float16 plus a
``torch.amp.GradScaler`` in the trainer. It also runs on CPU (torch's CPU autocast has float16),
but CPUs gain nothing from it; ``auto`` never picks it."""
from __future__ import annotations

from functools import lru_cache

import torch


@lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """True when the CPU has bf16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32``/``bf16`` as asked; ``auto`` -> bf16 on recent GPUs and bf16-capable CPUs, else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


def autocast_dtype(precision: str):
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
