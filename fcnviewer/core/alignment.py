"""Placing a stage score map over the image it was computed from.

Unit ``m`` of a map with stride ``s`` and offset ``c0`` is centred on input pixel
``c0 + s * m``. The value shown at image pixel ``p`` is the linear interpolation of the map
at fractional index ``u = (p - c0) / s``, clamped to ``[0, n - 1]``, separably in y and x.
``fcnviewer.core.receptive`` uses the same rule to say which units a shown pixel reads.

Torch is imported only by the functions that upsample tensors, so that the viewer can place
and read stage maps (numpy) before the network stack is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

#: A ``(C, h, w)`` score map read by :func:`aligned_scores_at`: numpy, or a tensor.
ScoresT = TypeVar("ScoresT", "np.ndarray", "Tensor")


@dataclass(frozen=True)
class StageGeometry:
    """Stride and offset (input position of unit 0's centre) of a stage map, per axis alike."""

    stride: float
    offset: float

    def source_indices(self, pixels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For image pixels ``pixels``: the lower and upper unit read, and the upper's weight."""
        u = np.clip((np.asarray(pixels, dtype=np.float64) - self.offset) / self.stride, 0, n - 1)
        lo = np.floor(u).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        return lo, hi, (u - lo).astype(np.float32)

    def units_read(self, pixel: int, n: int) -> tuple[int, int]:
        """First and last unit (inclusive) whose value reaches image pixel ``pixel``."""
        lo, hi, w = self.source_indices(np.array([pixel]), n)
        first = int(lo[0])
        last = int(hi[0]) if w[0] > 0 else first
        return first, last

    def nearest_unit(self, pixel: float, n: int | None = None) -> int:
        """The unit whose centre is nearest to image pixel ``pixel`` (a tie goes to the even unit, as
        ``np.rint``), clamped to ``[0, n - 1]`` (``n`` ``None``: to 0 only, for a map of unknown size)."""
        unit = max(0, int(np.rint((pixel - self.offset) / self.stride)))
        return unit if n is None else min(unit, max(0, n - 1))


def aligned_scores_at(scores: ScoresT, geometry: StageGeometry, y: int, x: int) -> ScoresT:
    """``(C,)`` image-aligned scores of a ``(C, h, w)`` stage map at image pixel ``(y, x)``.

    The same bilinear, clamped rule as :func:`upsample_to_image`, evaluated at one pixel, in the
    map's own type and dtype (a numpy array, or a tensor that keeps its graph for gradients).
    """
    ys, xs = (geometry.source_indices(np.array([p]), n) for p, n in ((y, scores.shape[1]), (x, scores.shape[2])))
    (y0, y1, wy), (x0, x1, wx) = ((int(lo[0]), int(hi[0]), float(w[0])) for lo, hi, w in (ys, xs))
    top = scores[:, y0, x0] * (1 - wx) + scores[:, y0, x1] * wx
    bottom = scores[:, y1, x0] * (1 - wx) + scores[:, y1, x1] * wx
    return top * (1 - wy) + bottom * wy


def upsample_to_image(scores: Tensor, geometry: StageGeometry, height: int, width: int, *, top: int = 0) -> Tensor:
    """``(..., h, w)`` stage map -> ``(..., height, width)`` aligned to the image pixels.

    With ``top``, the result holds image rows ``top`` to ``top + height`` (for banded work).
    When the units sit where ``F.interpolate``'s bilinear upsampling by the stride puts
    them, up to a whole-pixel shift (FCN-VGG's stages), that fast kernel does the work;
    otherwise two interpolation matrices do.
    """
    shift = geometry.offset - (geometry.stride - 1) / 2
    if float(geometry.stride).is_integer() and float(shift).is_integer() and scores.dim() == 3:
        return _shifted_interpolate(scores, int(geometry.stride), int(shift), height, width, top)
    h, w = scores.shape[-2:]
    ys = interpolation_matrix(geometry, np.arange(top, top + height), h, scores)
    xs = interpolation_matrix(geometry, np.arange(width), w, scores)
    return (ys @ scores) @ xs.transpose(0, 1)


def interpolation_matrix(geometry: StageGeometry, pixels: np.ndarray, n: int, like: Tensor) -> Tensor:
    """``(len(pixels), n)``: row ``i`` the weights with which image pixel ``pixels[i]`` reads the
    ``n`` units of a map along one axis (a tensor like ``like``)."""
    import torch

    size = len(pixels)
    lo, hi, weight = geometry.source_indices(pixels, n)
    matrix = np.zeros((size, n), dtype=np.float32)
    rows = np.arange(size)
    np.add.at(matrix, (rows, lo), 1 - weight)
    np.add.at(matrix, (rows, hi), weight)
    return torch.from_numpy(matrix).to(device=like.device, dtype=like.dtype)


def _shifted_interpolate(scores: Tensor, stride: int, shift: int, height: int, width: int, top: int) -> Tensor:
    """:func:`upsample_to_image` by ``F.interpolate``: pixel ``p`` is its output ``p - shift``, clamped.

    Only the stage rows that rows ``top .. top + height`` read are upsampled; clamping the
    output index reproduces the clamping of the unit index at the map's borders.
    """
    import torch

    h, w = scores.shape[-2:]
    rows = np.clip(np.arange(top, top + height) - shift, 0, h * stride - 1)
    first = max(0, int(np.floor((rows[0] + 0.5) / stride - 0.5)))
    last = min(h - 1, int(np.ceil((rows[-1] + 0.5) / stride - 0.5)))
    block = scores[None, :, first : last + 1].contiguous(memory_format=torch.channels_last)
    up = torch.nn.functional.interpolate(block, scale_factor=stride, mode="bilinear", align_corners=False)[0]
    cols = np.clip(np.arange(width) - shift, 0, w * stride - 1)
    return up[:, _runs(rows - first * stride)][:, :, _runs(cols)]


def _runs(indices: np.ndarray) -> slice | Tensor:
    """``indices`` as a slice when they are consecutive, else as an index tensor."""
    import torch

    if len(indices) and np.all(np.diff(indices) == 1):
        return slice(int(indices[0]), int(indices[-1]) + 1)
    return torch.from_numpy(indices)
