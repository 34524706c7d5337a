"""The truth's layers, legend numbers and pixel words on a constructed prediction."""

from __future__ import annotations

import numpy as np

from fcnviewer.core.alignment import StageGeometry
from fcnviewer.core.prediction import Prediction, StageMap
from fcnviewer.viewer.layers.truth import (
    CORRECT_ALPHA,
    CORRECT_COLOR,
    IGNORE_COLOR,
    IGNORED_ALPHA,
    WRONG_COLOR,
    ErrorLayer,
)
from fcnviewer.viewer.truth import GroundTruth
from fcnviewer.viewer.viewer_model import ViewerModel

PALETTE = np.array([(0, 0, 0), (200, 0, 0), (0, 0, 200)], np.uint8)
NAMES = ("background", "cat", "dog")


def _prediction(final: np.ndarray, stages: dict[str, np.ndarray]) -> Prediction:
    maps = {
        name: StageMap(name, np.zeros((3, 1, 1), np.float32), StageGeometry(32, 15.5), labels.astype(np.uint8))
        for name, labels in stages.items()
    }
    h, w = final.shape
    logits, confidence = np.zeros((3, h, w), np.float32), np.ones((h, w), np.float32)
    return Prediction(logits, final.astype(np.uint8), confidence, maps, "cpu", 0.0)


# One row of 5 pixels. truth:     cat cat dog bg  ignore
#                      stride 32: dog cat cat bg  cat
#                      final:     cat dog dog bg  dog
TRUTH = np.array([[1, 1, 2, 0, 255]], np.uint8)
COARSE = np.array([[2, 1, 1, 0, 1]])
FINAL = np.array([[1, 2, 2, 0, 2]])


def _shown(stages: dict[str, np.ndarray] | None = None) -> GroundTruth:
    truth = GroundTruth()
    stages = {"32": COARSE, "8": FINAL} if stages is None else stages
    truth.show(TRUTH, _prediction(FINAL, stages), PALETTE, NAMES, [1.0, 0.5, 0.5])
    return truth


def test_errors_are_correct_wrong_and_ignored_in_red_or_the_predicted_colour() -> None:
    truth = _shown()
    rgba = truth.error_layer.rgba
    assert [tuple(rgba[0, i, :3]) for i in range(5)] == [
        CORRECT_COLOR, WRONG_COLOR, CORRECT_COLOR, CORRECT_COLOR, IGNORE_COLOR
    ]  # fmt: skip
    assert rgba[0, 0, 3] == CORRECT_ALPHA < rgba[0, 4, 3] == IGNORED_ALPHA < rgba[0, 1, 3] == 255  # wrong stands out
    assert [truth.error_layer.value_at(0, i) for i in range(5)] == ["correct", "wrong", "correct", "correct", "ignored"]
    truth.error_layer.wrong_color = "predicted class"
    assert tuple(truth.error_layer.rgba[0, 1, :3]) == tuple(PALETTE[2])  # wrong, predicted dog
    assert tuple(truth.error_layer.rgba[0, 0, :3]) == CORRECT_COLOR


def test_fixed_and_broken_by_the_skips_compare_the_coarsest_stage_with_the_final_output() -> None:
    truth = _shown()
    assert truth.fixed_layer.mask.tolist() == [[True, False, True, False, False]]  # 255 is neither
    assert truth.broken_layer.mask.tolist() == [[False, True, False, False, False]]
    assert truth.fixed_layer.value_at(0, 0) == "fixed by the skips (stride 32 wrong)"
    assert truth.broken_layer.value_at(0, 0) is None


def test_a_net_with_one_stage_has_no_skip_layers() -> None:
    truth = _shown({"32": FINAL})
    assert [layer.name for layer in truth.layers] == ["ground truth", "errors"]
    model = ViewerModel()
    truth.sync_layers(model.layers, model.change_layer, keep=True)
    assert "fixed by skips" not in model.layers and "errors" in model.layers


def test_the_truth_layer_hatches_ignored_pixels_and_hides_hidden_classes() -> None:
    truth = GroundTruth()
    labels = np.full((6, 6), 255, np.uint8)
    labels[0, 0] = 1
    prediction = _prediction(np.zeros((6, 6)), {})
    truth.show(labels, prediction, PALETTE, NAMES, [1.0, 0.0, 0.0])
    alpha = truth.truth_layer.rgba[..., 3]
    assert tuple(truth.truth_layer.rgba[0, 0, :3]) == tuple(PALETTE[1]) and alpha[0, 0] == 255
    ignored = alpha[labels == 255]
    assert 0 < (ignored == 255).sum() < ignored.size  # stripes: some drawn grey, some not
    assert truth.truth_layer.value_at(3, 3) == "ignore"
    truth.truth_layer.hidden_classes = {1}
    assert truth.truth_layer.rgba[0, 0, 3] == 0


def test_shares_iu_words_and_taking_over_a_copy() -> None:
    worker_side = _shown()
    assert worker_side.truth_shares == (0.25, 0.5, 0.25)  # of the 4 counted pixels
    worker_side.error_layer.wrong_color = "predicted class"
    shown = GroundTruth()
    shown.take(worker_side)  # coloured in red here: taken over, then coloured again in this one's style
    assert shown.class_iu == (1.0, 0.5, 0.5) and shown.truth_at(0, 2) == 2
    assert tuple(shown.error_layer.rgba[0, 1, :3]) == WRONG_COLOR
    prediction = _prediction(FINAL, {"32": COARSE, "8": FINAL})
    assert shown.describe(0, 0, prediction, NAMES) == "truth: cat (final ✓ · 32 ✗ · 8 ✓)"
    assert shown.describe(0, 4, prediction, NAMES) == "truth: ignore"
    shown.clear()
    assert shown.truth_at(0, 0) is None and shown.describe(0, 0, prediction, NAMES) == ""


def test_the_truth_layers_join_the_layer_list_above_the_anchor_and_leave_it() -> None:
    model = ViewerModel()
    layers = model.layers
    truth = _shown()
    truth.sync_layers(layers, model.change_layer, keep=True)
    names = [layer.name for layer in layers]
    start = names.index("skips changed")
    assert names[start + 1 : start + 5] == ["ground truth", "errors", "fixed by skips", "broken by skips"]
    truth.sync_layers(layers, model.change_layer, keep=False)
    assert not any(isinstance(layer, ErrorLayer) for layer in layers) and "ground truth" not in layers


def test_a_one_stage_nets_truth_layers_go_just_above_its_mask() -> None:
    """A one-stage net has no skip-changes layer: the truth layers anchor on the final mask."""
    model = ViewerModel()
    model._place_change_layer(("32",))
    assert "skips changed" not in model.layers and model.prediction_top() is model.mask_layer
    _shown().sync_layers(model.layers, model.prediction_top(), keep=True)
    names = [layer.name for layer in model.layers]
    start = names.index(model.mask_layer.name)
    assert names[start + 1 : start + 3] == ["ground truth", "errors"]
