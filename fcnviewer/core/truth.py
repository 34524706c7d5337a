"""A prediction against its ground truth: per-stage confusion matrices and the scores of one image.

The stage maps are compared as :class:`~fcnviewer.core.inference.Prediction` holds them: the
argmax of each map upsampled onto the image's pixels by :mod:`fcnviewer.core.alignment`, the
rule :func:`fcnviewer.core.training.evaluate` (``fcnviewer eval``) uses, so that summing these
matrices over a dataset gives ``eval``'s numbers (in float32; a bfloat16 forward may differ
in a few pixels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fcnviewer.core.datasets import DatasetEntry, DatasetError, mask_problem, read_mask
from fcnviewer.core.training.metrics import fast_hist, scores

#: The scores each image gets of its own (``eval``'s ``"images"``, the viewer's image list).
IMAGE_KEYS: tuple[str, ...] = ("mean_iu", "pixel_acc")


@dataclass(frozen=True)
class ImageScores:
    """One image's scores: ``mean_iu`` and ``pixel_acc`` of the final output and of each stage
    (keys ``"final"`` then the stages, coarse to fine), and their confusion matrices."""

    mean_iu: dict[str, float]
    pixel_acc: dict[str, float]
    confusion: dict[str, np.ndarray]

    def brief(self, key: str) -> dict[str, float]:
        """The :data:`IMAGE_KEYS` scores of ``key`` (``"final"`` or a stage)."""
        return {name: getattr(self, name)[key] for name in IMAGE_KEYS}


def read_truth(
    mask: Path, image_size: tuple[int, int], num_classes: int, shown: str | Path | None = None
) -> tuple[np.ndarray | None, str]:
    """The ``(H, W)`` uint8 labels of mask file ``mask``, or ``None`` and why it cannot be compared
    with a prediction of an ``image_size`` image by a ``num_classes`` network (one sentence naming
    the file as ``shown``, by default its name)."""
    shown = shown or mask.name
    try:
        truth = read_mask(mask)
    except (DatasetError, OSError, ValueError) as exc:
        return None, str(exc) if isinstance(exc, DatasetError) else f"{shown} cannot be read: {exc}"
    problem = mask_problem(truth, image_size, num_classes)
    return (None, f"{shown} {problem}") if problem else (truth, "")


def image_scores(labels_by_stage: Mapping[str, Any], truth: np.ndarray, num_classes: int) -> ImageScores:
    """Mean IU, pixel accuracy and confusion matrix of each labels of ``labels_by_stage`` (``"final"``
    then the stages, :meth:`~fcnviewer.core.prediction.Prediction.labels_by_stage`; arrays or tensors)
    against ``truth``."""
    for labels in labels_by_stage.values():
        if tuple(labels.shape) != tuple(truth.shape):
            raise ValueError(f"labels {tuple(truth.shape)} and predictions {tuple(labels.shape)} differ in shape")
    confusion = {name: fast_hist(truth, labels, num_classes) for name, labels in labels_by_stage.items()}
    found = {name: scores(matrix) for name, matrix in confusion.items()}
    return ImageScores(
        mean_iu={name: s["mean_iu"] for name, s in found.items()},
        pixel_acc={name: s["pixel_acc"] for name, s in found.items()},
        confusion=confusion,
    )


def entry_truth(entry: DatasetEntry, image_size: tuple[int, int], num_classes: int) -> tuple[np.ndarray | None, str]:
    """:func:`read_truth` of a dataset entry; an entry without a mask gives ``(None, "no mask")``."""
    if entry.mask is None:
        return None, "no mask"
    return read_truth(entry.mask, image_size, num_classes)
