"""How a network wants its input: channel order, value range, mean and std."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Preprocessing:
    """Maps an RGB uint8 image to the network's input.

    ``x = (image[..., order] / 255 * value_scale - mean) / std``, channels in ``channel_order``;
    ``"L"`` is one grey channel, the luma of ITU-R 601 (what Pillow's ``convert("L")`` gives),
    with one mean and std.
    """

    channel_order: Literal["RGB", "BGR", "L"]
    value_scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...] = (1.0, 1.0, 1.0)

    @property
    def channels(self) -> int:
        """Channels of the network's input: 1 for ``"L"``, else 3."""
        return 1 if self.channel_order == "L" else 3

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (for checkpoint metadata)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Inverse of :meth:`to_dict`."""
        return cls(
            channel_order=data["channel_order"],
            value_scale=float(data["value_scale"]),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data.get("std", (1.0,) * len(data["mean"]))),
        )

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``(gain, bias)`` in network channel order so that ``x = u8 * gain + bias``."""
        gain = np.full(self.channels, self.value_scale / 255.0, dtype=np.float32) / np.asarray(
            self.std, dtype=np.float32
        )
        bias = -np.asarray(self.mean, dtype=np.float32) / np.asarray(self.std, dtype=np.float32)
        return gain, bias

    def to_tensor(
        self, image: np.ndarray, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """``(H, W, 3)`` RGB uint8 -> ``(1, channels, H, W)`` network input on ``device``."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
        u8 = torch.from_numpy(np.ascontiguousarray(image)).to(device)
        if self.channel_order == "BGR":
            u8 = u8.flip(-1)
        gain, bias = (torch.from_numpy(a).to(device).view(1, -1, 1, 1) for a in self.affine())
        x = u8.permute(2, 0, 1).unsqueeze(0).float()
        if self.channel_order == "L":
            x = (x * torch.tensor(LUMA, device=device).view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = x * gain + bias
        return x.to(dtype)

    def pixel_change(self, delta: Tensor) -> Tensor:
        """The network-input change ``(N, channels, H, W)`` of an RGB pixel-value change ``delta``
        ``(N, 3, H, W)`` (in 0..255 units): the linear part of :meth:`to_tensor`."""
        if self.channel_order == "BGR":
            delta = delta.flip(1)
        if self.channel_order == "L":
            delta = (delta * torch.tensor(LUMA, device=delta.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
        gain = torch.from_numpy(self.affine()[0]).to(delta.device).view(1, -1, 1, 1)
        return delta * gain


#: Weights of R, G and B in the grey value (ITU-R 601 luma).
LUMA = (0.299, 0.587, 0.114)

#: The Caffe VGG16 / published FCN-VGG VOC weights: BGR, 0..255, mean subtracted.
CAFFE_BGR = Preprocessing("BGR", 255.0, (104.00698793, 116.66876762, 122.67891434))
#: torchvision weights: RGB in 0..1, ImageNet mean and std.
IMAGENET_RGB = Preprocessing("RGB", 1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: milesial/Pytorch-UNet: RGB scaled to 0..1, nothing subtracted.
RGB_UNIT = Preprocessing("RGB", 1.0, (0.0, 0.0, 0.0))
#: A one-channel U-Net: grey scaled to 0..1.
GREY_UNIT = Preprocessing("L", 1.0, (0.0,), (1.0,))
