"""Pretrained models in the viewer: the catalogue dialog, a download with progress on the worker,
and its cancel; against 127.0.0.1 only."""

from __future__ import annotations

import dataclasses
import http.server
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication, QProgressDialog, QPushButton

from fcnviewer.core.catalogue import VOC_SBD, catalogue
from fcnviewer.qt.pretrained_dialog import COLUMNS, show_pretrained_models


@pytest.fixture
def held_server(local_zoo, http_server, serve) -> Iterator[tuple[str, threading.Event]]:
    """A server that sends the first 1.1 MB of the tiny model, then waits for the event to send the rest."""
    payload = (http_server[1] / "tiny.pth").read_bytes()
    assert len(payload) > 1_200_000
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[:1_100_000])
            self.wfile.flush()
            release.wait(30)
            self.wfile.write(payload[1_100_000:])

        def log_message(self, *args) -> None:
            pass

    yield f"{serve(Handler)}/tiny.pth", release
    release.set()


def test_the_dialog_lists_the_catalogue_and_loads_the_chosen_model(qtbot, window, local_zoo) -> None:
    dialog = show_pretrained_models(window)
    names = [dialog.table.item(row, 0).text() for row in range(dialog.table.rowCount())]
    assert names == list(catalogue()) and dialog.table.columnCount() == len(COLUMNS)
    row = names.index(local_zoo.name)
    assert [dialog.table.item(row, c).text() for c in range(len(COLUMNS))] == [
        local_zoo.name, "fcn_vgg", VOC_SBD, "21", "~513 MB", "no",
    ]  # fmt: skip
    progress: list[tuple[int, int]] = []
    window.controller.download_progress.connect(lambda name, done, total: progress.append((done, total)))
    dialog.table.selectRow(row)
    with qtbot.waitSignal(window.model_loaded, timeout=30000):
        dialog.load_button.click()
    assert not [w for w in QApplication.topLevelWidgets() if w.objectName() == "pretrained-dialog" and w.isVisible()]
    assert window.loaded.info.spec.arch == "fcn8s-atonce" and window.loaded.info.training["data"] == VOC_SBD
    assert progress and progress[-1][0] == progress[-1][1] == local_zoo.cached_path.stat().st_size
    qtbot.waitUntil(lambda: window.download_progress.dialog is None)
    assert window.recent_paths() == []  # a name is not a file to reopen
    again = show_pretrained_models(window)
    assert again.table.item(row, len(COLUMNS) - 1).text() == "yes"
    again.close()


def test_cancel_stops_the_download_keeps_the_model_and_leaves_no_part_file(
    qtbot, loaded_window, local_zoo, held_server
) -> None:
    url, release = held_server
    catalogue()[local_zoo.name] = dataclasses.replace(local_zoo, url=url)
    shown = loaded_window.loaded
    loaded_window.load_model(local_zoo.name)
    qtbot.waitUntil(lambda: loaded_window.download_progress.dialog is not None, timeout=20000)
    dialog = loaded_window.download_progress.dialog
    assert isinstance(dialog, QProgressDialog) and dialog.isVisible() and not dialog.isModal()
    assert dialog.labelText().startswith(f"{local_zoo.name}: 1.0 of 2.")
    loaded_window.canvas.zoom_by(1.5)  # the window answers while the worker downloads
    QApplication.processEvents()
    dialog.findChild(QPushButton).click()  # Cancel
    release.set()
    qtbot.waitUntil(lambda: "cancelled" in loaded_window.last_error, timeout=20000)
    assert url in loaded_window.last_error and "nothing was kept" in loaded_window.last_error
    qtbot.waitUntil(lambda: loaded_window.download_progress.dialog is None)
    assert loaded_window.loaded is shown and loaded_window.model.prediction is not None
    assert list(local_zoo.cached_path.parent.iterdir()) == []


def _visible(name: str) -> list:
    return [w for w in QApplication.topLevelWidgets() if w.objectName() == name and w.isVisible()]


def test_a_synthetic_model_on_a_photo_offers_the_pretrained_models_once(qtbot, window, tmp_path, image_path) -> None:
    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint
    from fcnviewer.core.models import ArchSpec, build_model
    from fcnviewer.core.resources import sample_images

    spec = ArchSpec("fcn8s", 6, 1 / 16)
    info = dataclasses.replace(ModelInfo.default_for(spec), training={"data": "synthetic"})
    checkpoint = save_checkpoint(tmp_path / "synthetic.safetensors", build_model(spec), info)
    with qtbot.waitSignal(window.prediction_shown, timeout=30000):
        window.load_model(checkpoint)
        window.open_paths([sample_images()[0]])
    assert _visible("notice-dialog") == []  # a bundled scene is what the model knows
    with qtbot.waitSignal(window.prediction_shown, timeout=30000):
        window.open_paths([image_path])
    (hint,) = _visible("notice-dialog")
    next(b for b in hint.buttons() if b.text() == "Pretrained Models…").click()
    (dialog,) = _visible("pretrained-dialog")
    dialog.close()
    with qtbot.waitSignal(window.prediction_shown, timeout=30000):
        window.open_paths([image_path])
    assert _visible("notice-dialog") == []  # once a session
