"""The effective receptive fields of a region of the output, at every stage: what the network
used to call that region one class."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor, nn

from fcnviewer.core.alignment import StageGeometry
from fcnviewer.core.receptive.boxes import Box
from fcnviewer.core.receptive.table import FINAL, evaluating, stage_geometry


def region_units(geometry: StageGeometry, region: Box, shape: tuple[int, int]) -> Box:
    """The units ``(x0, y0, x1, y1)``, inclusive, of a stage map of ``shape`` whose centres are
    nearest to the corners of the image ``region`` (at least one unit)."""

    def nearest(pixel: int, n: int) -> int:
        return int(np.clip(np.rint((pixel - geometry.offset) / geometry.stride), 0, n - 1))

    height, width = shape
    return Box(
        nearest(region.x0, width), nearest(region.y0, height), nearest(region.x1, width), nearest(region.y1, height)
    )


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
    leaf = inputs.detach().clone().requires_grad_(True)
    fields = {}
    with evaluating(model), torch.enable_grad():
        out = model(leaf)
        for i, name in enumerate(names):
            scores = out["out" if name == FINAL else name][0]
            if name == FINAL:
                units = region
            elif name in geometry:
                units = region_units(geometry[name], region, tuple(scores.shape[-2:]))
            else:
                raise ValueError(f"unknown stage {name!r}; expected one of {', '.join([*geometry, FINAL])}")
            c = class_index if scores.shape[0] > 1 else 0
            total = scores[c, units.y0 : units.y1 + 1, units.x0 : units.x1 + 1].sum()
            (grad,) = torch.autograd.grad(total, leaf, retain_graph=i < len(names) - 1)
            fields[name] = grad[0].abs().sum(0).detach().to("cpu", torch.float32).numpy()
    return fields
