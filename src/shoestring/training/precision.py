"""Arithmetic precision of a transformer's matrix products: float32, or bfloat16 under ``torch.autocast``.

bfloat16 keeps float32's exponent range with an 8-bit mantissa, so mixed-precision training needs no loss scaling.
The weights, their gradients and the optimizer state stay float32; under autocast the matrix products run in bf16,
and so (on the CPU) do the element-wise ops that take their output - layer norm, softmax, GELU, the L2 normalization
of sentence vectors - while the losses autocast lists, such as cross-entropy, are computed in float32. It pays only
where the hardware multiplies bf16 natively: CPUs with AVX512-BF16 (AMD Zen 4, Intel Cooper Lake and later) or AMX
(Intel Sapphire Rapids and later), and CUDA GPUs from Ampere on. Elsewhere bf16 is emulated, usually slower than
float32.

Measured with all-MiniLM-L6-v2 on ag_news, one thread of a 2-vCPU AMD EPYC with AVX512-BF16
(benchmarks/precision.py, docs/benchmarks.md): a contrastive fine-tuning step 1.6x as fast as in float32,
embedding 1.75x as fast, each text's vector at cosine 0.99997 or more to its float32 one.

``precision`` is ``"fp32"``, ``"bf16"`` or ``"auto"`` (bf16 where the device computes it natively, else fp32).
"""

from __future__ import annotations

import contextlib

PRECISIONS = ("fp32", "bf16", "auto")


def native_bf16(device) -> bool:
    """Whether ``device`` (a ``torch.device`` or its type, ``"cpu"``/``"cuda"``) multiplies bf16 natively."""
    import torch

    kind = getattr(device, "type", str(device)).split(":")[0]
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if kind == "cpu":
        cpu = torch.cpu
        return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                    or getattr(cpu, "_is_amx_tile_supported", lambda: False)())
    return False


def resolve(precision: str, device) -> str:
    """``"bf16"`` or ``"fp32"``: what ``precision`` means on ``device``."""
    if precision not in PRECISIONS:
        from shoestring.errors import ConfigError

        raise ConfigError(f"unknown precision {precision!r}", hint=f"use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def autocast(precision: str, device):
    """A context under which ``device``'s matrix products run in ``precision`` (a no-op for fp32)."""
    import torch

    kind = getattr(device, "type", str(device)).split(":")[0]
    if resolve(precision, device) == "fp32" or kind not in ("cpu", "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(kind, dtype=torch.bfloat16)
