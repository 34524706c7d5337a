"""Starting weights of a stage: from scratch (orthogonal + LSUV), or copied from the previous stage.

Each stage of the paper's schedule starts from the previous one: every tensor the two
networks share (the VGG layers, ``fc6``, ``fc7``, ``score_fr`` and, for the 8s,
``score_pool4`` and ``upscore2``) is copied, the new skip's score layer starts at zero (so
the new net initially computes exactly what the old one did) and the new deconvolutions
start as bilinear interpolation. A stage trained from scratch (no ImageNet VGG here)
starts from orthogonal, LSUV-scaled convolutions.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from fcnviewer.core.models.fcn_vgg import BACKBONE_PREFIXES


def init_from_scratch(model: nn.Module, sample: Tensor | None = None) -> None:
    """Initialise the backbone (``conv*``, ``fc6``, ``fc7``) of a network trained without ImageNet weights.

    Orthogonal filters with zero biases, then, when a ``sample`` input batch is given,
    layer-sequential unit-variance scaling (LSUV, Mishkin & Matas 2016): each layer in turn
    is rescaled so that its output has unit variance on the sample. PyTorch's default
    initialisation shrinks the signal ~6x in variance per layer, which a 16-layer net
    without normalisation does not survive. Score layers stay zero and deconvolutions
    bilinear, as ``FCNVGG.reset_parameters`` makes them.
    """
    layers = [m for n, m in model.named_children() if isinstance(m, nn.Conv2d) and n.startswith(BACKBONE_PREFIXES)]
    for module in layers:
        nn.init.orthogonal_(module.weight, gain=math.sqrt(2.0))
        nn.init.zeros_(module.bias)
    if sample is None:
        return
    was_training = model.training
    model.eval()
    captured: dict[str, Tensor] = {}

    def hook(_module: nn.Module, _inputs: Any, output: Tensor) -> None:
        captured["out"] = output.detach()

    with torch.no_grad():
        for module in layers:
            handle = module.register_forward_hook(hook)
            try:
                for _ in range(3):
                    model(sample)
                    std = float(captured["out"].std())
                    if not math.isfinite(std) or std < 1e-8 or abs(std - 1.0) < 0.05:
                        break
                    module.weight.div_(std)
            finally:
                handle.remove()
    model.train(was_training)


def transfer_weights(source: nn.Module, target: nn.Module) -> list[str]:
    """Copy every tensor ``source`` and ``target`` share (same name); return their names.

    For a staged step (32s -> 16s, 16s -> 8s) that is everything but the new skip's score
    layer (left at zero) and the new or resized deconvolutions (left bilinear).

    A narrower ``source`` (fewer channels, same kernels) fills the leading channels of a
    wider ``target``, and the old channels are cut off from the new ones (those weights are
    zeroed), so the wider net starts out computing exactly what the narrower one did while
    its new channels, still at their initial values, begin to learn.
    """
    src = source.state_dict()
    dst = target.state_dict()
    copied = [k for k, v in dst.items() if k in src and _fits(src[k].shape, v.shape)]
    with torch.no_grad():
        for key in copied:
            old, new = src[key], dst[key]
            if old.ndim >= 2 and old.shape[1] < new.shape[1]:
                new[: old.shape[0], old.shape[1] :] = 0
            new[tuple(slice(0, n) for n in old.shape)] = old
    return copied


def _fits(old: torch.Size, new: torch.Size) -> bool:
    """Whether a tensor of shape ``old`` is ``new`` or its leading channels (same kernel size)."""
    return len(old) == len(new) and old[2:] == new[2:] and all(o <= n for o, n in zip(old[:2], new[:2], strict=True))


def set_dropout(model: nn.Module, p: float) -> None:
    """Set the drop probability of every dropout layer (``fc6``/``fc7``: 0.5 in the paper)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout | nn.Dropout2d):
            module.p = p
