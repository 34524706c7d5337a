"""Segmentation networks with one interface.

Every model here is an ``nn.Module`` whose ``forward(x)`` returns an ordered mapping:
``"out"`` holds the final logits ``(N, C, H, W)`` at the input's size, followed by the named
stage score maps at their own resolution (``"32"``, ``"16"``, ``"8"`` for FCN-VGG by stride;
``"8"`` and ``"aux"`` for FCN-ResNet). Each also has ``arch``, ``num_classes``,
``stage_names`` and ``streams()`` (the signal paths that the receptive-field analysis walks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fcnviewer.core.models.fcn_resnet import FCNResNet
from fcnviewer.core.models.fcn_vgg import FCNVGG
from fcnviewer.core.names import ARCHITECTURES, RESNET_ARCHS, VGG_ARCHS

SegmentationModel = FCNVGG | FCNResNet


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
    """A freshly initialised network for ``spec`` (no weights are downloaded)."""
    if spec.arch in RESNET_ARCHS:
        return FCNResNet(spec.arch, num_classes=spec.num_classes, aux=spec.aux)
    skips = {"fcn32s": 0, "fcn16s": 1, "fcn8s": 2, "fcn8s-atonce": 2}[spec.arch]
    return FCNVGG(spec.num_classes, skips=skips, at_once=spec.arch == "fcn8s-atonce", width=spec.width)


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


def is_segmentation_model(module: nn.Module) -> bool:
    """Whether ``module`` implements the interface above."""
    return isinstance(module, FCNVGG | FCNResNet)


__all__ = [
    "ARCHITECTURES",
    "FCNVGG",
    "RESNET_ARCHS",
    "VGG_ARCHS",
    "ArchSpec",
    "FCNResNet",
    "SegmentationModel",
    "build_model",
]
