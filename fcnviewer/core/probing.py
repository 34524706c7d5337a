"""Probing one pixel: its effective receptive fields at every stage and each branch's contribution;
probing a region: the effective receptive fields of its summed class score.

What the viewer computes after a click or a dragged region (on its worker thread), returned as
numpy so that the caller never touches tensors; :meth:`fcnviewer.core.inference.Predictor.probe`
is the entry point of a click. Either may be smoothed (SmoothGrad) and averaged over more images
of the same size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from torch import Tensor, nn

from fcnviewer.core.models import FCNVGG
from fcnviewer.core.receptive import Box, branch_contributions, effective_receptive_fields, pixel_boxes
from fcnviewer.core.receptive.regions import region_fields
from fcnviewer.core.receptive.targets import Smoothing, noisy_inputs

if TYPE_CHECKING:
    from fcnviewer.core.inference import Predictor

#: An inclusive input-pixel box ``(x0, y0, x1, y1)``, as the viewer holds it.
BoxTuple = tuple[int, int, int, int]

#: The plain field: one copy, no noise.
NO_SMOOTHING = Smoothing()

#: ``progress(done, total)``: called after each gradient pass (it may raise to stop).
Progress = Callable[[int, int], None]

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


def averaged_fields(
    predictor: Predictor,
    images: Sequence[np.ndarray],
    window: tuple[int, int, int, int],
    fields_of: Callable[[Tensor], dict[str, np.ndarray]],
    smoothing: Smoothing = NO_SMOOTHING,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """The mean of ``fields_of(inputs)`` over ``images`` (all of one size) and over the noisy copies
    of each (the same seed for each image), every input cut to ``window`` ``(y0, y1, x0, x1)``."""
    total: dict[str, np.ndarray] = {}
    passes = len(images) * smoothing.copies
    done = 0
    for image in images:
        for inputs in noisy_inputs(image, predictor.info.preprocessing, smoothing, predictor.device, window):
            for name, values in fields_of(inputs).items():
                total[name] = total[name] + values if name in total else values.copy()
            done += 1
            if progress is not None:
                progress(done, passes)
    return {name: values / np.float32(passes) for name, values in total.items()}


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
    union = Box.union(Box(*b) for b in boxes)
    top, left = union.y0 - VGG_PERIOD, union.x0 - VGG_PERIOD
    bottom, right = union.y1 + VGG_PERIOD + 1, union.x1 + VGG_PERIOD + 1
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
    smoothing: Smoothing = NO_SMOOTHING,
    others: Sequence[np.ndarray] = (),
    progress: Progress | None = None,
) -> Probe:
    """Effective receptive fields (every stage) and branch contributions of pixel ``(y, x)`` of an
    ``(H, W, 3)`` uint8 image, for ``class_index`` (default: the pixel's predicted class).

    Runs on :func:`probe_window`'s crop, in float32 on the predictor's ``model``. ``between`` is
    called between the two steps (it may raise to stop). ``boxes``: see :func:`probe_window`.
    With ``smoothing`` or ``others`` (images of the same size), the fields are
    :func:`averaged_fields` over the image and ``others``, each smoothed; the contributions are the
    image's own.
    """
    window = y0, y1, x0, x1 = probe_window(predictor.model, y, x, image.shape[:2], boxes)
    inputs = predictor.info.preprocessing.to_tensor(image[y0:y1, x0:x1], predictor.device)  # float32, as model
    y, x = y - y0, x - x0

    def fields_of(inputs: Tensor, class_index: int | None) -> tuple[dict[str, np.ndarray], int]:
        fields = effective_receptive_fields(predictor.model, inputs, y, x, class_index=class_index)
        return {k: v.values for k, v in fields.items()}, next(iter(fields.values())).class_index

    plain = smoothing == NO_SMOOTHING and not others
    if plain or class_index is None:
        values, class_index = fields_of(inputs, class_index)
    if not plain:
        values = averaged_fields(
            predictor, [image, *others], window, lambda i: fields_of(i, class_index)[0], smoothing, progress
        )
    if between is not None:
        between()
    note = ""
    try:
        contributions = branch_contributions(predictor.model, inputs, y, x, class_index)
    except (ValueError, KeyError) as exc:
        contributions = {}
        note = (
            getattr(predictor.model, "skips_note", "") or f"no branch contributions: {exc} (FCN-VGG's and LRASPP's are)"
        )
    return Probe(values, class_index, contributions, note, origin=(y0, x0))


def probe_region(
    predictor: Predictor,
    image: np.ndarray,
    region: Box,
    class_index: int,
    *,
    boxes: Sequence[BoxTuple] | None = None,
    smoothing: Smoothing = NO_SMOOTHING,
    others: Sequence[np.ndarray] = (),
    progress: Progress | None = None,
) -> Probe:
    """Effective receptive fields, by stage, of class ``class_index``'s score summed over the
    inclusive image ``region`` (:func:`~fcnviewer.core.receptive.regions.region_fields`), averaged
    as in :func:`probe`. Runs on the window that decides both of the region's corners (``boxes``:
    their theoretical boxes, else computed here); no branch contributions."""
    size = image.shape[:2]
    if boxes is None:
        corners = [
            pixel_boxes(predictor.model, y, x, size) for y, x in ((region.y0, region.x0), (region.y1, region.x1))
        ]
        boxes = [tuple(box.as_list()) for found in corners for box in found.values()]  # type: ignore[misc]
    window = y0, _, x0, _ = probe_window(predictor.model, region.y0, region.x0, size, boxes)
    moved = Box(region.x0 - x0, region.y0 - y0, region.x1 - x0, region.y1 - y0)
    values = averaged_fields(
        predictor,
        [image, *others],
        window,
        lambda inputs: region_fields(predictor.model, inputs, moved, class_index),
        smoothing,
        progress,
    )
    return Probe(values, class_index, origin=(y0, x0))
