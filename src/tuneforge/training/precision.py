"""Numeric precision: fp32, bf16 autocast, or ``auto`` (bf16 where the hardware does it well)."""
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
    return torch.bfloat16 if precision == "bf16" else None
