"""The controller on its own (no window): requests, dispatch by kind, pins and reports, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fcnviewer.qt.controller import Controller
from fcnviewer.viewer.viewer_model import ViewerModel


@pytest.fixture
def controller(qtbot) -> Iterator[Controller]:  # type: ignore[no-untyped-def]
    controller = Controller(ViewerModel(), device="cpu", precision="float32")
    yield controller
    controller.close()
    for thread in (controller.worker_thread, controller.files_thread):
        assert thread.thread.wait(60000)


def test_a_model_and_an_image_give_a_prediction_then_a_click_its_probe(
    qtbot, controller: Controller, checkpoint: Path, image_path: Path
) -> None:  # type: ignore[no-untyped-def]
    opened: list[str] = []
    busy: list[bool] = []
    reports: list[list[object]] = []
    controller.opened.connect(opened.append)
    controller.busy_changed.connect(busy.append)
    controller.reports_changed.connect(reports.append)
    signals = [controller.model_loaded, controller.image_shown, controller.prediction_shown]
    with qtbot.waitSignals(signals, timeout=30000):
        controller.load_model(checkpoint)
        controller.open_paths([image_path])
    model = controller.model
    assert controller.image_path == image_path and controller.images == [image_path]
    assert model.prediction is not None and model.prediction.size == (96, 128)
    assert "fcn8s" in controller.model_text and "cpu float32" in controller.model_text
    assert set(opened) == {str(image_path), str(checkpoint)} and busy[0] is True
    with qtbot.waitSignal(controller.probe_shown, timeout=30000):
        boxes = controller.pin_pixel(40, 50)
        assert set(boxes) == {"32", "16", "8", "final"} and reports[-1][0].contributions is None  # type: ignore[attr-defined]
    assert model.erf_layer.has_data and controller.reports[0].contributions is not None
    assert reports[-1] == controller.reports
    controller.clear_pins()
    assert controller.reports == [] and not model.boxes_layer.pins and not model.erf_layer.has_data
    qtbot.waitUntil(lambda: busy[-1] is False, timeout=30000)


def test_errors_and_early_clicks_are_told_not_raised(qtbot, controller: Controller, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    errors: list[tuple[str, bool]] = []
    statuses: list[str] = []
    controller.error.connect(lambda message, dialog: errors.append((message, dialog)))
    controller.status.connect(lambda message, _ms: statuses.append(message))
    assert controller.pin_pixel(1, 1) == {} and statuses[0].startswith("no model is loaded: open a checkpoint")
    (tmp_path / "notes.txt").write_text("not an image")
    empty = tmp_path / "empty"
    empty.mkdir()
    controller.open_paths([empty])
    assert errors == [(f"{empty}: no images found there", True)]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"broken")
    with qtbot.waitSignal(controller.error, timeout=30000) as blocker:
        controller.open_paths([broken])
    assert blocker.args[0].startswith(f"{broken}: ") and blocker.args[1] is True
    devices: list[str] = []
    controller.device_changed.connect(devices.append)
    with pytest.raises(ValueError):
        controller.set_device("abacus")
    controller.set_device("cpu")  # no model yet: nothing to reload
    assert devices == ["cpu"] and controller.worker_thread.worker.pending() == []
