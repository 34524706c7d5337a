"""Choosing a torch device and precision."""

from __future__ import annotations

import torch

from fcnviewer.core.errors import UserError
from fcnviewer.core.names import DEVICES, PRECISIONS


class DeviceError(UserError, ValueError):
    """A device was chosen that this machine does not have."""


def available_devices() -> tuple[str, ...]:
    """The names of :data:`DEVICES` that this machine has (``auto`` and ``cpu`` always)."""
    present = {"auto": True, "cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    return tuple(name for name in DEVICES if present.get(name, False))


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
        raise DeviceError(
            f"device {name!r} was chosen, but CUDA is not available here (no NVIDIA GPU that this PyTorch "
            "can use): choose cpu or auto"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(
            f"device {name!r} was chosen, but MPS is not available here (it needs an Apple-silicon Mac): "
            "choose cpu or auto"
        )
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


__all__ = ["PRECISIONS", "DeviceError", "available_devices", "cpu_has_bfloat16", "default_dtype", "resolve_device"]
