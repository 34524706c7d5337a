"""Input-pixel boxes: of stream units, and behind an image pixel at every stage; which units see a pixel."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from fcnviewer.core.alignment import StageGeometry
from fcnviewer.core.models.graph import RESIZED, Stream
from fcnviewer.core.receptive.table import (
    FINAL,
    evaluating,
    input_interval,
    level_names,
    named_streams,
    stage_geometry,
    stream_of,
    stream_rf,
)


@dataclass(frozen=True)
class Box:
    """Inclusive input-pixel rectangle ``[x0, x1] x [y0, y1]``; may extend past the image.

    With ``whole_image``, a global-pooling branch makes the unit see the whole image besides: the
    rectangle is then the box of its local paths only.
    """

    x0: int
    y0: int
    x1: int
    y1: int
    whole_image: bool = False

    @property
    def width(self) -> int:
        """Number of columns."""
        return self.x1 - self.x0 + 1

    @property
    def height(self) -> int:
        """Number of rows."""
        return self.y1 - self.y0 + 1

    def as_list(self) -> list[int]:
        """``[x0, y0, x1, y1]``."""
        return [self.x0, self.y0, self.x1, self.y1]

    @classmethod
    def union(cls, boxes: Iterable[Box]) -> Box:
        """The smallest box holding all of ``boxes`` (at least one); it sees the whole image if one does."""
        boxes = list(boxes)
        return cls(
            min(b.x0 for b in boxes),
            min(b.y0 for b in boxes),
            max(b.x1 for b in boxes),
            max(b.y1 for b in boxes),
            any(b.whole_image for b in boxes),
        )


def unit_box(stream: Stream, rows: tuple[int, int], cols: tuple[int, int]) -> Box:
    """Input box of the units ``rows[0]..rows[1]`` x ``cols[0]..cols[1]`` of ``stream``'s output."""
    y0, y1 = input_interval(stream, int(rows[0]), int(rows[1]), 0)
    x0, x1 = input_interval(stream, int(cols[0]), int(cols[1]), 1)
    return Box(int(x0), int(y0), int(x1), int(y1), stream.sees_whole_image)


def stage_map_shapes(model: nn.Module, image_size: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """``(h, w)`` of each stage map for an ``image_size`` input.

    Found by running the model's own ``forward`` on the meta device (shapes only, no
    arithmetic, no memory), so ``ceil_mode``, crops and resizes are exactly the network's.
    """
    meta = {name: torch.empty_like(t, device="meta") for name, t in (*model.named_parameters(), *model.named_buffers())}
    dtype = next(model.parameters()).dtype  # float32, or the half precision a predictor runs it in
    with evaluating(model), torch.no_grad():
        channels = getattr(model, "in_channels", 3)  # U-Net may take one grey channel
        out = functional_call(model, meta, (torch.empty(1, channels, *image_size, device="meta", dtype=dtype),))
    return {name: tuple(out[name].shape[-2:]) for name in model.stage_names}  # type: ignore[attr-defined,misc]


def resized_units(pixel: int, size: int, n: int) -> tuple[int, int]:
    """Units of an ``n``-long map that bilinear resizing to ``size`` (``align_corners=False``) reads at ``pixel``."""
    u = max((pixel + 0.5) * n / size - 0.5, 0.0)
    first = min(math.floor(u), n - 1)
    last = min(first + 1, n - 1) if u > first else first
    return first, last


def pixel_boxes(
    model: nn.Module,
    y: int,
    x: int,
    image_size: tuple[int, int],
    stage_shapes: dict[str, tuple[int, int]] | None = None,
    geometry: dict[str, StageGeometry] | None = None,
) -> dict[str, Box]:
    """Input boxes behind image pixel ``(y, x)``: one per stage, per level, then ``"final"``.

    A stage's box is the union of the boxes of the units that its image-aligned display
    (:func:`fcnviewer.core.alignment.upsample_to_image`) reads at ``(y, x)``; a level's (U-Net's
    decoder levels, :func:`~fcnviewer.core.receptive.table.level_names`) that of its unit nearest
    to ``(y, x)``; ``"final"`` is the box of output pixel ``(y, x)``. Networks without an
    ``"out"`` stream (torchvision's) resize a stride-``s`` map bilinearly (their ``"resized"``
    stream, else their first stage, with the shape of their finest stage), and their ``"final"``
    box follows that resize.
    Stage shapes and geometry are computed with :func:`stage_map_shapes` and
    :func:`stage_geometry` when not given (a viewer has them from the prediction). Not clipped.
    """
    shapes = stage_shapes if stage_shapes is not None else stage_map_shapes(model, image_size)
    geometry = geometry if geometry is not None else stage_geometry(model)
    streams = named_streams(model)
    boxes = {}
    for name, g in geometry.items():
        h, w = shapes[name]
        boxes[name] = unit_box(streams[name], g.units_read(y, h), g.units_read(x, w))
    for name in level_names(model):
        _, stride, offset = stream_rf(streams[name])
        level = StageGeometry(float(stride), offset)
        units = [level.nearest_unit(p, math.ceil(size / stride)) for p, size in zip((y, x), image_size, strict=True)]
        boxes[name] = unit_box(streams[name], (units[0], units[0]), (units[1], units[1]))
    if FINAL in streams:
        boxes[FINAL] = unit_box(streams[FINAL], (y, y), (x, x))
    else:
        finest = min(geometry, key=lambda name: geometry[name].stride)
        (h, w), (height, width) = shapes[finest], image_size
        rows, cols = resized_units(y, height, h), resized_units(x, width, w)
        boxes[FINAL] = unit_box(streams.get(RESIZED, streams[model.stage_names[0]]), rows, cols)  # type: ignore[attr-defined]
    return boxes


def units_seeing(
    model: nn.Module, stage: str, y: int, x: int, stage_shape: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Inclusive unit ranges ``(y0, y1, x0, x1)`` of ``stage``'s map whose box contains input
    pixel ``(y, x)``, or ``None`` when no unit sees it. ``stage`` may also be ``"final"``."""
    stream = stream_of(model, stage)
    ranges: list[int] = []
    for axis, (pixel, n) in enumerate(zip((y, x), stage_shape, strict=True)):
        units = np.arange(n)
        a, b = input_interval(stream, units, units, axis)
        seeing = units[(a <= pixel) & (pixel <= b)]
        if seeing.size == 0:
            return None
        ranges += [int(seeing[0]), int(seeing[-1])]
    return ranges[0], ranges[1], ranges[2], ranges[3]
