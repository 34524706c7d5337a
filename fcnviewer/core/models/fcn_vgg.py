"""FCN-32s, FCN-16s, FCN-8s and FCN-8s at-once on a VGG16 backbone.

Layer names, shapes, crops and initialisation follow the Caffe reference of Long, Shelhamer
and Darrell and its widely used PyTorch port, so that the port's published VOC state dicts
load unchanged. A ``width`` multiplier scales every channel count (not the geometry), which
gives small models with exactly the same receptive fields and strides.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import Tensor, nn

from fcnviewer.core.models.graph import Crop, Scale, Stream

#: (block, number of convs, channels at width 1.0) of the VGG16 feature extractor.
VGG16_BLOCKS: tuple[tuple[int, int, int], ...] = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
FC_CHANNELS = 4096
#: Name prefixes of the backbone layers (``conv*``, ``fc6``, ``fc7``): initialised from scratch or
#: batch-normalised while training, unlike the score layers and deconvolutions.
BACKBONE_PREFIXES: tuple[str, ...] = ("conv", "fc6", "fc7")

#: Crop offsets of the reference implementation.
CROP_32S = 19
CROP_POOL4 = 5
CROP_POOL3 = 9
CROP_16S = 27
CROP_8S = 31

#: Scaling of the skip inputs in the "at-once" FCN-8s.
ATONCE_POOL4_SCALE = 0.01
ATONCE_POOL3_SCALE = 0.0001


def scaled_channels(channels: int, width: float) -> int:
    """Channel count ``channels`` scaled by ``width`` (at least 1)."""
    return max(1, round(channels * width))


def bilinear_kernel(channels: int, size: int) -> Tensor:
    """The bilinear upsampling filter of the reference, one per channel (diagonal weight)."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
    weight = np.zeros((channels, channels, size, size), dtype=np.float32)
    weight[range(channels), range(channels)] = filt
    return torch.from_numpy(weight)


class FCNVGG(nn.Module):
    """FCN on VGG16 with skips from none (32s), pool4 (16s) or pool4 and pool3 (8s).

    ``forward`` returns an ordered mapping: ``"out"`` holds the final logits at the input's
    size, then the fused stage score maps at their own resolution, coarse to fine:

    - ``"32"``: ``score_fr`` (stride 32);
    - ``"16"``: ``upscore2 + score_pool4c`` (stride 16; FCN-16s and FCN-8s);
    - ``"8"``: ``upscore_pool4 + score_pool3c`` (stride 8; FCN-8s).
    """

    def __init__(self, num_classes: int = 21, *, skips: int = 0, at_once: bool = False, width: float = 1.0) -> None:
        super().__init__()
        if skips not in (0, 1, 2):
            raise ValueError(f"skips must be 0 (32s), 1 (16s) or 2 (8s), not {skips}")
        if at_once and skips != 2:
            raise ValueError("the at-once variant exists only for FCN-8s")
        self.num_classes = num_classes
        self.skips = skips
        self.at_once = at_once
        self.width = width
        in_channels = 3
        for block, convs, channels in VGG16_BLOCKS:
            out_channels = scaled_channels(channels, width)
            for i in range(1, convs + 1):
                padding = 100 if (block, i) == (1, 1) else 1
                self.add_module(f"conv{block}_{i}", nn.Conv2d(in_channels, out_channels, 3, padding=padding))
                self.add_module(f"relu{block}_{i}", nn.ReLU(inplace=True))
                in_channels = out_channels
            self.add_module(f"pool{block}", nn.MaxPool2d(2, stride=2, ceil_mode=True))
        fc = scaled_channels(FC_CHANNELS, width)
        self.fc6 = nn.Conv2d(in_channels, fc, 7)
        self.relu6 = nn.ReLU(inplace=True)
        self.drop6 = nn.Dropout2d()
        self.fc7 = nn.Conv2d(fc, fc, 1)
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout2d()
        self.score_fr = nn.Conv2d(fc, num_classes, 1)
        if skips == 0:
            self.upscore = nn.ConvTranspose2d(num_classes, num_classes, 64, stride=32, bias=False)
        else:
            self.score_pool4 = nn.Conv2d(scaled_channels(512, width), num_classes, 1)
            self.upscore2 = nn.ConvTranspose2d(num_classes, num_classes, 4, stride=2, bias=False)
        if skips == 1:
            self.upscore16 = nn.ConvTranspose2d(num_classes, num_classes, 32, stride=16, bias=False)
        if skips == 2:
            self.score_pool3 = nn.Conv2d(scaled_channels(256, width), num_classes, 1)
            self.upscore_pool4 = nn.ConvTranspose2d(num_classes, num_classes, 4, stride=2, bias=False)
            self.upscore8 = nn.ConvTranspose2d(num_classes, num_classes, 16, stride=8, bias=False)
        self.reset_parameters()

    @property
    def arch(self) -> str:
        """The architecture's name: ``fcn32s``, ``fcn16s``, ``fcn8s`` or ``fcn8s-atonce``."""
        return ("fcn32s", "fcn16s", "fcn8s")[self.skips] + ("-atonce" if self.at_once else "")

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Names of the stage maps ``forward`` returns, coarse to fine."""
        return ("32", "16", "8")[: self.skips + 1]

    def reset_parameters(self) -> None:
        """Reference initialisation: zero scores, bilinear deconvolutions, default convs."""
        for module in self.modules():
            if isinstance(module, nn.ConvTranspose2d):
                module.weight.data.copy_(bilinear_kernel(module.in_channels, module.kernel_size[0]))
        for name in ("score_fr", "score_pool4", "score_pool3"):
            if hasattr(self, name):
                nn.init.zeros_(getattr(self, name).weight)
                nn.init.zeros_(getattr(self, name).bias)

    def _block(self, h: Tensor, block: int) -> Tensor:
        convs = VGG16_BLOCKS[block - 1][1]
        for i in range(1, convs + 1):
            h = getattr(self, f"relu{block}_{i}")(getattr(self, f"conv{block}_{i}")(h))
        return getattr(self, f"pool{block}")(h)

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        height, width = x.shape[-2:]
        h = x
        for block in (1, 2, 3):
            h = self._block(h, block)
        pool3 = h
        pool4 = self._block(pool3, 4)
        h = self._block(pool4, 5)
        h = self.drop6(self.relu6(self.fc6(h)))
        h = self.drop7(self.relu7(self.fc7(h)))
        score = self.score_fr(h)
        stages: OrderedDict[str, Tensor] = OrderedDict([("32", score)])
        if self.skips == 0:
            out = _crop(self.upscore(score), CROP_32S, height, width)
        else:
            up2 = self.upscore2(score)
            pool4_in = pool4 * ATONCE_POOL4_SCALE if self.at_once else pool4
            fused16 = up2 + _crop(self.score_pool4(pool4_in), CROP_POOL4, *up2.shape[-2:])
            stages["16"] = fused16
            if self.skips == 1:
                out = _crop(self.upscore16(fused16), CROP_16S, height, width)
            else:
                up_pool4 = self.upscore_pool4(fused16)
                pool3_in = pool3 * ATONCE_POOL3_SCALE if self.at_once else pool3
                fused8 = up_pool4 + _crop(self.score_pool3(pool3_in), CROP_POOL3, *up_pool4.shape[-2:])
                stages["8"] = fused8
                out = _crop(self.upscore8(fused8), CROP_8S, height, width)
        return OrderedDict([("out", out), *stages.items()])

    def streams(self) -> dict[str, Stream]:
        """The signal paths from the input to ``"out"`` and to each stage map.

        Each path lists the modules (and crops and scalings) a signal passes, in order; a
        fused map is the sum of its branches. ``fcnviewer.core.receptive`` walks these.
        """
        layers: list[nn.Module] = []
        taps: dict[str, list[nn.Module]] = {}
        for block, convs, _ in VGG16_BLOCKS:
            for i in range(1, convs + 1):
                layers.append(getattr(self, f"conv{block}_{i}"))
            layers.append(getattr(self, f"pool{block}"))
            taps[f"pool{block}"] = list(layers)
        fc = [*layers, self.fc6, self.fc7, self.score_fr]
        paths: dict[str, Stream] = {"32": Stream.chain(fc)}
        if self.skips == 0:
            paths["out"] = Stream.chain([*fc, self.upscore, Crop(CROP_32S)])
            return paths
        pool4_scale = [Scale(ATONCE_POOL4_SCALE)] if self.at_once else []
        pool4 = Stream.chain([*taps["pool4"], *pool4_scale, self.score_pool4, Crop(CROP_POOL4)])
        fused16 = Stream.fuse(paths["32"].then([self.upscore2]), pool4)
        paths["16"] = fused16
        if self.skips == 1:
            paths["out"] = fused16.then([self.upscore16, Crop(CROP_16S)])
            return paths
        pool3_scale = [Scale(ATONCE_POOL3_SCALE)] if self.at_once else []
        pool3 = Stream.chain([*taps["pool3"], *pool3_scale, self.score_pool3, Crop(CROP_POOL3)])
        fused8 = Stream.fuse(fused16.then([self.upscore_pool4]), pool3)
        paths["8"] = fused8
        paths["out"] = fused8.then([self.upscore8, Crop(CROP_8S)])
        return paths


def _crop(h: Tensor, offset: int, height: int, width: int) -> Tensor:
    return h[:, :, offset : offset + height, offset : offset + width]


def fcn32s(*, num_classes: int = 21, width: float = 1.0) -> FCNVGG:
    """FCN-32s: ``score_fr`` upsampled x32."""
    return FCNVGG(num_classes, skips=0, width=width)


def fcn16s(*, num_classes: int = 21, width: float = 1.0) -> FCNVGG:
    """FCN-16s: adds the pool4 skip."""
    return FCNVGG(num_classes, skips=1, width=width)


def fcn8s(*, num_classes: int = 21, width: float = 1.0) -> FCNVGG:
    """FCN-8s: adds the pool4 and pool3 skips (staged training)."""
    return FCNVGG(num_classes, skips=2, width=width)


def fcn8s_atonce(*, num_classes: int = 21, width: float = 1.0) -> FCNVGG:
    """FCN-8s trained at once: pool4 scaled by 0.01 and pool3 by 0.0001 before scoring."""
    return FCNVGG(num_classes, skips=2, at_once=True, width=width)
