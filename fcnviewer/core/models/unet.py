"""U-Net: the layout of milesial/Pytorch-UNet, and the paper's valid-convolution net.

:func:`unet` has the module names and arithmetic of milesial/Pytorch-UNet (the most used
standalone PyTorch U-Net: ``inc``, ``down1..4``, ``up1..4``, ``outc``; padded 3x3 convolutions
with batch norm; transposed-convolution or bilinear upsampling), so its checkpoints load
unchanged. :func:`unet_paper` is the net of Ronneberger, Fischer and Brox (2015): unpadded
convolutions without batch norm and crop-and-copy skips, a 572x572 tile giving 388x388 outputs;
here any image is mirrored at its borders (as the paper does) up to a size the net accepts and
the output cropped back, so that ``"out"`` has the input's size.

Both return only ``"out"`` from ``forward`` (their decoder levels carry features, not class
scores): their ``streams()`` give the levels ``"16"`` (the bottleneck) and ``"8"`` .. ``"1"``
(after ``up1`` .. ``up4``) for the receptive-field analysis.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fcnviewer.core.models.graph import Crop, Stream, Upsample

#: Channels of the first level at width 1.0 (doubled at each level down).
BASE_CHANNELS = 64
#: Border the paper's net eats (input 572 -> output 388: 92 on each side).
PAPER_MARGIN = 92
#: Crop offsets of the paper's skips into ``up1`` .. ``up4`` (64->56, 136->104, 280->200, 568->392).
PAPER_CROPS = (4, 16, 40, 88)
#: The paper's net accepts inputs of ``PAPER_STEP * k + PAPER_MIN`` pixels.
PAPER_STEP, PAPER_MIN = 16, 188


class DoubleConv(nn.Module):
    """Two 3x3 convolutions with ReLU: padded, bias-free and batch-normalised, or (``valid``)
    unpadded with biases, as in the paper."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None, *, valid: bool) -> None:
        super().__init__()
        mid = mid_channels or out_channels
        if valid:
            layers = [nn.Conv2d(in_channels, mid, 3), nn.ReLU(inplace=True), nn.Conv2d(mid, out_channels, 3)]
            layers.append(nn.ReLU(inplace=True))
        else:
            layers = [
                nn.Conv2d(in_channels, mid, 3, padding=1, bias=False),
                nn.BatchNorm2d(mid),
                nn.ReLU(inplace=True),
                nn.Conv2d(mid, out_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
        self.double_conv = nn.Sequential(*layers)

    def convs(self) -> list[nn.Module]:
        """The two convolutions."""
        return [m for m in self.double_conv if isinstance(m, nn.Conv2d)]

    def forward(self, x: Tensor) -> Tensor:
        return self.double_conv(x)


class Down(nn.Module):
    """2x2 max pooling, then a :class:`DoubleConv`."""

    def __init__(self, in_channels: int, out_channels: int, *, valid: bool) -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, valid=valid))

    def forward(self, x: Tensor) -> Tensor:
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upsampling x2, the skip concatenated in front, then a :class:`DoubleConv`.

    The upsampled map is padded to the skip's size (milesial: they differ by at most one unit),
    or (``valid``) the skip is cropped to the upsampled map's size around its centre (the paper).
    """

    def __init__(self, in_channels: int, out_channels: int, *, bilinear: bool, valid: bool) -> None:
        super().__init__()
        self.valid = valid
        if bilinear:
            self.up: nn.Module = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2, valid=valid)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels, valid=valid)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = self.up(x)
        dy, dx = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
        if self.valid:
            skip = skip[..., dy // 2 : dy // 2 + x.shape[-2], dx // 2 : dx // 2 + x.shape[-1]]
        else:
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class OutConv(nn.Module):
    """The 1x1 classifier."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class UNet(nn.Module):
    """A U-Net (see the module docstring); ``width`` scales every channel count, not the geometry.

    One class means a sigmoid head: ``"out"`` holds the foreground logit.
    """

    stage_names: tuple[str, ...] = ()
    #: What the inspector says of the skips (there are no branch contributions to show).
    skips_note = (
        "U-Net's skips concatenate each encoder level (fine detail, small receptive field) with the "
        "upsampled level below (coarse context, large receptive field); the decoder's convolutions mix "
        "the two, so the output is not a sum of branches. Compare the levels' boxes and effective RFs."
    )

    def __init__(
        self,
        *,
        num_classes: int = 2,
        in_channels: int = 3,
        bilinear: bool = False,
        width: float = 1.0,
        paper: bool = False,
    ) -> None:
        super().__init__()
        if paper and bilinear:
            raise ValueError("the paper's U-Net upsamples by transposed convolutions, not bilinearly")
        self.num_classes, self.in_channels, self.bilinear, self.paper = num_classes, in_channels, bilinear, paper
        c = [max(1, round(BASE_CHANNELS * width)) * 2**i for i in range(5)]
        factor = 2 if bilinear else 1
        self.inc = DoubleConv(in_channels, c[0], valid=paper)
        self.down1 = Down(c[0], c[1], valid=paper)
        self.down2 = Down(c[1], c[2], valid=paper)
        self.down3 = Down(c[2], c[3], valid=paper)
        self.down4 = Down(c[3], c[4] // factor, valid=paper)
        self.up1 = Up(c[4], c[3] // factor, bilinear=bilinear, valid=paper)
        self.up2 = Up(c[3], c[2] // factor, bilinear=bilinear, valid=paper)
        self.up3 = Up(c[2], c[1] // factor, bilinear=bilinear, valid=paper)
        self.up4 = Up(c[1], c[0], bilinear=bilinear, valid=paper)
        self.outc = OutConv(c[0], num_classes)

    @property
    def arch(self) -> str:
        """``unet_paper`` or ``unet``."""
        return "unet_paper" if self.paper else "unet"

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        height, width = x.shape[-2:]
        if self.paper:
            x = _mirror(x)
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        h = self.down4(x4)
        for up, skip in zip((self.up1, self.up2, self.up3, self.up4), (x4, x3, x2, x1), strict=True):
            h = up(h, skip)
        logits = self.outc(h)
        return OrderedDict([("out", logits[..., :height, :width] if self.paper else logits)])

    def streams(self) -> dict[str, Stream]:
        """The levels ``"16"`` (bottleneck) to ``"1"`` (after ``up4``), and ``"out"``.

        A skip is concatenated (a union for geometry); milesial's padding of the upsampled map
        shifts nothing (it pads at most one unit, at the far end); the paper's crops are exact.
        """
        levels = [Stream.chain([*([Crop(-PAPER_MARGIN)] if self.paper else []), *self.inc.convs()])]
        for down in (self.down1, self.down2, self.down3, self.down4):
            levels.append(levels[-1].then([down.maxpool_conv[0], *down.maxpool_conv[1].convs()]))
        paths = {"16": levels[4]}
        h = levels[4]
        ups = (self.up1, self.up2, self.up3, self.up4)
        for i, (up, skip) in enumerate(zip(ups, reversed(levels[:4]), strict=True)):
            upsample = Upsample(2, align_corners=True) if self.bilinear else up.up
            crop = [Crop(PAPER_CROPS[i])] if self.paper else []
            h = Stream.concat(skip.then(crop), h.then([upsample])).then(up.conv.convs())
            paths[str(8 >> i)] = h
        paths["out"] = h.then([self.outc.conv])
        return paths


def paper_input_size(size: int) -> int:
    """The smallest input side the paper's net accepts whose output covers ``size`` pixels."""
    k = max(0, -(-(size + 2 * PAPER_MARGIN - PAPER_MIN) // PAPER_STEP))
    return PAPER_STEP * k + PAPER_MIN


def _mirror(x: Tensor) -> Tensor:
    """``x`` mirrored at its borders: ``PAPER_MARGIN`` pixels on top and left, enough below and right."""
    height, width = x.shape[-2:]
    pads = [PAPER_MARGIN, paper_input_size(width) - width - PAPER_MARGIN]
    pads += [PAPER_MARGIN, paper_input_size(height) - height - PAPER_MARGIN]
    mode = "reflect" if max(pads) < min(height, width) else "replicate"
    return F.pad(x, pads, mode=mode)


def unet(*, num_classes: int = 2, in_channels: int = 3, bilinear: bool = False, width: float = 1.0) -> UNet:
    """U-Net in milesial/Pytorch-UNet's layout (padded convolutions, batch norm); one class: a sigmoid head."""
    return UNet(num_classes=num_classes, in_channels=in_channels, bilinear=bilinear, width=width)


def unet_paper(*, num_classes: int = 2, in_channels: int = 1, width: float = 1.0) -> UNet:
    """The paper's U-Net (Ronneberger et al. 2015): unpadded convolutions, crop-and-copy skips."""
    return UNet(num_classes=num_classes, in_channels=in_channels, width=width, paper=True)
