"""Device results to host numpy arrays, in one batch of copies and one wait.

On a CUDA device each ``tensor.cpu()`` is a blocking copy through pageable memory: a prediction's
labels, confidence and stage maps would wait for the GPU once per array, at half the bus's speed.
:func:`to_host` instead queues every copy into page-locked (pinned) host memory with
``non_blocking=True`` and waits once for the stream. Pinned blocks come from PyTorch's caching
host allocator, so after the first prediction they cost no system call; each array owns its own
block (a later prediction never overwrites an array handed out). On the CPU the arrays are
views of the tensors (no copy).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor


def to_host(tensors: Mapping[str, Tensor]) -> dict[str, np.ndarray]:
    """``{name: numpy array}`` of ``tensors`` (all on one device), copied together when on a GPU."""
    devices = {tensor.device for tensor in tensors.values()}
    if len(devices) > 1:
        raise ValueError(f"tensors on several devices: {sorted(map(str, devices))}")
    if not devices or devices.pop().type != "cuda":
        return {name: tensor.detach().cpu().numpy() for name, tensor in tensors.items()}
    host = {name: torch.empty(t.shape, dtype=t.dtype, pin_memory=True) for name, t in tensors.items()}
    for name, tensor in tensors.items():
        host[name].copy_(tensor.detach(), non_blocking=True)
    torch.cuda.current_stream(next(iter(tensors.values())).device).synchronize()
    return {name: buffer.numpy() for name, buffer in host.items()}
