"""The status bar: texts never run into each other, and none outlives the image or model it describes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from tests.qt.conftest import make_image


def test_long_texts_are_cut_not_run_together(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    long = "a very long description of a pixel " * 20
    win.hover_label.setText(long)
    win.model_label.setText("model " * 40)
    win.report_error("a long error message " * 20, dialog=False)
    QApplication.processEvents()
    assert win.model_label.width() <= win.statusBar().width() / 2  # room is left for the message
    win.statusBar().clearMessage()
    QApplication.processEvents()
    hover, model = win.hover_label.geometry(), win.model_label.geometry()
    assert hover.right() < model.left() and model.right() <= win.statusBar().width()
    assert win.hover_label.text() == long and win.hover_label.toolTip() == long  # the whole text stays readable
    assert win.statusBar().minimumSizeHint().width() < win.width()


def test_hover_text_goes_with_its_image_and_model(qtbot, loaded_window, checkpoint32: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    win.canvas.hovered.emit(90, 120)
    assert win.hover_label.text().startswith("x 120, y 90")
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        win.open_paths([make_image(tmp_path / "small.png", 32, 32, seed=4)])
    assert win.hover_label.text() == ""
    win.canvas.hovered.emit(3, 4)
    assert win.hover_label.text().startswith("x 4, y 3")
    with qtbot.waitSignal(win.model_loaded, timeout=20000):
        win.load_model(checkpoint32)
    assert win.hover_label.text() == ""
