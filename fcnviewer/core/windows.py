"""The part of an image a probe runs the network on: the receptive fields of what it differentiates.

A unit's gradient is zero outside its theoretical receptive field, and a network without global
pooling or resizing to its input computes the units inside that cone from the pixels inside the
field alone. So for FCN-VGG an effective RF is computed exactly on a window around the boxes of
the units differentiated, started on a multiple of the network's period (32) so that every map's
grid stays aligned. FCN-VGG's ``conv1_1`` pads the image by 100: the window is cut from the image
thus padded, and the network runs with that padding taken off its first convolution's output (a
forward hook), so what is computed is the cone, not a 100-pixel frame of padding around it.
At 500x500 a click's window is about 440 pixels square instead of the 700 the network pads the
image to: 0.4 of the area, about half the time. Networks that resize to the input's size
(FCN-ResNet, DeepLab) or pool globally get the whole image, as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fcnviewer.core.models import FCNVGG
from fcnviewer.core.preprocessing import Preprocessing
from fcnviewer.core.receptive import Smoothing, noisy_inputs, pixel_boxes
from fcnviewer.core.receptive.boxes import Box

#: An inclusive input-pixel box ``(x0, y0, x1, y1)``, as the viewer holds it.
BoxTuple = tuple[int, int, int, int]

#: Stride of the coarsest FCN-VGG stage: shifting the input by a multiple of it shifts every map exactly.
VGG_PERIOD = 32


@dataclass(frozen=True)
class Window:
    """Image rows ``y0:y1`` and columns ``x0:x1``, the network's input (zeros where they pass the
    image's borders), run with the first ``inset`` rows and columns of its first convolution's zero
    padding taken off (:meth:`running`): the window brings them itself. The network sees image
    pixel ``origin`` as its ``(0, 0)``."""

    y0: int
    y1: int
    x0: int
    x1: int
    inset: int = 0

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """``(y0, y1, x0, x1)``."""
        return self.y0, self.y1, self.x0, self.x1

    @property
    def origin(self) -> tuple[int, int]:
        """The image pixel (row, column) the network sees as its ``(0, 0)``."""
        return self.y0 + self.inset, self.x0 + self.inset

    @property
    def corner(self) -> tuple[int, int]:
        """The first image pixel (row, column) inside the window."""
        return max(0, self.y0), max(0, self.x0)

    def inputs(self, image: np.ndarray, preprocessing: Preprocessing, device: torch.device | str = "cpu") -> Tensor:
        """The network's input: the window of the ``(H, W, 3)`` uint8 ``image``, preprocessed, zero outside it."""
        (clean,) = noisy_inputs(image, preprocessing, Smoothing(), device, self.bounds)
        return clean

    def visible(self, values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """The part inside an image of ``size`` of a map over the window (its first pixel at :attr:`corner`)."""
        (height, width), (top, left) = size, self.corner
        return values[top - self.y0 : min(self.y1, height) - self.y0, left - self.x0 : min(self.x1, width) - self.x0]

    @contextmanager
    def running(self, model: nn.Module) -> Iterator[None]:
        """Inside the block ``model`` (FCN-VGG where ``inset``) drops the first ``inset`` rows and columns,
        and as many last ones, of ``conv1_1``'s output: those computed from its own padding.

        The output keeps the very numbers the whole image gives (recomputing the convolution without
        padding rounds differently, which ReLU and max-pool switches then amplify), while its gradient
        flows through that unpadded convolution: the padded map's gradient, a copy of the whole
        frame per backward pass, cost a fifth of the pass."""
        if not self.inset:
            yield
            return
        cut = self.inset

        def trimmed(conv: nn.Conv2d, inputs: tuple[Tensor, ...], output: Tensor) -> Tensor:
            inner = output[..., cut : output.shape[-2] - cut, cut : output.shape[-1] - cut].detach()
            unpadded = F.conv2d(inputs[0], conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)
            return inner + (unpadded - unpadded.detach())  # exactly ``inner``; the gradient of ``unpadded``

        hook = model.conv1_1.register_forward_hook(trimmed)  # type: ignore[union-attr]
        try:
            yield
        finally:
            hook.remove()


def whole_window(size: tuple[int, int]) -> Window:
    """The whole image, as the network sees it (with its own padding)."""
    return Window(0, size[0], 0, size[1])


def probe_window(
    model: nn.Module, y: int, x: int, size: tuple[int, int], boxes: Sequence[BoxTuple] | None = None
) -> Window:
    """The window that decides pixel ``(y, x)`` of an image of ``size`` at every stage.

    For FCN-VGG the union of the pixel's receptive-field boxes (``boxes``, ``(x0, y0, x1, y1)``
    each, else those of :func:`~fcnviewer.core.receptive.pixel_boxes`) in the image padded by
    ``conv1_1``, widened to start on a multiple of 32 of that padded image and clipped to it: the
    network then computes the same numbers there as on the whole image (the effective RF of a
    4096x4096 image costs what a window of about 440x440 does). Other networks get the whole image.

    The viewer passes the boxes it drew (from the prediction's own map shapes): computing them
    again takes a forward pass on meta tensors, whose first run imports ``torch._dynamo`` (about a
    second and 175 MB).
    """
    if not isinstance(model, FCNVGG):
        return whole_window(size)
    if boxes is None:
        boxes = [tuple(box.as_list()) for box in pixel_boxes(model, y, x, size).values()]  # type: ignore[misc]
    pad = int(model.conv1_1.padding[0])  # type: ignore[index]
    union = Box.union(Box(*b) for b in boxes)
    rows, cols = _span(union.y0, union.y1, size[0], pad), _span(union.x0, union.x1, size[1], pad)
    return Window(*rows, *cols, inset=pad)


def _span(first: int, last: int, size: int, pad: int) -> tuple[int, int]:
    """Image rows ``start:stop`` around rows ``first..last`` (inclusive), inside the image padded by
    ``pad``, ``start + pad`` a multiple of :data:`VGG_PERIOD`, and at least ``2 * pad + 1`` rows: the
    network runs on it as on an image of one row or more (``fc6`` needs seven ``pool5`` rows)."""
    end, least = size + 2 * pad, 2 * pad + 1  # in the padded image
    start = max(0, first + pad) // VGG_PERIOD * VGG_PERIOD
    stop = min(end, max(last + 1 + pad, start + least))
    if stop - start < least:
        start = max(0, stop - least) // VGG_PERIOD * VGG_PERIOD
    return start - pad, stop - pad
