"""torchvision's DeepLabV3 (ResNet-50/101, MobileNetV3-Large) behind the common interface.

Built with torchvision's own builders (no weights downloaded) and kept as ``self.net``, so
torchvision's published state dicts load into :attr:`DeepLabV3.net` unchanged. The head's ASPP
concatenates four convolutions (1x1 and 3x3 at dilations 12, 24, 36) and an image-pooling branch
that averages the whole map: every output unit sees the whole image.
"""

from __future__ import annotations

from fcnviewer.core.models.graph import GlobalPool, Stream
from fcnviewer.core.models.torchvision_nets import TorchvisionNet, head_convs

#: The name of torchvision's builder (in ``torchvision.models.segmentation``) of each architecture.
TORCHVISION_BUILDERS = {
    name: name for name in ("deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large")
}


class DeepLabV3(TorchvisionNet):
    """torchvision's DeepLabV3: ``"8"`` (ResNet, dilated to stride 8) or ``"16"`` (MobileNetV3)
    holds the main head's map; with ``aux``, ``"aux"`` the auxiliary head's (stride 8)."""

    #: What the inspector says of the head (there are no branch contributions to show).
    skips_note = (
        "DeepLabV3's ASPP concatenates a 1x1 convolution, three 3x3 convolutions dilated 12, 24 and 36 "
        "and an image-pooling branch that sees the whole image, then mixes them: the output is not a sum "
        "of branches."
    )

    def __init__(self, arch: str = "deeplabv3_resnet50", *, num_classes: int = 21, aux: bool = False) -> None:
        super().__init__(arch, TORCHVISION_BUILDERS, num_classes=num_classes, aux=aux)
        self.main_stage = "16" if "mobilenet" in arch else "8"

    def streams(self) -> dict[str, Stream]:
        """Signal paths to each head; the ASPP's branches are concatenated, image pooling among them."""
        from torchvision.models.segmentation.deeplabv3 import ASPPPooling

        backbone = self.backbone_streams()
        features = backbone["out"]
        aspp, conv, classifier = self.net.classifier[0], self.net.classifier[1], self.net.classifier[4]
        branches = [
            features.then([GlobalPool()]) if isinstance(branch, ASPPPooling) else features.then([branch[0]])
            for branch in aspp.convs
        ]
        paths = {self.main_stage: Stream.concat(*branches).then([aspp.project[0], conv, classifier])}
        if self.aux:
            paths["aux"] = backbone["aux"].then(head_convs(self.net.aux_classifier))
        return paths


def deeplabv3_resnet50(*, num_classes: int = 21, aux: bool = False) -> DeepLabV3:
    """DeepLabV3 on a dilated ResNet-50 (stride 8); with ``aux``, the FCN head on ``layer3`` too."""
    return DeepLabV3("deeplabv3_resnet50", num_classes=num_classes, aux=aux)


def deeplabv3_resnet101(*, num_classes: int = 21, aux: bool = False) -> DeepLabV3:
    """DeepLabV3 on a dilated ResNet-101 (stride 8); with ``aux``, the FCN head on ``layer3`` too."""
    return DeepLabV3("deeplabv3_resnet101", num_classes=num_classes, aux=aux)


def deeplabv3_mobilenet_v3_large(*, num_classes: int = 21, aux: bool = False) -> DeepLabV3:
    """DeepLabV3 on a dilated MobileNetV3-Large (stride 16); with ``aux``, an FCN head at stride 8."""
    return DeepLabV3("deeplabv3_mobilenet_v3_large", num_classes=num_classes, aux=aux)
