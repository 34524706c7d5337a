"""Segmentation networks with one interface, built by name.

Every model here is an ``nn.Module`` with the surface of :class:`SegmentationModel`:
``forward(x)`` returns an ordered mapping whose ``"out"`` holds the final logits
``(N, C, H, W)`` at the input's size, followed by the named stage score maps at their own
resolution (``"32"``, ``"16"``, ``"8"`` for FCN-VGG by stride; ``"8"`` and ``"aux"`` for
FCN-ResNet and DeepLabV3; ``"16"`` and ``"8"`` for LRASPP's two branches; ``"32"``, the dense class-score
map, for the convolutionalised ImageNet classifiers (VGG, AlexNet, GoogLeNet, ResNet); none for U-Net,
whose decoder levels are streams only). Each also has ``arch``, ``num_classes``,
``stage_names`` and ``streams()`` (the signal paths that the receptive-field analysis walks).

The public builders (``fcn32s(num_classes=..., width=...)``, ``fcn_resnet50(num_classes=...,
aux=...)``, ``unet(num_classes=..., in_channels=..., bilinear=...)``, ...) are the entry points;
:func:`build_model` dispatches to them by name through :data:`BUILDERS`, the one table a new
family is registered in.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from fcnviewer.core.models.base import SegmentationModel
from fcnviewer.core.models.classification import (
    DenseClassifier,
    alexnet,
    googlenet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)
from fcnviewer.core.models.deeplab import (
    DeepLabV3,
    deeplabv3_mobilenet_v3_large,
    deeplabv3_resnet50,
    deeplabv3_resnet101,
)
from fcnviewer.core.models.fcn_resnet import FCNResNet, fcn_resnet50, fcn_resnet101
from fcnviewer.core.models.fcn_vgg import FCNVGG, fcn8s, fcn8s_atonce, fcn16s, fcn32s
from fcnviewer.core.models.lraspp import LRASPP, lraspp_mobilenet_v3_large
from fcnviewer.core.models.unet import UNet, unet, unet_paper
from fcnviewer.core.names import (
    ARCHITECTURES,
    CLASSIFIER_ARCHS,
    RESNET_ARCHS,
    TORCHVISION_ARCHS,
    UNET_ARCHS,
    VGG_ARCHS,
)

#: Architecture name -> its public builder. Keyword arguments of a builder beyond
#: ``num_classes`` are read from the :class:`ArchSpec` field of the same name.
BUILDERS: dict[str, Callable[..., SegmentationModel]] = {
    "fcn32s": fcn32s,
    "fcn16s": fcn16s,
    "fcn8s": fcn8s,
    "fcn8s-atonce": fcn8s_atonce,
    "fcn_resnet50": fcn_resnet50,
    "fcn_resnet101": fcn_resnet101,
    "deeplabv3_resnet50": deeplabv3_resnet50,
    "deeplabv3_resnet101": deeplabv3_resnet101,
    "deeplabv3_mobilenet_v3_large": deeplabv3_mobilenet_v3_large,
    "lraspp_mobilenet_v3_large": lraspp_mobilenet_v3_large,
    "vgg11": vgg11,
    "vgg11_bn": vgg11_bn,
    "vgg13": vgg13,
    "vgg13_bn": vgg13_bn,
    "vgg16": vgg16,
    "vgg16_bn": vgg16_bn,
    "vgg19": vgg19,
    "vgg19_bn": vgg19_bn,
    "alexnet": alexnet,
    "googlenet": googlenet,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "resnet152": resnet152,
    "unet": unet,
    "unet_paper": unet_paper,
}


@dataclass(frozen=True)
class ArchSpec:
    """What is needed to build a network: architecture, classes, width (VGG, U-Net), aux head
    (torchvision), input channels and bilinear upsampling (U-Net)."""

    arch: str
    num_classes: int = 21
    width: float = 1.0
    aux: bool = False
    in_channels: int = 3
    bilinear: bool = False

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; expected one of {', '.join(ARCHITECTURES)}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be positive, not {self.num_classes}")
        if not self.width > 0:
            raise ValueError(f"width must be positive, not {self.width}")
        if self.in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (grey) or 3 (RGB), not {self.in_channels}")

    @property
    def shown_classes(self) -> int:
        """Classes as shown: a one-class (sigmoid) head is shown as background and foreground."""
        return max(self.num_classes, 2)


def build_model(spec: ArchSpec) -> SegmentationModel:
    """A freshly initialised network for ``spec`` (no weights are downloaded).

    Calls ``BUILDERS[spec.arch]`` with ``num_classes`` and those of the spec's other fields
    that the builder takes (``width`` for FCN-VGG and U-Net, ``aux`` for torchvision's nets, ...).
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
    "CLASSIFIER_ARCHS",
    "FCNVGG",
    "LRASPP",
    "RESNET_ARCHS",
    "TORCHVISION_ARCHS",
    "UNET_ARCHS",
    "VGG_ARCHS",
    "ArchSpec",
    "DeepLabV3",
    "DenseClassifier",
    "FCNResNet",
    "SegmentationModel",
    "UNet",
    "alexnet",
    "build_model",
    "deeplabv3_mobilenet_v3_large",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "fcn8s",
    "fcn8s_atonce",
    "fcn16s",
    "fcn32s",
    "fcn_resnet50",
    "fcn_resnet101",
    "googlenet",
    "lraspp_mobilenet_v3_large",
    "randomize_weights",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "unet",
    "unet_paper",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]
