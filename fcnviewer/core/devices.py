"""Choosing a torch device and precision."""

from __future__ import annotations

import torch

from fcnviewer.core.names import PRECISIONS


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA, then MPS, then CPU; otherwise the named device, checked to exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} asked for, but MPS is not available here")
    return device


def default_dtype(device: torch.device) -> torch.dtype:
    """The fast precision the hardware has: float16 on GPUs, bfloat16 on a CPU with native
    bfloat16 arithmetic (AVX512-BF16 or AMX), else float32."""
    if device.type in ("cuda", "mps"):
        return torch.float16
    return torch.bfloat16 if device.type == "cpu" and cpu_has_bfloat16() else torch.float32


def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (oneDNN then runs bfloat16 convolutions ~2x faster)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


__all__ = ["PRECISIONS", "cpu_has_bfloat16", "default_dtype", "resolve_device"]
