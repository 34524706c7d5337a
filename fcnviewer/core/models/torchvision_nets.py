"""What torchvision's segmentation nets share here: the wrapper and the backbones' signal paths.

torchvision's FCN and DeepLabV3 are one backbone (its intermediate outputs by name) with a head
on ``"out"`` and, optionally, an auxiliary head on ``"aux"``; the output is the main head's map
resized bilinearly to the input. :class:`TorchvisionNet` keeps the net built by torchvision's own
builder as ``self.net``, so its published state dicts load into ``.net`` unchanged.

torchvision is imported only when such a net is built or walked: importing it costs about 190 MB
of memory and a second, which a user of FCN-VGG (the bundled model) never needs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping

import torch.nn.functional as F
from torch import Tensor, nn

from fcnviewer.core.models.graph import GlobalPool, Stream


def torchvision_builder(name: str) -> Callable[..., nn.Module]:
    """torchvision's segmentation builder called ``name`` (torchvision imported here, on first use)."""
    from torchvision.models import segmentation

    return getattr(segmentation, name)


class TorchvisionNet(nn.Module):
    """A torchvision net with a main head (stage ``main_stage``) and an optional ``"aux"`` head.

    ``forward`` returns ``"out"`` (the main head's logits bilinearly resized to the input, as
    torchvision does), the main head's map and, with ``aux``, ``"aux"``.
    """

    #: Name of the main head's stage map (its stride).
    main_stage = "8"

    def __init__(self, arch: str, builders: Mapping[str, str], *, num_classes: int, aux: bool) -> None:
        super().__init__()
        if arch not in builders:
            raise ValueError(f"unknown architecture {arch!r}; expected one of {sorted(builders)}")
        self.arch = arch
        self.num_classes = num_classes
        self.aux = aux
        self.net = torchvision_builder(builders[arch])(
            weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=aux
        )

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Names of the stage maps ``forward`` returns."""
        return (self.main_stage, "aux") if self.aux else (self.main_stage,)

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        features = self.net.backbone(x)
        main = self.net.classifier(features["out"])
        result: OrderedDict[str, Tensor] = OrderedDict()
        result["out"] = F.interpolate(main, size=x.shape[-2:], mode="bilinear", align_corners=False)
        result[self.main_stage] = main
        if self.aux:
            result["aux"] = self.net.aux_classifier(features["aux"])
        return result

    def backbone_streams(self) -> dict[str, Stream]:
        """The signal path to each backbone output (``"out"``, ``"aux"``)."""
        body = self.net.backbone
        paths = resnet_streams(body) if hasattr(body, "layer1") else mobilenet_streams(body)
        return {key: paths[name] for name, key in body.return_layers.items()}


def resnet_streams(body: nn.Module) -> dict[str, Stream]:
    """Signal paths (the longest path through each residual block) to ``layer1`` .. ``layer4``."""
    from torchvision.models import resnet

    path: list[nn.Module] = [body.conv1, body.maxpool]
    streams = {}
    for name in ("layer1", "layer2", "layer3", "layer4"):
        for block in getattr(body, name):
            if isinstance(block, resnet.Bottleneck):
                path += [block.conv1, block.conv2, block.conv3]
            elif isinstance(block, resnet.BasicBlock):
                path += [block.conv1, block.conv2]
            else:
                raise TypeError(f"unsupported residual block {type(block).__name__}")
        streams[name] = Stream.chain(path)
    return streams


def mobilenet_streams(features: nn.Module) -> dict[str, Stream]:
    """Signal paths to every block of a MobileNetV3 ``features`` by its name (``"0"``, ``"1"``, ...).

    Each squeeze-and-excitation gate multiplies the path by a global pooling of it, so every
    block after the first gate sees the whole image.
    """
    from torchvision.ops.misc import Conv2dNormActivation, SqueezeExcitation

    stream = Stream.chain(())
    streams = {}
    for name, block in features.named_children():
        for module in block.modules():
            if isinstance(module, Conv2dNormActivation):
                stream = stream.then([module[0]])
            elif isinstance(module, SqueezeExcitation):
                stream = Stream.product(stream, stream.then([GlobalPool()]))
        streams[name] = stream
    return streams


def head_convs(head: nn.Sequential) -> list[nn.Module]:
    """The convolutions of a plain head (torchvision's ``FCNHead``)."""
    return [m for m in head if isinstance(m, nn.Conv2d)]
