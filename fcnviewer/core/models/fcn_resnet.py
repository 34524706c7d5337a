"""torchvision's FCN-ResNet50 / FCN-ResNet101 behind the same interface as FCN-VGG.

The network is built with torchvision's own builders (no weights downloaded) and kept as
``self.net``, so its published state dicts load into :attr:`FCNResNet.net` unchanged.
torchvision is imported when such a network is built, not with this module: it costs about
190 MB of memory, which users of the other families do not pay.
"""

from __future__ import annotations

from collections import OrderedDict

import torch.nn.functional as F
from torch import Tensor, nn

from fcnviewer.core.models.graph import Stream

#: The name of torchvision's builder (in ``torchvision.models.segmentation``) of each architecture.
TORCHVISION_BUILDERS = {"fcn_resnet50": "fcn_resnet50", "fcn_resnet101": "fcn_resnet101"}


class FCNResNet(nn.Module):
    """torchvision's FCN on a dilated ResNet (output stride 8).

    ``forward`` returns ``"out"`` (logits bilinearly resized to the input, as torchvision
    does), ``"8"`` (the main head at stride 8) and, with ``aux``, ``"aux"`` (the auxiliary
    head on ``layer3``, also stride 8).
    """

    def __init__(self, arch: str = "fcn_resnet50", *, num_classes: int = 21, aux: bool = False) -> None:
        super().__init__()
        if arch not in TORCHVISION_BUILDERS:
            raise ValueError(
                f"unknown FCN-ResNet architecture {arch!r}; expected one of {sorted(TORCHVISION_BUILDERS)}"
            )
        self.arch = arch
        self.num_classes = num_classes
        self.aux = aux
        from torchvision.models import segmentation

        self.net = getattr(segmentation, TORCHVISION_BUILDERS[arch])(
            weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=aux
        )

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Names of the stage maps ``forward`` returns."""
        return ("8", "aux") if self.aux else ("8",)

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        features = self.net.backbone(x)
        main = self.net.classifier(features["out"])
        result: OrderedDict[str, Tensor] = OrderedDict()
        result["out"] = F.interpolate(main, size=x.shape[-2:], mode="bilinear", align_corners=False)
        result["8"] = main
        if self.aux:
            result["aux"] = self.net.aux_classifier(features["aux"])
        return result

    def streams(self) -> dict[str, Stream]:
        """Signal paths (the longest path through each residual block) to each head."""
        body = self.net.backbone
        stem: list[nn.Module] = [body.conv1, body.maxpool]
        layers: dict[str, list[nn.Module]] = {}
        path = list(stem)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            for block in getattr(body, name):
                path += _block_convs(block)
            layers[name] = list(path)
        paths = {"8": Stream.chain([*layers["layer4"], *_head_convs(self.net.classifier)])}
        if self.aux:
            paths["aux"] = Stream.chain([*layers["layer3"], *_head_convs(self.net.aux_classifier)])
        return paths


def _block_convs(block: nn.Module) -> list[nn.Module]:
    from torchvision.models import resnet

    if isinstance(block, resnet.Bottleneck):
        return [block.conv1, block.conv2, block.conv3]
    if isinstance(block, resnet.BasicBlock):
        return [block.conv1, block.conv2]
    raise TypeError(f"unsupported residual block {type(block).__name__}")


def _head_convs(head: nn.Sequential) -> list[nn.Module]:
    return [m for m in head if isinstance(m, nn.Conv2d)]


def fcn_resnet50(*, num_classes: int = 21, aux: bool = False) -> FCNResNet:
    """FCN on a dilated ResNet-50; with ``aux``, the auxiliary head on ``layer3`` too."""
    return FCNResNet("fcn_resnet50", num_classes=num_classes, aux=aux)


def fcn_resnet101(*, num_classes: int = 21, aux: bool = False) -> FCNResNet:
    """FCN on a dilated ResNet-101; with ``aux``, the auxiliary head on ``layer3`` too."""
    return FCNResNet("fcn_resnet101", num_classes=num_classes, aux=aux)
