"""The window's layout: the canvas keeps most of the window, docks keep their width, a saved
layout that does not fit is not restored."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import QApplication

from fcnviewer.qt.window_layout import DOCK_MAX_SHARE


def _settle(qtbot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        QApplication.processEvents()
        qtbot.wait(10)


def test_canvas_keeps_most_of_the_window_at_any_size(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    for size in ((640, 400), (1600, 1000), (900, 600)):
        window.resize(*size)
        _settle(qtbot)
        assert window.canvas.width() >= 0.55 * window.width(), (size, window.canvas.width())
        for name, dock in window.docks.items():
            if window.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea:  # the network panel spans it
                assert window.canvas.height() >= 0.5 * window.height(), (size, window.canvas.height())
                continue
            assert dock.width() <= max(dock.minimumWidth(), DOCK_MAX_SHARE * window.width()) + 1, (size, name)


def test_selecting_layers_never_resizes_the_dock(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    _settle(qtbot)
    dock, canvas = win.docks["layers"], win.canvas
    before = (dock.width(), canvas.width())
    for layer in list(win.model.layers):
        win.layer_panel.select(layer)
        _settle(qtbot)
        assert (dock.width(), canvas.width()) == before, layer.name


def test_a_layout_that_does_not_fit_the_screen_is_not_restored(qtbot, settings) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.qt.main_window import MainWindow

    first = MainWindow(settings, device="cpu")
    qtbot.addWidget(first)
    first.show()
    screen = first.screen().availableGeometry()
    first.resize(screen.width() * 3, screen.height() * 3)  # e.g. saved on a larger monitor
    first.setGeometry(0, 0, screen.width() * 3, screen.height() * 3)
    first.settings.set_value("geometry", first.saveGeometry())
    first.settings.set_value("state", QByteArray(b"an old layout"))
    geometry = first.settings.value("geometry")
    first.settings.close()
    first.controller.close()
    settings.setValue("geometry", geometry)
    settings.setValue("state", QByteArray(b"an old layout"))
    settings.sync()
    second = MainWindow(settings, device="cpu")
    qtbot.addWidget(second)
    second.show()
    _settle(qtbot)
    assert second.width() <= screen.width() and second.height() <= screen.height()
    assert second.canvas.width() >= 0.55 * second.width()
    second.close()
    for win in (first, second):
        assert win.worker_thread.thread.wait(60000)


def test_every_layers_controls_fit_the_narrowest_dock(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.qt.layer_controls import controls_for
    from fcnviewer.qt.window_layout import DOCK_MIN_WIDTH

    for layer in loaded_window.model.layers:
        controls = controls_for(layer)
        qtbot.addWidget(controls)
        assert controls.minimumSizeHint().width() <= DOCK_MIN_WIDTH - 8, layer.name
