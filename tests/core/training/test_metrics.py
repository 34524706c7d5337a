"""The paper's four metrics against hand-computed values, with ignore labels and absent classes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fcnviewer.core.training.metrics import ConfusionMatrix, fast_hist, scores


def test_two_class_matrix_by_hand():
    # rows: truth, columns: prediction
    hist = np.array([[3, 1], [2, 4]])
    s = scores(hist)
    assert s["pixel_acc"] == pytest.approx(7 / 10)
    assert s["class_acc"] == pytest.approx([3 / 4, 4 / 6])
    assert s["mean_acc"] == pytest.approx((3 / 4 + 4 / 6) / 2)
    iu0, iu1 = 3 / (4 + 5 - 3), 4 / (6 + 5 - 4)
    assert s["class_iu"] == pytest.approx([iu0, iu1])
    assert s["mean_iu"] == pytest.approx((iu0 + iu1) / 2)
    assert s["fw_iu"] == pytest.approx(0.4 * iu0 + 0.6 * iu1)


def test_absent_class_never_predicted_is_left_out():
    hist = np.array([[5, 0, 1], [0, 0, 0], [1, 0, 3]])
    s = scores(hist)
    assert math.isnan(s["class_iu"][1]) and math.isnan(s["class_acc"][1])
    iu0, iu2 = 5 / (6 + 6 - 5), 3 / (4 + 4 - 3)
    assert s["mean_iu"] == pytest.approx((iu0 + iu2) / 2)
    assert s["mean_acc"] == pytest.approx((5 / 6 + 3 / 4) / 2)
    assert s["fw_iu"] == pytest.approx(0.6 * iu0 + 0.4 * iu2)
    assert s["pixel_acc"] == pytest.approx(8 / 10)


def test_absent_class_that_is_predicted_counts_as_zero_iu():
    hist = np.array([[4, 2], [0, 0]])
    s = scores(hist)
    assert s["class_iu"][1] == 0.0
    assert math.isnan(s["class_acc"][1])
    assert s["mean_iu"] == pytest.approx((4 / 6 + 0.0) / 2)
    assert s["mean_acc"] == pytest.approx(4 / 6)
    assert s["fw_iu"] == pytest.approx(4 / 6)


def test_empty_matrix_is_nan_not_an_error():
    s = scores(np.zeros((3, 3), dtype=np.int64))
    assert all(math.isnan(s[k]) for k in ("pixel_acc", "mean_acc", "mean_iu", "fw_iu"))


def test_perfect_prediction():
    labels = np.array([[0, 1, 2], [2, 1, 0]])
    s = scores(fast_hist(labels, labels, 3))
    assert s["pixel_acc"] == s["mean_acc"] == s["mean_iu"] == s["fw_iu"] == 1.0


def test_ignore_label_and_accumulation():
    labels = np.array([[0, 0, 255], [1, 1, 1]], dtype=np.uint8)
    preds = np.array([[0, 1, 1], [1, 1, 0]])
    cm = ConfusionMatrix(2)
    cm.update(labels, preds)
    np.testing.assert_array_equal(cm.matrix, [[1, 1], [1, 2]])
    cm.update(torch.from_numpy(labels.astype(np.int64)), torch.from_numpy(preds))
    np.testing.assert_array_equal(cm.matrix, [[2, 2], [2, 4]])
    assert cm.scores()["pixel_acc"] == pytest.approx(6 / 10)
    cm.reset()
    assert cm.matrix.sum() == 0


def test_shape_mismatch_and_bad_matrix_rejected():
    with pytest.raises(ValueError):
        ConfusionMatrix(2).update(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError):
        scores(np.zeros((2, 3)))


def test_matches_reference_formulas_on_random_data():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 1000)
    labels[rng.random(1000) < 0.1] = 255
    preds = rng.integers(0, 5, 1000)
    hist = fast_hist(labels, preds, 5)
    # score.py of the reference implementation
    acc = np.diag(hist).sum() / hist.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        acc_cls = np.nanmean(np.diag(hist) / hist.sum(1))
        iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist))
    freq = hist.sum(1) / hist.sum()
    s = scores(hist)
    assert hist.sum() == (labels != 255).sum()
    assert s["pixel_acc"] == pytest.approx(acc)
    assert s["mean_acc"] == pytest.approx(acc_cls)
    assert s["mean_iu"] == pytest.approx(np.nanmean(iu))
    assert s["fw_iu"] == pytest.approx((freq[freq > 0] * iu[freq > 0]).sum())
