"""Probing one pixel: its effective receptive fields at every stage and each branch's contribution.

What the viewer computes after a click (on its worker thread), returned as numpy so that the
caller never touches tensors; :meth:`fcnviewer.core.inference.Predictor.probe` is the entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from torch import nn

from fcnviewer.core.models import FCNVGG
from fcnviewer.core.receptive import branch_contributions, effective_receptive_fields, pixel_boxes

if TYPE_CHECKING:
    from fcnviewer.core.inference import Predictor

#: An inclusive input-pixel box ``(x0, y0, x1, y1)``, as the viewer holds it.
BoxTuple = tuple[int, int, int, int]

#: Stride of the coarsest FCN-VGG stage: shifting the input by a multiple of it shifts every map exactly.
VGG_PERIOD = 32


@dataclass(frozen=True, eq=False)
class Probe:
    """ERF maps by stage (``"final"`` and stage names) of the image window starting at ``origin``
    (row, column; zero outside it), the class they are of, and the branch contributions to that
    class's final logit (empty, with a ``note``, for networks without FCN skip branches)."""

    fields: dict[str, np.ndarray]
    class_index: int
    contributions: dict[str, float] = field(default_factory=dict)
    note: str = ""
    origin: tuple[int, int] = (0, 0)


def probe_window(
    model: nn.Module, y: int, x: int, size: tuple[int, int], boxes: Sequence[BoxTuple] | None = None
) -> tuple[int, int, int, int]:
    """Rows ``y0:y1`` and columns ``x0:x1`` of the image that decide pixel ``(y, x)`` at every stage.

    For FCN-VGG the union of the pixel's receptive-field boxes, widened to start on a multiple
    of 32: the network then computes the same numbers on that crop as on the whole image (so
    the effective RF of a 4096x4096 image costs what a crop of about 600x600 does). Networks
    that resize to the input's size (FCN-ResNet) get the whole image.

    ``boxes`` (``(x0, y0, x1, y1)`` each), when the caller has them (the viewer draws them from
    the prediction's own map shapes), spare computing them again: that takes a forward pass on
    meta tensors, whose first run imports ``torch._dynamo`` (about a second and 175 MB).
    """
    height, width = size
    if not isinstance(model, FCNVGG):
        return 0, height, 0, width
    if boxes is None:
        boxes = [tuple(box.as_list()) for box in pixel_boxes(model, y, x, size).values()]  # type: ignore[misc]
    top, left = min(b[1] for b in boxes) - VGG_PERIOD, min(b[0] for b in boxes) - VGG_PERIOD
    bottom, right = max(b[3] for b in boxes) + VGG_PERIOD + 1, max(b[2] for b in boxes) + VGG_PERIOD + 1
    y0, x0 = max(0, top // VGG_PERIOD * VGG_PERIOD), max(0, left // VGG_PERIOD * VGG_PERIOD)
    return y0, min(height, bottom), x0, min(width, right)


def probe(
    predictor: Predictor,
    image: np.ndarray,
    y: int,
    x: int,
    *,
    class_index: int | None = None,
    between: Callable[[], None] | None = None,
    boxes: Sequence[BoxTuple] | None = None,
) -> Probe:
    """Effective receptive fields (every stage) and branch contributions of pixel ``(y, x)`` of an
    ``(H, W, 3)`` uint8 image, for ``class_index`` (default: the pixel's predicted class).

    Runs on :func:`probe_window`'s crop, in float32 on the predictor's ``model``. ``between`` is
    called between the two steps (it may raise to stop). ``boxes``: see :func:`probe_window`.
    """
    y0, y1, x0, x1 = probe_window(predictor.model, y, x, image.shape[:2], boxes)
    inputs = predictor.info.preprocessing.to_tensor(image[y0:y1, x0:x1], predictor.device)  # float32, as model
    y, x = y - y0, x - x0
    fields = effective_receptive_fields(predictor.model, inputs, y, x, class_index=class_index)
    if between is not None:
        between()
    found_class = next(iter(fields.values())).class_index
    note = ""
    try:
        contributions = branch_contributions(predictor.model, inputs, y, x, found_class)
    except (ValueError, KeyError) as exc:
        contributions = {}
        note = (
            getattr(predictor.model, "skips_note", "") or f"no branch contributions: {exc} (FCN-VGG's and LRASPP's are)"
        )
    values = {k: v.values for k, v in fields.items()}
    return Probe(values, found_class, contributions, note, origin=(y0, x0))
