"""A convolutionalised classifier's dense map against the classifier run on every crop it stands for.

Unit ``(i, j)`` of the stride-``s`` dense map of a VGG or AlexNet
(:class:`~fcnviewer.core.models.classification.WindowClassifier`) is what the classifier computes
from the crop ``image[s i : s i + 224, s j : s j + 224]``, up to the convolutions' zero padding:
run on the crop alone, a convolution pads the crop's border with zeros where the dense run reads
the true neighbours. Without padding the two are equal (``tests/core/test_dense.py``); with it
they differ near every crop's border, which :func:`compare_with_crops` measures (figures in
``resources/help/dense_classifiers.md``, :func:`fcnviewer.core.resources.dense_classifiers_help`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from fcnviewer.core.receptive import Box, stage_geometry, stage_map_shapes


@dataclass(frozen=True)
class CropComparison:
    """The dense map against per-crop runs: units compared, top-1 agreement, largest absolute score
    difference, the largest score (for scale)."""

    units: int
    top1_agreement: float
    max_abs_difference: float
    max_abs_score: float

    def as_dict(self) -> dict[str, float]:
        """JSON-friendly, rounded."""
        return {
            "units": self.units,
            "top1_agreement": round(self.top1_agreement, 4),
            "max_abs_difference": float(f"{self.max_abs_difference:.4g}"),
            "max_abs_score": float(f"{self.max_abs_score:.4g}"),
            "relative_difference": float(f"{self.max_abs_difference / max(self.max_abs_score, 1e-30):.4g}"),
        }


def crop_of_unit(model: nn.Module, row: int, col: int) -> Box:
    """The crop of the image that dense unit ``(row, col)`` stands for (inclusive pixels)."""
    stride, size = int(stage_geometry(model)["32"].stride), int(model.crop_size)  # type: ignore[attr-defined]
    return Box(stride * col, stride * row, stride * col + size - 1, stride * row + size - 1)


def unit_at(model: nn.Module, y: int, x: int, shape: tuple[int, int]) -> tuple[int, int]:
    """The dense unit nearest to image pixel ``(y, x)`` (by its crop's centre) in an ``(h, w)`` map."""
    geometry = stage_geometry(model)["32"]
    return geometry.nearest_unit(y, shape[0]), geometry.nearest_unit(x, shape[1])


def crop_in_map(model: nn.Module, y: int, x: int, shape: tuple[int, int]) -> tuple[tuple[int, int], Box] | None:
    """:func:`crop_at` from the dense map's ``(h, w)`` shape (a prediction has it: no network run);
    ``None`` for a net whose units stand for no single crop (ResNet, GoogLeNet: a global average pool)."""
    if getattr(model, "crop_size", None) is None:
        return None
    row, col = unit_at(model, y, x, shape)
    return (row, col), crop_of_unit(model, row, col)


def crop_at(model: nn.Module, y: int, x: int, image_size: tuple[int, int]) -> tuple[tuple[int, int], Box]:
    """The dense unit nearest to image pixel ``(y, x)`` and the crop it stands for."""
    row, col = unit_at(model, y, x, stage_map_shapes(model, image_size)["32"])
    return (row, col), crop_of_unit(model, row, col)


def crop_scores(model: nn.Module, inputs: Tensor, units: list[tuple[int, int]], batch: int = 8) -> Tensor:
    """``(len(units), classes)``: the classifier run on the crop of each unit of a ``(1, 3, H, W)`` input."""
    crops = [inputs[0, :, box.y0 : box.y1 + 1, box.x0 : box.x1 + 1] for box in (crop_of_unit(model, *u) for u in units)]
    with torch.no_grad():
        scores = [model.dense(torch.stack(crops[i : i + batch]))[:, :, 0, 0] for i in range(0, len(crops), batch)]  # type: ignore[operator]
    return torch.cat(scores)


def dense_scores(model: nn.Module, inputs: Tensor) -> Tensor:
    """The native dense map ``(classes, h, w)`` of a ``(1, 3, H, W)`` input."""
    with torch.no_grad():
        return model.dense(inputs)[0]  # type: ignore[operator,no-any-return]


def grid_units(shape: tuple[int, int], limit: int | None = None) -> list[tuple[int, int]]:
    """Every unit of an ``(h, w)`` map, or about ``limit`` of them on an evenly spaced sub-grid."""
    h, w = shape
    step = 1 if limit is None or h * w <= limit else math.ceil(math.sqrt(h * w / limit))
    return [(i, j) for i in range(0, h, step) for j in range(0, w, step)]


def compare_with_crops(model: nn.Module, inputs: Tensor, limit: int | None = None) -> CropComparison:
    """The dense map of ``inputs`` against the classifier on each unit's crop (every unit, or ``limit``)."""
    dense = dense_scores(model, inputs)
    units = grid_units(tuple(dense.shape[-2:]), limit)  # type: ignore[arg-type]
    crops = crop_scores(model, inputs, units)
    at_units = torch.stack([dense[:, i, j] for i, j in units])
    agree = (at_units.argmax(1) == crops.argmax(1)).double().mean().item()
    return CropComparison(
        len(units), agree, (at_units - crops).abs().max().item(), max(at_units.abs().max().item(), 0.0)
    )
