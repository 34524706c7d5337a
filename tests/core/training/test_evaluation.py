"""``evaluate``'s per-image scores: each image's own confusion matrix, beside the set's one matrix."""

from __future__ import annotations

import numpy as np
import pytest

from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.training import evaluate
from fcnviewer.core.training.data.synthetic import SYNTHETIC_PREPROCESSING, SyntheticScenes
from fcnviewer.core.training.evaluation import evaluate_labels
from fcnviewer.core.training.metrics import fast_hist, scores
from tests.conftest import randomize


def test_each_image_gets_its_own_scores_and_the_set_one_matrix():
    model = randomize(build_model(ArchSpec("fcn8s", 6, 1 / 32)), seed=2)
    scenes = SyntheticScenes(range(5), 40)
    result = evaluate(model, scenes, SYNTHETIC_PREPROCESSING, "cpu", per_image=True)
    assert [image["index"] for image in result["images"]] == list(range(5))
    assert set(result["images"][0]["stages"]) == {"32", "16", "8"}
    # equal image sizes and no ignored pixels: the set's pixel accuracy is the mean of the images'
    mean = np.mean([image["final"]["pixel_acc"] for image in result["images"]])
    assert result["final"]["pixel_acc"] == pytest.approx(mean, abs=1e-12)
    assert "images" not in evaluate(model, scenes, SYNTHETIC_PREPROCESSING, "cpu")


def test_an_image_mean_leaves_out_classes_absent_from_it_and_the_set_keeps_one_matrix():
    truth = [np.array([[0, 0], [1, 255]]), np.array([[2, 2], [2, 0]])]
    predicted = [np.array([[0, 1], [1, 1]]), np.array([[2, 2], [0, 0]])]
    dataset = [(np.zeros((2, 2, 3), np.uint8), labels) for labels in truth]
    answers = iter(predicted)
    result = evaluate_labels(lambda image: {"final": next(answers)}, dataset, 3, (), per_image=True)
    first = result["images"][0]["final"]
    assert first["pixel_acc"] == pytest.approx(2 / 3)  # the 255 pixel is not counted
    assert first["mean_iu"] == pytest.approx((1 / 2 + 1 / 2) / 2)  # class 2 is in neither: left out
    total = scores(sum(fast_hist(t, p, 3) for t, p in zip(truth, predicted, strict=True)))
    assert result["final"]["mean_iu"] == total["mean_iu"] and result["final"]["mean_iu"] != pytest.approx(
        np.mean([image["final"]["mean_iu"] for image in result["images"]])
    )
