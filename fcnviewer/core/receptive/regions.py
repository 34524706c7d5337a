"""The effective receptive fields of a region of the output, at every stage: what the network
used to call that region one class."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from torch import Tensor, nn

from fcnviewer.core.alignment import StageGeometry, interpolation_matrix
from fcnviewer.core.receptive.boxes import Box
from fcnviewer.core.receptive.erf import input_gradients
from fcnviewer.core.receptive.table import FINAL, stage_geometry


def region_units(geometry: StageGeometry, region: Box, shape: tuple[int, int]) -> Box:
    """The units ``(x0, y0, x1, y1)``, inclusive, of a stage map of ``shape`` whose centres are
    nearest to the corners of the image ``region`` (at least one unit)."""
    height, width = shape
    x0, x1 = (geometry.nearest_unit(x, width) for x in (region.x0, region.x1))
    y0, y1 = (geometry.nearest_unit(y, height) for y in (region.y0, region.y1))
    return Box(x0, y0, x1, y1)


def region_fields(
    model: nn.Module, inputs: Tensor, region: Box, class_index: int, stages: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """``|d score / d inputs|`` summed over input channels, ``(H, W)`` float32, by stage: the score
    is class ``class_index``'s logit summed over the inclusive ``region`` of the output (``"final"``,
    as :func:`~fcnviewer.core.receptive.region_target`) or over the units of a stage map nearest
    to the region's corners (:func:`region_units`). A one-logit sigmoid head's logit serves every
    class. One forward pass (eval mode, ``inputs``' device) serves all ``stages`` (default: every
    stage map, then ``"final"``)."""
    names = list(stages) if stages is not None else [*model.stage_names, FINAL]  # type: ignore[attr-defined]
    geometry = stage_geometry(model)
    output_stage = getattr(model, "output_stage", None)

    def sums(leaf: Tensor) -> dict[str, Tensor]:
        out = model.stage_maps(leaf) if output_stage else model(leaf)  # type: ignore[operator]
        found = {}
        for name in names:
            scores = out[(output_stage or "out") if name == FINAL else name][0]
            c = class_index if scores.shape[0] > 1 else 0
            if name == FINAL and output_stage:
                found[name] = _aligned_region_sum(scores[c], geometry[output_stage], region)
            elif name == FINAL or name in geometry:
                units = region if name == FINAL else region_units(geometry[name], region, tuple(scores.shape[-2:]))
                found[name] = scores[c, units.y0 : units.y1 + 1, units.x0 : units.x1 + 1].sum()
            else:
                raise ValueError(f"unknown stage {name!r}; expected one of {', '.join([*geometry, FINAL])}")
        return found

    return input_gradients(model, inputs, sums)


def _aligned_region_sum(scores: Tensor, geometry: StageGeometry, region: Box) -> Tensor:
    """The sum over the image ``region`` of an ``(h, w)`` map aligned to the image as the viewer
    aligns it (bilinear, clamped), without making it: each unit's weight is the sum of the
    interpolation weights it gets from the region's rows times those from its columns."""
    rows, cols = (
        interpolation_matrix(geometry, np.arange(lo, hi + 1), n, scores).sum(0)
        for lo, hi, n in ((region.y0, region.y1, scores.shape[0]), (region.x0, region.x1, scores.shape[1]))
    )
    return rows @ scores @ cols
