"""Training losses: the cross entropy of the paper, plus the Lovász-softmax surrogate of mean IU.

Lovász-softmax (Berman, Rannen Triki & Blaschko, CVPR 2018) is the convex Lovász extension of
each class's Jaccard loss (1 - IU), evaluated at the softmax errors. On hard (one-hot)
predictions it *is* ``1 - IU`` averaged over the classes present, so it optimises the metric
the paper reports rather than per-pixel accuracy, which helps the small classes (thin bars,
rings) that a pixel-averaged loss under-weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from fcnviewer.core.labels import IGNORE_INDEX


def _jaccard_gradient(foreground_sorted: Tensor) -> Tensor:
    """Lovász gradient: the increments of the Jaccard loss as errors are added in sorted order."""
    total = foreground_sorted.sum()
    intersection = total - foreground_sorted.cumsum(0)
    union = total + (1.0 - foreground_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


def lovasz_softmax(probabilities: Tensor, labels: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Mean over the classes present in ``labels`` of the Lovász extension of 1 - IU.

    ``probabilities``: ``(N, C, H, W)`` softmax output; ``labels``: ``(N, H, W)`` class indices,
    ``ignore_index`` left out. The pixels of the whole batch count together, like the
    confusion matrix of mean IU. Zero when nothing is labelled.
    """
    classes = probabilities.shape[1]
    flat = probabilities.permute(0, 2, 3, 1).reshape(-1, classes)
    target = labels.reshape(-1)
    keep = target != ignore_index
    flat, target = flat[keep], target[keep]
    losses = []
    for c in torch.unique(target).tolist():
        foreground = (target == c).to(flat.dtype)
        errors, order = torch.sort((foreground - flat[:, c]).abs(), descending=True)
        losses.append(torch.dot(errors, _jaccard_gradient(foreground[order])))
    return torch.stack(losses).mean() if losses else probabilities.sum() * 0.0


def segmentation_loss(logits: Tensor, labels: Tensor, *, weights: Tensor | None = None, lovasz: float = 0.0) -> Tensor:
    """Cross entropy (class ``weights``, label 255 ignored), plus ``lovasz`` times Lovász-softmax."""
    logits = logits.float()
    loss = F.cross_entropy(logits, labels, weight=weights, ignore_index=IGNORE_INDEX)
    if lovasz:
        loss = loss + lovasz * lovasz_softmax(logits.softmax(1), labels)
    return loss


def cross_entropy_sum(logits: Tensor, labels: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The (class-weighted) cross entropy summed over the labelled pixels, and the sum of their
    weights (their number, unweighted): the mean cross entropy is the first over the second.

    Data-parallel training sums both over the processes before dividing, so its loss is the
    mean over every pixel of the whole batch, whatever share of them each process holds.
    """
    logits = logits.float()
    total = F.cross_entropy(logits, labels, weight=weights, ignore_index=IGNORE_INDEX, reduction="sum")
    labelled = labels[labels != IGNORE_INDEX]
    if weights is not None:
        return total, weights[labelled].sum()
    return total, torch.tensor(float(labelled.numel()), device=logits.device)
