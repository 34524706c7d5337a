"""torchvision's FCN-ResNet50 / FCN-ResNet101 behind the same interface as FCN-VGG.

The network is built with torchvision's own builders (no weights downloaded) and kept as
``self.net``, so its published state dicts load into :attr:`FCNResNet.net` unchanged.
torchvision is imported when such a network is built, not with this module: it costs about
190 MB of memory, which users of the other families do not pay.
"""

from __future__ import annotations

from fcnviewer.core.models.graph import Stream
from fcnviewer.core.models.torchvision_nets import TorchvisionNet, head_convs

#: The name of torchvision's builder (in ``torchvision.models.segmentation``) of each architecture.
TORCHVISION_BUILDERS = {"fcn_resnet50": "fcn_resnet50", "fcn_resnet101": "fcn_resnet101"}


class FCNResNet(TorchvisionNet):
    """torchvision's FCN on a dilated ResNet (output stride 8).

    ``forward`` returns ``"out"`` (logits bilinearly resized to the input, as torchvision
    does), ``"8"`` (the main head at stride 8) and, with ``aux``, ``"aux"`` (the auxiliary
    head on ``layer3``, also stride 8).
    """

    def __init__(self, arch: str = "fcn_resnet50", *, num_classes: int = 21, aux: bool = False) -> None:
        super().__init__(arch, TORCHVISION_BUILDERS, num_classes=num_classes, aux=aux)

    def streams(self) -> dict[str, Stream]:
        """Signal paths (the longest path through each residual block) to each head."""
        backbone = self.backbone_streams()
        paths = {"8": backbone["out"].then(head_convs(self.net.classifier))}
        if self.aux:
            paths["aux"] = backbone["aux"].then(head_convs(self.net.aux_classifier))
        return paths


def fcn_resnet50(*, num_classes: int = 21, aux: bool = False) -> FCNResNet:
    """FCN on a dilated ResNet-50; with ``aux``, the auxiliary head on ``layer3`` too."""
    return FCNResNet("fcn_resnet50", num_classes=num_classes, aux=aux)


def fcn_resnet101(*, num_classes: int = 21, aux: bool = False) -> FCNResNet:
    """FCN on a dilated ResNet-101; with ``aux``, the auxiliary head on ``layer3`` too."""
    return FCNResNet("fcn_resnet101", num_classes=num_classes, aux=aux)
