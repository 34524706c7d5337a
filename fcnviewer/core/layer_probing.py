"""Probing one layer at a pixel, or the skip paths: what the viewer's network panel shows.

The ERF of a layer's unit (:func:`~fcnviewer.core.receptive.layer_target`, the channel sum of the
unit nearest to the pixel) or of each skip path's share of the final logit
(:func:`~fcnviewer.core.receptive.paths.path_fields`), computed on the image window that decides
them (:func:`~fcnviewer.core.windows.probe_window`: for FCN-VGG the same numbers as on the whole
image), as numpy for the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fcnviewer.core.receptive import gradient_map, layer_target
from fcnviewer.core.receptive.paths import path_boxes, path_fields
from fcnviewer.core.windows import BoxTuple, probe_window, whole_window

if TYPE_CHECKING:
    from fcnviewer.core.inference import Predictor


@dataclass(frozen=True, eq=False)
class LayerProbe:
    """ERF maps (one for a layer, one per skip path) of the image window starting at ``origin``
    (row, column), the exact boxes ``(x0, y0, x1, y1)`` in image pixels by the same keys, and for a
    layer its ``unit`` (row, column in the whole image's map), for the paths their ``shares`` of
    the final logit."""

    fields: dict[str, np.ndarray]
    boxes: dict[str, BoxTuple]
    origin: tuple[int, int] = (0, 0)
    unit: tuple[int, int] | None = None
    shares: dict[str, float] | None = None


def probe_layer(
    predictor: Predictor,
    image: np.ndarray,
    y: int,
    x: int,
    layer: str,
    *,
    boxes: Sequence[BoxTuple] = (),
) -> LayerProbe:
    """The ERF of ``layer``'s unit nearest to pixel ``(y, x)`` of an ``(H, W, 3)`` uint8 image, on
    the window around ``boxes`` (the unit's box as drawn; none: the whole image), in float32."""
    model, size = predictor.model, image.shape[:2]
    window = probe_window(model, y, x, size, boxes) if boxes else whole_window(size)
    inputs = window.inputs(image, predictor.info.preprocessing, predictor.device)
    top, left = window.origin
    target = layer_target(model, layer, y - top, x - left)
    with window.running(model):
        values = window.visible(gradient_map(model, target, inputs), size)
    assert target.unit is not None and target.box is not None  # set by the forward pass
    shift = (round(top / target.stride), round(left / target.stride))
    unit = (target.unit[0] + shift[0], target.unit[1] + shift[1])
    b = target.box
    box = (b.x0 + left, b.y0 + top, b.x1 + left, b.y1 + top)
    return LayerProbe({layer: values}, {layer: box}, window.corner, unit)


def probe_paths(
    predictor: Predictor, image: np.ndarray, y: int, x: int, class_index: int, stage_shapes: dict[str, tuple[int, int]]
) -> LayerProbe:
    """Each skip path's ERF and share of ``class_index``'s final logit at pixel ``(y, x)``, and its box
    (``stage_shapes``: the prediction's map sizes, for networks that resize their output)."""
    model, size = predictor.model, image.shape[:2]
    boxes = {k: tuple(b.as_list()) for k, b in path_boxes(model, y, x, size, stage_shapes).items()}
    window = probe_window(model, y, x, size, list(boxes.values()))  # type: ignore[arg-type]
    inputs = window.inputs(image, predictor.info.preprocessing, predictor.device)
    top, left = window.origin
    with window.running(model):
        shares, fields = path_fields(model, inputs, y - top, x - left, class_index)
    shown = {k: window.visible(v, size) for k, v in fields.items()}
    return LayerProbe(shown, boxes, window.corner, shares=shares)  # type: ignore[arg-type]
