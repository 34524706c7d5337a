"""Lovász-softmax: on hard predictions it equals 1 - IU averaged over the classes present."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fcnviewer.core.labels import IGNORE_INDEX
from fcnviewer.core.training.losses import lovasz_softmax, segmentation_loss
from fcnviewer.core.training.metrics import ConfusionMatrix


def _one_hot(predictions: torch.Tensor, classes: int) -> torch.Tensor:
    return F.one_hot(predictions, classes).permute(0, 3, 1, 2).float()


@pytest.mark.parametrize("seed", range(4))
def test_on_hard_predictions_it_is_one_minus_the_iu_of_the_classes_present(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (2, 9, 7), generator=gen)  # class 4 of 5 is never present
    predictions = torch.where(torch.rand(labels.shape, generator=gen) < 0.3, torch.randint(0, 5, labels.shape), labels)
    labels[0, :2] = IGNORE_INDEX
    matrix = ConfusionMatrix(5)
    matrix.update(labels, predictions)
    iu = np.diag(matrix.matrix) / (matrix.matrix.sum(0) + matrix.matrix.sum(1) - np.diag(matrix.matrix))
    present = matrix.matrix.sum(1) > 0
    expected = float(np.mean(1 - iu[present]))
    assert lovasz_softmax(_one_hot(predictions, 5), labels).item() == pytest.approx(expected, abs=1e-6)


def test_perfect_predictions_cost_nothing_and_nothing_labelled_costs_nothing() -> None:
    labels = torch.tensor([[[0, 1], [2, 2]]])
    assert lovasz_softmax(_one_hot(labels, 3), labels).item() == 0.0
    probabilities = torch.full((1, 3, 2, 2), 1 / 3, requires_grad=True)
    empty = lovasz_softmax(probabilities, torch.full((1, 2, 2), IGNORE_INDEX))
    assert empty.item() == 0.0
    empty.backward()  # still part of the graph
    assert probabilities.grad is not None


def test_its_gradient_raises_the_true_class_and_the_total_adds_it_to_the_cross_entropy() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 6, 6, requires_grad=True)
    labels = torch.randint(0, 3, (2, 6, 6))
    lovasz_softmax(logits.softmax(1), labels).backward()
    grad = logits.grad
    assert grad is not None
    true_grad = grad.gather(1, labels[:, None]).squeeze(1)
    assert (true_grad <= 1e-7).all() and (true_grad < 0).any()  # descending raises the true class's logit
    ce = F.cross_entropy(logits, labels)
    total = segmentation_loss(logits, labels, lovasz=0.5)
    assert total.item() == pytest.approx(ce.item() + 0.5 * lovasz_softmax(logits.softmax(1), labels).item(), rel=1e-6)
    assert segmentation_loss(logits, labels).item() == pytest.approx(ce.item(), rel=1e-6)
