"""torchvision's LRASPP (Lite R-ASPP, MobileNetV3-Large) behind the common interface.

Built with torchvision's own builder and kept as ``self.net``, so its published state dicts load
into :attr:`LRASPP.net` unchanged. The head has two classifier branches whose sum, resized to
the input, is the output: ``low_classifier`` on the stride-8 features and ``high_classifier`` on
the stride-16 features gated by their global average (the "scale" branch, which sees the whole
image) and resized to stride 8. Both are score maps, so each branch's share of a logit is exact.
"""

from __future__ import annotations

from collections import OrderedDict

import torch.nn.functional as F
from torch import Tensor, nn

from fcnviewer.core.models.graph import RESIZED, GlobalPool, Stream, Upsample
from fcnviewer.core.models.torchvision_nets import mobilenet_streams, torchvision_builder


class LRASPP(nn.Module):
    """LRASPP on a dilated MobileNetV3-Large.

    ``forward`` returns ``"out"`` (torchvision's output: the sum of the branches resized to the
    input), ``"16"`` (``high_classifier`` on the gated stride-16 features) and ``"8"``
    (``low_classifier`` on the stride-8 features).
    """

    arch = "lraspp_mobilenet_v3_large"
    stage_names = ("16", "8")

    def __init__(self, *, num_classes: int = 21) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.net = torchvision_builder("lraspp_mobilenet_v3_large")(
            weights=None, weights_backbone=None, num_classes=num_classes
        )

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        features = self.net.backbone(x)
        head = self.net.classifier
        low, high = features["low"], features["high"]
        gated = head.cbr(high) * head.scale(high)
        low_scores = head.low_classifier(low)
        resized = F.interpolate(gated, size=low.shape[-2:], mode="bilinear", align_corners=False)
        fused = low_scores + head.high_classifier(resized)
        result: OrderedDict[str, Tensor] = OrderedDict()
        result["out"] = F.interpolate(fused, size=x.shape[-2:], mode="bilinear", align_corners=False)
        result["16"] = head.high_classifier(gated)
        result["8"] = low_scores
        return result

    def streams(self) -> dict[str, Stream]:
        """Signal paths to both branches and to their sum (the map resized to the output)."""
        body, head = self.net.backbone, self.net.classifier
        backbone = mobilenet_streams(body)
        positions = {key: name for name, key in body.return_layers.items()}
        high, low = backbone[positions["high"]], backbone[positions["low"]]
        gated = Stream.product(high.then([head.cbr[0]]), high.then([GlobalPool()]))
        low_branch = low.then([head.low_classifier])
        return {
            "16": gated.then([head.high_classifier]),
            "8": low_branch,
            RESIZED: Stream.fuse(
                low_branch.named("low"), gated.then([Upsample(2), head.high_classifier]).named("high")
            ),
        }


def lraspp_mobilenet_v3_large(*, num_classes: int = 21) -> LRASPP:
    """LRASPP on a dilated MobileNetV3-Large: a stride-8 and a gated stride-16 classifier, summed."""
    return LRASPP(num_classes=num_classes)
