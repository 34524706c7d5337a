"""Segmentation networks with one interface, built by name.

Every model here is an ``nn.Module`` with the surface of :class:`SegmentationModel`:
``forward(x)`` returns an ordered mapping whose ``"out"`` holds the final logits
``(N, C, H, W)`` at the input's size, followed by the named stage score maps at their own
resolution (``"32"``, ``"16"``, ``"8"`` for FCN-VGG by stride; ``"8"`` and ``"aux"`` for
FCN-ResNet). Each also has ``arch``, ``num_classes``, ``stage_names`` and ``streams()`` (the
signal paths that the receptive-field analysis walks).

The public builders (``fcn32s(num_classes=..., width=...)``, ``fcn_resnet50(num_classes=...,
aux=...)``, ...) are the entry points; :func:`build_model` dispatches to them by name through
:data:`BUILDERS`, the one table a new family is registered in.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from fcnviewer.core.models.base import SegmentationModel
from fcnviewer.core.models.fcn_resnet import FCNResNet, fcn_resnet50, fcn_resnet101
from fcnviewer.core.models.fcn_vgg import FCNVGG, fcn8s, fcn8s_atonce, fcn16s, fcn32s
from fcnviewer.core.names import ARCHITECTURES, RESNET_ARCHS, VGG_ARCHS

#: Architecture name -> its public builder. Keyword arguments of a builder beyond
#: ``num_classes`` are read from the :class:`ArchSpec` field of the same name.
BUILDERS: dict[str, Callable[..., SegmentationModel]] = {
    "fcn32s": fcn32s,
    "fcn16s": fcn16s,
    "fcn8s": fcn8s,
    "fcn8s-atonce": fcn8s_atonce,
    "fcn_resnet50": fcn_resnet50,
    "fcn_resnet101": fcn_resnet101,
}


@dataclass(frozen=True)
class ArchSpec:
    """What is needed to build a network: architecture, classes, width (VGG), aux head (ResNet)."""

    arch: str
    num_classes: int = 21
    width: float = 1.0
    aux: bool = False

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; expected one of {', '.join(ARCHITECTURES)}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be positive, not {self.num_classes}")
        if not self.width > 0:
            raise ValueError(f"width must be positive, not {self.width}")


def build_model(spec: ArchSpec) -> SegmentationModel:
    """A freshly initialised network for ``spec`` (no weights are downloaded).

    Calls ``BUILDERS[spec.arch]`` with ``num_classes`` and those of the spec's other fields
    that the builder takes (``width`` for FCN-VGG, ``aux`` for FCN-ResNet).
    """
    builder = BUILDERS[spec.arch]
    options = {name: getattr(spec, name) for name in inspect.signature(builder).parameters if name != "num_classes"}
    return builder(num_classes=spec.num_classes, **options)


def randomize_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter (the zero-initialised score layers too) random He-scaled values; eval mode.

    For tests and benchmarks: a network that computes something non-trivial without training.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            fan_in = parameter[0].numel() if parameter.dim() > 1 else 1
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
    return model.eval()


__all__ = [
    "ARCHITECTURES",
    "BUILDERS",
    "FCNVGG",
    "RESNET_ARCHS",
    "VGG_ARCHS",
    "ArchSpec",
    "FCNResNet",
    "SegmentationModel",
    "build_model",
    "fcn8s",
    "fcn8s_atonce",
    "fcn16s",
    "fcn32s",
    "fcn_resnet50",
    "fcn_resnet101",
    "randomize_weights",
]
