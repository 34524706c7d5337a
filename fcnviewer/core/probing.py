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

from fcnviewer.core.receptive import Box, branch_contributions, effective_receptive_fields, pixel_boxes
from fcnviewer.core.receptive.erf import pixel_fields
from fcnviewer.core.receptive.paths import SkipPath, skip_paths
from fcnviewer.core.receptive.regions import region_fields
from fcnviewer.core.receptive.table import FINAL
from fcnviewer.core.receptive.targets import Smoothing, averaged_fields
from fcnviewer.core.windows import BoxTuple, Window, probe_window

if TYPE_CHECKING:
    from fcnviewer.core.inference import Predictor

#: The plain field: one copy, no noise.
NO_SMOOTHING = Smoothing()

#: ``progress(done, total)``: called after each gradient pass (it may raise to stop).
Progress = Callable[[int, int], None]


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

    Runs on :func:`~fcnviewer.core.windows.probe_window`'s window, in float32 on the predictor's
    ``model``; the contributions come from the fields' own forward pass (with smoothing and a
    given class, from a pass of their own). ``between`` is called once the fields are done (it may
    raise to stop). ``boxes``: see
    :func:`~fcnviewer.core.windows.probe_window`. With ``smoothing`` or ``others`` (images of the
    same size), the fields are :func:`~fcnviewer.core.receptive.targets.averaged_fields` over the
    image and ``others``, each smoothed; the contributions are the image's own.
    """
    model, size = predictor.model, image.shape[:2]
    window = probe_window(model, y, x, size, boxes)
    inputs = window.inputs(image, predictor.info.preprocessing, predictor.device)
    y, x = y - window.origin[0], x - window.origin[1]
    paths, note = _paths(model)
    contributions: dict[str, float] | None = None
    plain = smoothing == NO_SMOOTHING and not others

    def fields_of(inputs: Tensor) -> dict[str, np.ndarray]:
        found = effective_receptive_fields(model, inputs, y, x, class_index=class_index)
        return {stage: field.values for stage, field in found.items()}

    with window.running(model):
        if plain or class_index is None:
            fields, contributions = pixel_fields(model, inputs, y, x, class_index=class_index, paths=paths)
            values, class_index = {k: v.values for k, v in fields.items()}, fields[FINAL].class_index
        if not plain:
            values = _averaged(predictor, window, fields_of, [image, *others], smoothing, progress)
        if between is not None:
            between()
        if contributions is None:
            contributions = branch_contributions(model, inputs, y, x, class_index) if paths else {}
    shown = {k: window.visible(v, size) for k, v in values.items()}
    return Probe(shown, class_index, contributions, note, origin=window.corner)


def _averaged(
    predictor: Predictor,
    window: Window,
    fields_of: Callable[[Tensor], dict[str, np.ndarray]],
    images: Sequence[np.ndarray],
    smoothing: Smoothing,
    progress: Progress | None,
) -> dict[str, np.ndarray]:
    """:func:`~fcnviewer.core.receptive.targets.averaged_fields` of ``fields_of`` on ``window`` of ``images``."""
    preprocessing, device = predictor.info.preprocessing, predictor.device
    return averaged_fields(fields_of, images, preprocessing, smoothing, device, window.bounds, progress)


def _paths(model: nn.Module) -> tuple[list[SkipPath], str]:
    """The network's skip paths, or none and a note that says why it has no branch contributions."""
    try:
        return skip_paths(model), ""
    except (ValueError, KeyError) as exc:
        note = getattr(model, "skips_note", "") or f"no branch contributions: {exc} (FCN-VGG's and LRASPP's are)"
        return [], note


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
    model, size = predictor.model, image.shape[:2]
    if boxes is None:
        corners = [pixel_boxes(model, y, x, size) for y, x in ((region.y0, region.x0), (region.y1, region.x1))]
        boxes = [tuple(box.as_list()) for found in corners for box in found.values()]  # type: ignore[misc]
    window = probe_window(model, region.y0, region.x0, size, boxes)
    top, left = window.origin
    moved = Box(region.x0 - left, region.y0 - top, region.x1 - left, region.y1 - top)
    with window.running(model):
        fields_of = lambda inputs: region_fields(model, inputs, moved, class_index)  # noqa: E731
        values = _averaged(predictor, window, fields_of, [image, *others], smoothing, progress)
    return Probe({k: window.visible(v, size) for k, v in values.items()}, class_index, origin=window.corner)
