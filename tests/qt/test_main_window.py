"""The main window with a tiny model: clicks, layers, files, errors, exports, responsiveness."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from tests.qt.conftest import Heartbeat, make_image


def test_click_draws_the_core_boxes_and_fills_the_inspector(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.receptive import pixel_boxes

    win = loaded_window
    prediction = win.model.prediction
    shapes = {name: stage.scores.shape[-2:] for name, stage in prediction.stages.items()}
    y, x = 40, 70
    point = win.canvas.scene_point(y + 0.5, x + 0.5).toPoint()
    with qtbot.waitSignal(win.probe_shown, timeout=20000):
        qtbot.mouseClick(win.canvas.viewport(), Qt.MouseButton.LeftButton, pos=point)
        (pin,) = win.model.boxes_layer.pins  # drawn at once, before the worker answers
        assert not win.model.erf_layer.has_data
    expected = pixel_boxes(win.loaded.model, y, x, prediction.size, shapes)
    assert (pin.y, pin.x) == (y, x)
    assert {k: list(v) for k, v in pin.boxes.items()} == {k: b.as_list() for k, b in expected.items()}
    assert win.model.erf_layer.has_data and win.model.erf_layer.data.shape == prediction.size
    (report,) = win.reports
    assert report.contributions is not None and set(report.contributions) == {"stride32", "pool4", "pool3"}
    logits = prediction.logits[:, y, x]
    assert sum(report.contributions.values()) == pytest.approx(float(logits[report.contribution_class]), abs=1e-3)
    text = win.inspector.toPlainText()
    assert f"x={x}, y={y}" in text and "stride 32" in text and "pool4 path" in text
    final = report.stages[-1]
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert final.top[0] == (int(np.argmax(logits)), pytest.approx(float(probabilities.max()), rel=1e-5))


def test_layers_are_coloured_on_the_worker_as_styled(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    model = win.model
    model.layers["stage 16"].mode = "contour"
    model.hidden_classes = {1}
    model.layers["score 8"].class_index = 2
    results: list[object] = []
    win.worker_thread.signals.returned.connect(results.append)
    with qtbot.waitSignal(win.prediction_shown, timeout=20000):
        with qtbot.waitSignal(win.worker_thread.signals.started, timeout=20000):
            win.open_paths([make_image(tmp_path / "next.png", 64, 96, seed=8)])
        model.layers["score 32"].colormap = "gray"  # changed while the network runs
    (result,) = results
    prepared = result.prepared.layers  # type: ignore[attr-defined]
    for name in ("final mask", "stage 16", "score 8", "uncertainty", "skips changed"):
        assert model.layers[name].rgba is prepared[name].rgba, name
    assert model.layers["stage 16"].mode == "contour" and model.layers["stage 16"].hidden_classes == {1}
    assert model.layers["score 8"].class_index == 2
    assert model.layers["score 32"].rgba is not prepared["score 32"].rgba  # coloured again, in gray
    assert model.layers["score 32"].colormap == "gray"


def test_shift_click_keeps_earlier_pins(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    win.pin_pixel(10, 10)
    win.pin_pixel(50, 90, keep=True)
    assert [(p.y, p.x) for p in win.model.boxes_layer.pins] == [(10, 10), (50, 90)]
    qtbot.waitUntil(lambda: all(r.contributions is not None for r in win.reports), timeout=20000)
    assert win.inspector.toPlainText().index("#2") < win.inspector.toPlainText().index("#1")
    win.pin_pixel(20, 20)
    assert len(win.model.boxes_layer.pins) == 1
    win.clear_pins()
    assert not win.model.boxes_layer.pins and not win.reports


def pixels_differ(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ between two renders."""
    return float((np.abs(a.astype(int) - b.astype(int)).sum(2) > 30).mean())


def test_toggling_layers_changes_what_is_drawn(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    model = win.model
    model.set_show_background(True)  # every pixel coloured (the tiny model's stage 32 sees mostly class 0)
    mask = model.mask_layer
    with_mask = win.canvas.rendered_rgb()
    mask.visible = False
    plain = win.canvas.rendered_rgb()
    assert pixels_differ(with_mask, plain) > 0.05
    mask.visible = True
    assert pixels_differ(win.canvas.rendered_rgb(), with_mask) == 0
    mask.opacity = 1.0
    assert pixels_differ(win.canvas.rendered_rgb(), with_mask) > 0.05
    mask.visible = False
    stage = model.layers["stage 32"]
    stage.visible = True
    assert pixels_differ(win.canvas.rendered_rgb(), plain) > 0.05
    stage.visible = False
    score = model.layers["score 8"]
    score.visible = True
    assert pixels_differ(win.canvas.rendered_rgb(), plain) > 0.05
    score.visible = False
    before_click = win.canvas.rendered_rgb()
    with qtbot.waitSignal(win.probe_shown, timeout=20000):
        win.pin_pixel(48, 64)
    after = win.canvas.rendered_rgb()
    assert pixels_differ(after, before_click) > 0.001  # boxes and the effective RF
    model.boxes_layer.visible = model.erf_layer.visible = False
    assert pixels_differ(win.canvas.rendered_rgb(), before_click) == 0


def test_toggling_a_large_layer_costs_nothing(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    model = window.model
    side = 2048
    model.set_image(np.zeros((side, side, 3), np.uint8))
    model.set_classes(["a", "b"], np.array([[0, 0, 0], [255, 0, 0]], np.uint8))
    labels = np.zeros((side, side), np.uint8)
    labels[: side // 2] = 1
    model.mask_layer.set_labels(labels, model.palette, model.class_names)
    window.canvas.set_image_size(side, side)
    window.canvas.rendered_rgb()
    start = time.perf_counter()
    for _ in range(10):
        model.mask_layer.visible = not model.mask_layer.visible
        model.mask_layer.opacity = 0.3 if model.mask_layer.visible else 0.7
    elapsed = (time.perf_counter() - start) / 10
    assert elapsed < 0.005, f"toggle took {elapsed * 1000:.2f} ms"


def test_status_bar_describes_the_pixel_under_the_cursor(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    prediction = win.model.prediction
    y, x = 30, 20
    text = win.describe_pixel(y, x)
    name = win.model.class_names[int(prediction.labels[y, x])]
    assert text.startswith(f"x {x}, y {y}") and f"{name} {prediction.confidence[y, x]:.1%}" in text
    for stage_name, stage in prediction.stages.items():
        assert f"{stage_name}: {win.model.class_names[int(stage.labels[y, x])]}" in text
    point = win.canvas.mapFromScene(win.canvas.view.mapViewToScene(QPointF(x + 0.5, y + 0.5)))
    qtbot.mouseMove(win.canvas.viewport(), point)
    qtbot.waitUntil(lambda: win.hover_label.text() == text, timeout=3000)


def test_legend_shows_shares_and_hides_classes(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    legend = win.legend_panel
    assert win.model.hidden_classes == {0} and legend.table.item(0, 0).checkState() == Qt.CheckState.Unchecked
    win.model.set_show_background(True)
    counts = np.bincount(win.model.prediction.labels.ravel(), minlength=4)
    for index in range(4):
        assert legend.share_text(index) == f"{100 * counts[index] / counts.sum():.1f} %"
    shown = int(np.argmax(counts))
    legend.table.item(shown, 0).setCheckState(Qt.CheckState.Unchecked)
    assert win.model.hidden_classes == {shown}
    assert all(layer.hidden_classes == {shown} for layer in win.model.label_layers())
    mask = win.model.mask_layer
    assert (mask.rgba[..., 3][mask.labels == shown] == 0).all()
    win.model.hidden_classes = set()
    assert legend.table.item(shown, 0).checkState() == Qt.CheckState.Checked


def test_bad_image_keeps_what_is_shown(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    prediction, image = win.model.prediction, win.model.image
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with qtbot.waitSignal(win.error_shown) as blocker:
        win.open_paths([broken])
    assert str(broken) in blocker.args[0] and str(broken) in win.statusBar().currentMessage()
    assert win.model.prediction is prediction and win.model.image is image
    assert win.model.mask_layer.has_data


def test_bad_checkpoint_keeps_the_model(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    loaded, prediction = win.loaded, win.model.prediction
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    with qtbot.waitSignal(win.error_shown, timeout=20000) as blocker:
        win.open_paths([broken])
    assert blocker.args[0].startswith(f"{broken}: ")
    assert win.loaded is loaded and win.model.prediction is prediction
    with qtbot.waitSignal(win.prediction_shown, timeout=20000):  # the old model still predicts
        win.open_paths([make_image(tmp_path / "other.png", 64, 64, seed=3)])
    assert win.model.prediction.size == (64, 64)


def test_stale_predictions_are_dropped(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    first = make_image(tmp_path / "first.png", 80, 80, seed=4)
    second = make_image(tmp_path / "second.png", 48, 72, seed=5)
    shown: list[tuple[int, int]] = []
    win.prediction_shown.connect(lambda: shown.append(win.model.prediction.size))
    returned: list[object] = []
    win.worker_thread.signals.returned.connect(returned.append)
    with qtbot.waitSignal(win.worker_thread.signals.started, timeout=20000):
        win.open_paths([first])
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        win.open_paths([second])  # while the first one runs
    qtbot.waitUntil(lambda: bool(shown), timeout=20000)
    assert [r.prediction.size for r in returned] == [(80, 80), (48, 72)]  # the first came back...
    assert shown == [(48, 72)]  # ...and was dropped


def test_a_bfloat16_window_predicts_and_probes(qtbot, settings, checkpoint: Path, image_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.qt.main_window import MainWindow

    win = MainWindow(settings, device="cpu", precision="bfloat16")
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(win.prediction_shown, timeout=30000):
            win.load_model(checkpoint)
            win.open_paths([image_path])
        assert win.model_label.text().endswith("cpu bfloat16")
        assert win.model.mask_layer.labels.shape == win.model.image.shape[:2]
        with qtbot.waitSignal(win.probe_shown, timeout=30000):
            win.pin_pixel(20, 30)
        report = win.reports[0]
        assert set(report.contributions) == {"stride32", "pool4", "pool3"}
        assert win.model.erf_layer.has_data
    finally:
        win.close()
        for thread in (win.worker_thread, win.files_thread):
            assert thread.thread.wait(60000)


def test_changing_model_and_device(qtbot, loaded_window, checkpoint32: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    with qtbot.waitSignals([win.model_loaded, win.prediction_shown], timeout=20000):
        win.load_model(checkpoint32)
    assert win.loaded.info.spec.arch == "fcn32s" and win.model.stages == ("32",)
    assert "stage 16" not in win.model.layers and "score 32" in win.model.layers
    assert win.legend_panel.table.rowCount() == 3
    assert "tiny32s.pth" in win.model_label.text()
    with qtbot.waitSignals([win.model_loaded, win.prediction_shown], timeout=20000):
        win.set_device("cpu")
    assert win.loaded.info.spec.arch == "fcn32s"
    with qtbot.waitSignal(win.probe_shown, timeout=20000):
        win.pin_pixel(5, 5)
    assert set(win.reports[0].contributions) == {"stride32"}


def test_an_unavailable_device_keeps_the_model_where_it_was(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    win = loaded_window
    loaded = win.loaded
    with qtbot.waitSignal(win.error_shown, timeout=20000) as blocker:
        win.set_device("cuda")
    assert "CUDA is not available" in blocker.args[0] and "choose cpu or auto" in blocker.args[0]
    assert "Error" not in blocker.args[0] and ".py" not in blocker.args[0]  # the user's words, not the program's
    assert win.loaded is loaded and win.device == "cpu"
    enabled = {a.text(): a.isEnabled() for a in win.menus.device_group.actions()}
    assert enabled["cpu"] and enabled["auto"] and not enabled["cuda"]  # greyed out
    assert [a.text() for a in win.menus.device_group.actions() if a.isChecked()] == ["cpu"]


def test_zoom_fit_and_pixel_exact_display(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    checker = np.zeros((16, 16, 3), np.uint8)
    checker[(np.add.outer(np.arange(16), np.arange(16)) % 2) == 1] = 255
    window.model.set_image(checker)
    window.canvas.set_image_size(16, 16)
    window.canvas.actual_size()
    assert window.canvas.pixels_per_image_pixel() == pytest.approx(1.0, rel=0.02)
    for _ in range(9):
        qtbot.keyClick(window.canvas, Qt.Key.Key_Plus)
    assert window.canvas.pixels_per_image_pixel() == pytest.approx(1.25**9, rel=0.02)
    rendered = window.canvas.rendered_rgb()
    centre = window.canvas.scene_point(8.5, 8.5).toPoint()
    block = rendered[centre.y() - 3 : centre.y() + 3, centre.x() - 3 : centre.x() + 3]
    assert len(np.unique(block.reshape(-1, 3), axis=0)) == 1  # one image pixel, drawn without smoothing
    assert set(np.unique(rendered[centre.y() - 20 : centre.y() + 20, centre.x()])) <= {0, 255}
    qtbot.keyClick(window.canvas, Qt.Key.Key_F)
    from PySide6.QtCore import QRectF

    view = window.canvas.view.viewRect()
    assert view.contains(QRectF(0, 0, 16, 16)) and (view.width() < 16 * 1.2 or view.height() < 16 * 1.2)


def test_a_focused_slider_keeps_its_keys_from_the_image_shortcuts(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    for name in ("a.png", "b.png"):
        make_image(tmp_path / name, 40, 40)
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        win.open_paths([tmp_path / "a.png", tmp_path / "b.png"])
    layer = win.model.layers[-1]
    win.layer_panel.select(layer)
    slider = win.layer_panel.controls.opacity_slider
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus)
    before = slider.value()
    qtbot.keyClick(slider, Qt.Key.Key_Left)
    qtbot.keyClick(slider, Qt.Key.Key_PageDown)
    assert slider.value() < before - 1 and layer.opacity == pytest.approx(slider.value() / 100)
    assert win.image_path.name == "a.png"  # the slider moved, the image stayed
    win.canvas.setFocus()
    qtbot.waitUntil(win.canvas.hasFocus)
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        qtbot.keyClick(win.canvas, Qt.Key.Key_Right)
    assert win.image_path.name == "b.png"


def test_folder_navigation_skips_broken_images(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    folder = tmp_path / "folder"
    folder.mkdir()
    make_image(folder / "a.png", 40, 40)
    (folder / "b.png").write_bytes(b"broken")
    make_image(folder / "c.png", 50, 60)
    (folder / "notes.txt").write_text("not an image")
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        win.open_paths([folder])
    assert [p.name for p in win.images] == ["a.png", "b.png", "c.png"] and win.image_path.name == "a.png"
    assert "a.png (1/3)" in win.windowTitle()
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        win.step_image(1)
    assert win.image_path.name == "c.png" and "b.png" in win.last_error
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        qtbot.keyClick(win, Qt.Key.Key_PageUp)
    assert win.image_path.name == "a.png"
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        qtbot.keyClick(win, Qt.Key.Key_Left)
    assert win.image_path.name == "c.png"
    qtbot.waitSignal(win.prediction_shown, timeout=20000).wait()
    assert str(folder.resolve()) in win.recent_paths()
    (folder / "0.png").write_bytes(b"broken too")
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        win.open_paths([folder])  # an unreadable first image: the next one shows
    assert win.image_path.name == "a.png" and "0.png" in win.last_error


def test_drop_opens_images_and_checkpoints(qtbot, loaded_window, tmp_path: Path, checkpoint32: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    dropped = make_image(tmp_path / "dropped.png", 40, 50)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(dropped)), QUrl.fromLocalFile(str(checkpoint32))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignals([win.model_loaded, win.prediction_shown], timeout=20000):
        win.dropEvent(event)
    assert win.image_path == dropped and win.loaded.info.spec.arch == "fcn32s"


def test_exports_never_overwrite_without_asking(qtbot, loaded_window, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    mask, scores, view = tmp_path / "mask.png", tmp_path / "scores.npz", tmp_path / "view.png"
    assert win.export("mask", mask) and win.export("scores", scores) and win.export("view", view)
    with Image.open(mask) as image:
        assert image.mode == "P" and (np.asarray(image) == win.model.prediction.labels).all()
    with np.load(scores) as arrays:
        assert set(arrays.files) == {"logits", "classes", "score32", "score16", "score8"}
        assert arrays["logits"].dtype == np.float32 and list(arrays["classes"]) == list(win.model.class_names)
    with Image.open(view) as image:
        assert image.size == (win.model.image.shape[1], win.model.image.shape[0])  # the image, not the screen
    asked: list[str] = []

    def answer(button):  # type: ignore[no-untyped-def]
        return lambda *args, **kwargs: asked.append(args[2]) or button

    before = mask.read_bytes()
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    win.model.hidden_classes = {0}
    assert not win.export("mask", mask)
    assert mask.read_bytes() == before and str(mask) in asked[0]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    assert win.export("view", view)


def test_shortcuts_dialog_lists_every_shortcut(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    keys = [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())]
    actions = [a for a in window.actions() if a.shortcuts()]
    assert len(keys) == len(actions) + 9  # and the mouse gestures
    text = " ".join(keys)
    for needle in (
        "Ctrl+O",
        "Ctrl+Shift+O",
        "Ctrl+Alt+O",
        "Ctrl+S",
        "PgDown",
        "F",
        "Ctrl+1",
        "Shift+Click",
        "Ctrl+Drag",
        "Mouse wheel",
        "Drag",
    ):
        assert needle in text


def test_settings_are_kept_between_runs(qtbot, settings, image_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.qt.main_window import MainWindow

    first = MainWindow(settings, device="cpu")
    qtbot.addWidget(first)
    first.resize(700, 500)
    first.show()
    first.docks["inspector"].hide()
    first.open_paths([image_path])
    first.set_device("cpu")
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == (700, 500)
    assert second.docks["inspector"].isHidden()
    assert second.recent_paths()[0] == str(image_path.resolve()) and second.device == "cpu"
    second.close()
    for win in (first, second):
        assert win.worker_thread.thread.wait(60000)


def test_gui_thread_stays_responsive_while_the_network_runs(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    big = make_image(tmp_path / "big.png", 512, 512, seed=6)
    heartbeat = Heartbeat()
    ran: list[float] = []

    def on_started(request) -> None:  # type: ignore[no-untyped-def]
        if getattr(request, "image", np.zeros((0, 0))).shape[:2] == (512, 512):
            ran.append(time.perf_counter())
            heartbeat.start()  # from the moment the network starts until its result is drawn

    win.worker_thread.signals.started.connect(on_started)
    win.prediction_shown.connect(lambda: ran.append(time.perf_counter()))
    win.open_paths([big])
    qtbot.waitUntil(lambda: len(ran) >= 2, timeout=30000)
    heartbeat.stop()
    longest, beats = max(heartbeat.gaps), len(heartbeat.gaps)
    print(f"network + display {ran[1] - ran[0]:.2f} s; longest GUI stall {longest * 1000:.1f} ms, {beats} beats")
    assert ran[1] - ran[0] > 0.05  # the network really ran meanwhile
    assert longest < 0.05


def test_closing_while_the_network_runs_is_quick(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    with qtbot.waitSignal(win.worker_thread.signals.started, timeout=20000):
        win.open_paths([make_image(tmp_path / "big.png", 256, 256, seed=7)])
    start = time.perf_counter()
    win.close()
    assert time.perf_counter() - start < 1.0
    assert win.worker_thread.thread.isFinished()


def test_window_shows_before_torch_is_imported(tmp_path: Path) -> None:
    code = f"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
import fcnviewer.cli, fcnviewer.qt.main_window
fcnviewer.cli.build_parser()
from fcnviewer.qt.main_window import MainWindow
window = MainWindow(QSettings({str(tmp_path / "s.ini")!r}, QSettings.Format.IniFormat))
window.show()
assert "torch" not in sys.modules, "torch imported before the window showed"
window.close()
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2]
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


def test_view_command_arguments() -> None:
    import argparse

    from fcnviewer.cli import view as cli_view
    from fcnviewer.core.resources import sample_images

    parser = argparse.ArgumentParser()
    cli_view.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["view", "a.png", "folder", "--checkpoint", "m.pth", "--arch", "fcn8s-atonce", "--device", "cpu"]
    )
    assert (args.paths, args.checkpoint, args.arch, args.device) == (
        ["a.png", "folder"],
        "m.pth",
        "fcn8s-atonce",
        "cpu",
    )
    assert parser.parse_args(["view"]).paths == []
    assert all(p.suffix == ".png" for p in sample_images())


def test_hovering_off_the_image_clears_the_status(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    win.canvas.hovered.emit(3, 4)
    assert win.hover_label.text().startswith("x 4, y 3")
    qtbot.mouseMove(win.canvas.viewport(), QPoint(1, 1))
    qtbot.waitUntil(lambda: win.hover_label.text() == "", timeout=3000)


def test_open_recent_and_copy_view(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QGuiApplication

    win = loaded_window
    other = make_image(tmp_path / "other.png", 40, 40)
    win.open_paths([other])
    win.menus.fill_recent_menu()
    entries = [a.text() for a in win.menus.recent_menu.actions()]
    assert entries[0] == str(other.resolve()) and any(e.endswith("tiny8s.safetensors") for e in entries)
    first = next(i for i, e in enumerate(entries) if e.endswith("scene.png"))
    win.menus.recent_menu.actions()[first].trigger()
    assert win.image_path is not None and str(win.image_path.resolve()) == entries[first]
    win.copy_view()
    copied = QGuiApplication.clipboard().pixmap()
    assert (copied.width(), copied.height()) == (win.canvas.width(), win.canvas.height())


def test_results_that_arrive_after_close_are_dropped(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import CheckpointError
    from fcnviewer.viewer.protocol import LoadModelRequest

    win = loaded_window
    returned: list[object] = []
    win.files_thread.signals.returned.connect(returned.append)
    with qtbot.waitSignal(win.prediction_shown, timeout=20000):
        win.open_paths([make_image(tmp_path / "late.png", 40, 40)])
    late = returned[-1]  # an ImageOpened still current: as if queued to the window as it closed
    assert win.requests.is_current(late.request)  # type: ignore[attr-defined]
    win.close()
    assert win.worker_thread.thread.wait(5000) and win.files_thread.thread.wait(5000)
    qtbot.wait(50)  # the stopped workers are deleted with their threads
    shown = win.model.prediction
    win.controller._on_job_returned(late)  # used to re-run the network: a request to a deleted worker
    win.controller._on_job_errored(win.requests.make(LoadModelRequest, path="x.pth"), CheckpointError("x.pth: broken"))
    qtbot.wait(50)
    assert win.model.prediction is shown and win.last_error == ""  # nothing ran, no dialog after close


def test_wheel_zooms_and_drag_pans(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    win = loaded_window
    canvas = win.canvas
    centre = QPointF(canvas.viewport().width() / 2, canvas.viewport().height() / 2)
    before = canvas.pixels_per_image_pixel()
    wheel = QWheelEvent(
        centre,
        canvas.viewport().mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), wheel)
    assert canvas.pixels_per_image_pixel() > before * 1.1
    rect = canvas.view.viewRect()
    start = centre.toPoint()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        qtbot.mouseMove(canvas.viewport(), start + QPoint(20 * step, 0))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(100, 0))
    assert canvas.view.viewRect().left() < rect.left()  # dragged right: the view moved left over the image
    assert not win.model.boxes_layer.pins  # a drag is not a click


def test_cached_layers_draw_what_an_uncached_canvas_draws(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    """The image layers keep their on-screen pixmaps (a click or toggle then only blits): after a
    zoom, a pan, a toggle and a new click, what shows equals a fresh, uncached drawing."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication, QGraphicsItem

    win = loaded_window
    canvas = win.canvas
    items = [item for item in canvas.view.scene().items() if isinstance(item, pg.ImageItem)]
    assert items and all(i.cacheMode() == QGraphicsItem.CacheMode.DeviceCoordinateCache for i in items)

    def uncached() -> np.ndarray:
        for item in items:
            item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        try:
            return canvas.rendered_rgb()
        finally:
            for item in items:
                item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    steps = [
        lambda: qtbot.keyClick(canvas, Qt.Key.Key_Plus),
        lambda: canvas.view.translateBy(x=3.5, y=-2.0),
        lambda: setattr(win.model.mask_layer, "visible", False),
        lambda: setattr(win.model.mask_layer, "opacity", 0.3),
        lambda: setattr(win.model.mask_layer, "visible", True),
        lambda: win.pin_pixel(10, 12),
    ]
    for step in steps:
        step()
        QApplication.processEvents()
        cached = canvas.rendered_rgb()
        assert pixels_differ(cached, uncached()) == 0


def test_the_window_has_the_app_icon_in_every_size(window) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.resources import icon_paths

    sizes = {(s.width(), s.height()) for s in window.windowIcon().availableSizes()}
    assert {(16, 16), (32, 32), (256, 256)} <= sizes
    assert len(sizes) == len(icon_paths())
