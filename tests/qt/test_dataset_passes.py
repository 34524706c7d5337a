"""A labelled dataset in the window: the image shown and the walk's step of the same image share one
forward pass."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from tests.qt.test_dataset_view import _dataset, _walked


def _count_passes(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Count the predictor's forward passes (on any thread) from now on."""
    from fcnviewer.core.inference import Predictor

    passes, lock, predict = [0], threading.Lock(), Predictor.predict

    def counted(self, image, progress=None):  # type: ignore[no-untyped-def]
        with lock:
            passes[0] += 1
        return predict(self, image, progress)

    monkeypatch.setattr(Predictor, "predict", counted)
    return passes


def _click_row(qtbot, window, row: int, image: Path) -> None:  # type: ignore[no-untyped-def]
    datasets = window.dataset_view.datasets
    datasets.open_row(row)
    qtbot.waitUntil(lambda: window.image_path == image and window.model.prediction is not None, timeout=30000)
    qtbot.waitUntil(lambda: datasets.truth.truth is not None, timeout=30000)


def test_the_image_shown_and_the_walk_share_its_forward_pass(qtbot, window, checkpoint, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = _dataset(tmp_path / "data", ["a", "b", "c"])
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60000):
        window.load_model(checkpoint)
    passes = _count_passes(monkeypatch)
    datasets = _walked(qtbot, window, root)
    qtbot.waitUntil(lambda: window.model.prediction is not None and datasets.truth.truth is not None, timeout=30000)
    assert window.image_path == root / "images" / "a.png"
    assert passes[0] == 3  # one per image: the first image's display and walk step are one pass (4 before)
    _click_row(qtbot, window, 2, root / "images" / "c.png")
    assert passes[0] == 3  # the walk's last step is the image now shown
    _click_row(qtbot, window, 0, root / "images" / "a.png")
    assert passes[0] == 4  # walked long ago: predicted again
    assert all(row.scores is not None for row in datasets.table.rows)


def test_a_kept_prediction_serves_only_the_same_pixels_and_predictor() -> None:
    from fcnviewer.qt.recent_predictions import RecentPredictions

    class Counting:
        def __init__(self) -> None:
            self.runs = 0

        def predict(self, image, progress=None):  # type: ignore[no-untyped-def]
            self.runs += 1
            return object()

    recent, first, second = RecentPredictions(), Counting(), Counting()
    image = np.zeros((4, 6, 3), np.uint8)
    made = recent.predict(first, image)  # type: ignore[arg-type]
    assert recent.predict(first, image.copy()) is made and first.runs == 1  # the same pixels, another array
    other = image.copy()
    other[0, 0, 0] = 1
    assert recent.predict(first, other) is not made and first.runs == 2  # one pixel differs
    assert recent.predict(second, image) is not made and second.runs == 1  # another model
    assert recent.predict(first, other.reshape(6, 4, 3)) and first.runs == 3  # the same bytes, another shape
