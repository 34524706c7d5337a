"""Segmentation metrics of the FCN paper, from a confusion matrix.

Following the reference ``score.py`` of Long, Shelhamer and Darrell, with ``n_ij`` the number
of pixels of class ``i`` predicted as ``j`` and ``t_i = sum_j n_ij``:

- pixel accuracy ``sum_i n_ii / sum_i t_i``;
- mean accuracy ``(1/n_cl) sum_i n_ii / t_i``;
- mean IU ``(1/n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)``;
- frequency weighted IU ``(sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii)``.

Classes whose ratio is 0/0 (absent from the labels and never predicted; for accuracy,
absent from the labels) are left out of the means (``nanmean``), as in the reference.
Pixels labelled 255 (or any label outside ``0 .. n - 1``) are ignored.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from fcnviewer.core.labels import IGNORE_INDEX


def fast_hist(
    labels: np.ndarray | torch.Tensor, predictions: np.ndarray | torch.Tensor, num_classes: int
) -> np.ndarray:
    """``(n, n)`` int64 confusion matrix, rows true class, columns predicted class.

    Pixels whose label is not in ``0 .. n - 1`` (e.g. 255, "ignore") are not counted.
    """
    if isinstance(labels, torch.Tensor) or isinstance(predictions, torch.Tensor):
        a = torch.as_tensor(labels).reshape(-1).long()
        b = torch.as_tensor(predictions).reshape(-1).long().to(a.device)
        keep = (a >= 0) & (a < num_classes)
        counts = torch.bincount(num_classes * a[keep] + b[keep], minlength=num_classes**2)
        return counts[: num_classes**2].reshape(num_classes, num_classes).cpu().numpy().astype(np.int64)
    a = np.asarray(labels).reshape(-1).astype(np.int64)
    b = np.asarray(predictions).reshape(-1).astype(np.int64)
    if a.shape != b.shape:
        raise ValueError(f"labels and predictions differ in size: {a.shape} vs {b.shape}")
    keep = (a >= 0) & (a < num_classes)
    counts = np.bincount(num_classes * a[keep] + b[keep], minlength=num_classes**2)
    return counts[: num_classes**2].reshape(num_classes, num_classes).astype(np.int64)


class ConfusionMatrix:
    """Accumulates a confusion matrix over batches; ``255`` labels are ignored."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, not {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, labels: np.ndarray | torch.Tensor, predictions: np.ndarray | torch.Tensor) -> None:
        """Add ``labels`` vs ``predictions`` (same shape; any layout)."""
        if tuple(labels.shape) != tuple(predictions.shape):
            raise ValueError(f"labels {tuple(labels.shape)} and predictions {tuple(predictions.shape)} differ in shape")
        self.matrix += fast_hist(labels, predictions, self.num_classes)

    def reset(self) -> None:
        self.matrix[:] = 0

    def scores(self) -> dict[str, Any]:
        """See :func:`scores`."""
        return scores(self.matrix)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return num.astype(np.float64) / den.astype(np.float64)


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


def scores(hist: np.ndarray) -> dict[str, Any]:
    """The paper's metrics of confusion matrix ``hist``.

    Returns ``pixel_acc``, ``mean_acc``, ``mean_iu``, ``fw_iu`` (floats; ``nan`` when
    undefined, e.g. for an empty matrix) and ``class_acc``, ``class_iu`` (lists with
    ``nan`` for classes where the ratio is 0/0).
    """
    hist = np.asarray(hist, dtype=np.int64)
    if hist.ndim != 2 or hist.shape[0] != hist.shape[1]:
        raise ValueError(f"a confusion matrix must be square, not {hist.shape}")
    diag = np.diag(hist)
    truth = hist.sum(axis=1)
    predicted = hist.sum(axis=0)
    total = hist.sum()
    class_acc = _ratio(diag, truth)
    class_iu = _ratio(diag, truth + predicted - diag)
    freq = _ratio(truth, np.asarray(total))
    valid = freq > 0
    return {
        "pixel_acc": float(diag.sum() / total) if total else math.nan,
        "mean_acc": _nanmean(class_acc),
        "mean_iu": _nanmean(class_iu),
        "fw_iu": float((freq[valid] * class_iu[valid]).sum()) if total else math.nan,
        "class_acc": [float(v) for v in class_acc],
        "class_iu": [float(v) for v in class_iu],
    }


#: The single-number scores of :func:`scores`, in the order a summary lists them.
SUMMARY_KEYS: tuple[str, ...] = ("pixel_acc", "mean_acc", "mean_iu", "fw_iu")
