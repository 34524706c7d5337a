"""A convolutionalised ImageNet classifier in the viewer: no full-size scores, its classes, crops and help."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from fcnviewer.core.alignment import upsample_to_image
from tests.qt.conftest import make_image


def _state_dict_file(folder: Path, arch: str) -> Path:
    torch.manual_seed(0)
    path = folder / f"{arch}.pth"
    torch.save(getattr(torchvision.models, arch)(weights=None).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def classifier_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A random torchvision AlexNet and ResNet-18 as bare state dicts, and a 256x300 image."""
    folder = tmp_path_factory.mktemp("classifiers")
    image = make_image(folder / "photo.png", height=256, width=300)
    return _state_dict_file(folder, "alexnet"), _state_dict_file(folder, "resnet18"), image


@pytest.fixture
def alexnet_window(qtbot, window, classifier_files):  # type: ignore[no-untyped-def]
    alexnet, _, image = classifier_files
    with qtbot.waitSignal(window.prediction_shown, timeout=60000):
        window.load_model(alexnet)
        window.open_paths([image])
    return window


def test_a_classifier_predicts_without_full_size_scores_and_shows_its_imagenet_classes(alexnet_window) -> None:  # type: ignore[no-untyped-def]
    model = alexnet_window.model
    prediction = model.prediction
    assert prediction.logits is None and prediction.output_stage == "32"
    stage = prediction.stages["32"]
    full = upsample_to_image(torch.from_numpy(stage.scores), stage.geometry, *prediction.size)
    np.testing.assert_array_equal(prediction.labels, full.argmax(0).numpy())
    np.testing.assert_allclose(prediction.confidence, torch.softmax(full, 0).max(0).values.numpy(), rtol=1e-5)
    assert model.class_names[0] == "tench" and model.hidden_classes == frozenset()
    assert "skips changed" not in model.layers
    assert "one per 224x224 crop on a stride-32 grid" in alexnet_window.model_label.text()


def test_the_legend_lists_the_classes_present_by_share(alexnet_window) -> None:  # type: ignore[no-untyped-def]
    legend, model = alexnet_window.legend_panel, alexnet_window.model
    counts = np.bincount(model.prediction.labels.ravel(), minlength=1000)
    present = np.flatnonzero(counts)
    assert sorted(legend.rows) == list(present) and legend.table.rowCount() == len(present)
    assert [counts[i] for i in legend.rows] == sorted(counts[present], reverse=True)
    assert legend.note.text() == f"{len(present)} of 1000 classes present"
    assert legend.table.item(0, 0).text() == model.class_names[legend.rows[0]]
    legend.table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    assert model.hidden_classes == {legend.rows[0]}


def test_the_score_map_starts_on_the_most_frequent_class(alexnet_window) -> None:  # type: ignore[no-untyped-def]
    model = alexnet_window.model
    top = int(np.bincount(model.prediction.labels.ravel()).argmax())
    assert model.layers["score 32"].class_index == top


def test_a_click_draws_the_crop_its_dense_unit_stands_for(alexnet_window) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.dense import crop_at

    win = alexnet_window
    y, x = 200, 250
    win.controller.pin_pixel(y, x)
    (row, col), box = crop_at(win.controller.loaded.model, y, x, win.model.prediction.size)
    boxes = win.model.boxes_layer.pins[-1].boxes
    assert boxes[f"crop of unit ({row}, {col})"] == (box.x0, box.y0, box.x1, box.y1)
    assert box.x1 - box.x0 + 1 == 224 and boxes["32"][2] - boxes["32"][0] + 1 > 224  # the RF reaches further
    names = [stage.stage for stage in win.controller.reports[-1].stages]
    assert f"crop of unit ({row}, {col})" in names


def test_a_resnet_click_says_there_is_no_single_crop(qtbot, window, classifier_files) -> None:  # type: ignore[no-untyped-def]
    _, resnet, image = classifier_files
    with qtbot.waitSignal(window.prediction_shown, timeout=60000):
        window.load_model(resnet)
        window.open_paths([image])
    with qtbot.waitSignal(window.controller.status) as blocker:
        window.controller.pin_pixel(100, 100)
    assert "no single crop" in blocker.args[0] and "pools globally" in blocker.args[0]
    assert not any(k.startswith("crop") for k in window.model.boxes_layer.pins[-1].boxes)


def test_the_help_menu_shows_the_dense_classifier_figures(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    action = next(a for a in window.actions() if a.text().replace("&", "").startswith("Dense Classifiers"))
    action.trigger()
    dialog = window.menus.help_dialog
    text = dialog.browser.toPlainText()
    assert dialog.isVisible() and "top-1 agreement" in text and "48 %" in text and "0.097" in text
    dialog.close()
    QApplication.processEvents()


def test_the_inspector_names_the_crop(alexnet_window) -> None:  # type: ignore[no-untyped-def]
    win = alexnet_window
    win.controller.pin_pixel(10, 10)
    text = win.inspector.toPlainText()
    assert "crop of unit (0, 0)" in text and "the classifier's view: x 0–223, y 0–223" in text


def test_an_fcn_after_the_classifier_gets_its_skips_layer_and_background_back(
    qtbot, alexnet_window, checkpoint
) -> None:  # type: ignore[no-untyped-def]
    win = alexnet_window
    with qtbot.waitSignal(win.prediction_shown, timeout=60000):
        win.load_model(checkpoint)
    layers = win.model.layers
    assert layers.index(layers["skips changed"]) == layers.index(win.model.mask_layer) + 1
    assert win.model.hidden_classes == {0} and win.legend_panel.rows == [0, 1, 2, 3]
    assert not win.legend_panel.note.isVisible() and win.model.prediction.logits is not None
