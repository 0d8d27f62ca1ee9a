"""Measured matrix-product peak of this machine (GFLOP/s) in fp32 and bf16, for MFU figures."""
from __future__ import annotations

import time

import torch


def matmul_gflops(dtype: torch.dtype, n: int = 1024, seconds: float = 2.0) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        count += 1
    return 2 * n ** 3 * count / (time.perf_counter() - t0) / 1e9


if __name__ == "__main__":
    print({"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)})
