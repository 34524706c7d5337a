"""The names a labelled dataset gives its classes in the window: shown everywhere when the model only
numbers its classes; beside a model's own names, they name the truth alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from tests.qt.test_dataset_view import NUM_CLASSES, _dataset, _walked

NAMES = ("sky", "sea", "sand", "rock")


def _opened(qtbot, window, checkpoint: Path, root: Path):  # type: ignore[no-untyped-def]
    (root / "classes.txt").write_text("\n".join(NAMES) + "\n")
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60000):
        window.load_model(checkpoint)
    datasets = _walked(qtbot, window, root)
    qtbot.waitUntil(lambda: window.model.prediction is not None and datasets.truth.truth is not None, timeout=30000)
    return datasets


def _legend(window) -> list[str]:  # type: ignore[no-untyped-def]
    table = window.legend_panel.table
    return [table.item(row, 0).text() for row in range(table.rowCount())]


def _assert_names_at_a_pixel(window, root: Path, predicted_names: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """The status bar and the inspector name a pixel's true class as the dataset does, the predicted
    class by ``predicted_names``."""
    y, x = 30, 20
    true = int(np.asarray(Image.open(root / "masks" / "a.png"))[y, x])
    predicted = int(window.model.prediction.labels[y, x])
    assert f"truth: {NAMES[true]} (final " in window.describe_pixel(y, x)
    window.pin_pixel(y, x)
    text = window.inspector.toPlainText()
    assert f"truth\n■ {NAMES[true]}\n" in text and f"■ final\n■ {predicted_names[predicted]} " in text
    assert window.model.mask_layer.value_at(y, x) == predicted_names[predicted]  # coloured on the worker too
    assert window.dataset_view.datasets.truth.truth_layer.value_at(y, x) == NAMES[true]


def test_a_dataset_names_the_classes_of_a_model_that_only_numbers_them(qtbot, window, checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = _dataset(tmp_path / "data", ["a", "b"])
    _opened(qtbot, window, checkpoint, root)
    assert window.controller.loaded.info.class_names == tuple(f"class {i}" for i in range(NUM_CLASSES))
    assert _legend(window) == list(NAMES)  # "class 0" ... before
    _assert_names_at_a_pixel(window, root, NAMES)


def test_a_models_own_names_name_its_predictions_and_the_datasets_the_truth(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint, save_checkpoint
    from tests.qt.conftest import make_checkpoint

    loaded = load_checkpoint(make_checkpoint(tmp_path / "numbered.safetensors"))
    own = ("void", "water", "beach", "stone")
    named = save_checkpoint(
        tmp_path / "named.safetensors", loaded.model, dataclasses.replace(loaded.info, class_names=own)
    )
    root = _dataset(tmp_path / "data", ["a", "b"])
    _opened(qtbot, window, named, root)
    assert _legend(window) == list(own)
    _assert_names_at_a_pixel(window, root, own)
