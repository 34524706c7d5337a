"""The window on broken, hostile and odd inputs: one message naming the file, what is shown stays,
the worker lives on; odd but valid images get a mask of their displayed size; switching what is
shown while the network runs never lets an old result in."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication

from tests.core.test_predict_inputs import _odd_images
from tests.qt.conftest import make_checkpoint, make_image


def close_error_dialogs() -> None:
    for widget in QApplication.topLevelWidgets():
        if widget.isVisible() and widget.objectName() == "error-dialog":
            widget.close()


def shown_state(win) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    """Identities of what is on screen: image, prediction and the arrays the layers draw."""
    return (
        win.model.image,
        win.model.prediction,
        win.model.image_layer.rgba,
        win.model.mask_layer.rgba,
        win.model.mask_layer.labels,
        win.image_path,
    )


def assert_still_works(qtbot, win, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """The worker still answers: a new image gets a prediction, a click its effective RF."""
    with qtbot.waitSignal(win.prediction_shown, timeout=30000):
        win.open_paths([make_image(tmp_path / f"after_{name}.png", 48, 56, seed=len(name))])
    assert win.model.prediction.size == (48, 56)
    with qtbot.waitSignal(win.probe_shown, timeout=30000):
        win.pin_pixel(20, 30)
    assert win.model.erf_layer.data.shape == (48, 56)


def broken_images(folder: Path, image: np.ndarray) -> dict[str, tuple[Path, str]]:
    """Broken inputs by name: (path, a word the message must contain)."""
    png, jpeg = io.BytesIO(), io.BytesIO()
    Image.fromarray(image).save(png, format="PNG")
    Image.fromarray(image).save(jpeg, format="JPEG")
    contents = {
        "empty.png": (b"", "empty"),
        "text.png": (b"Dear reviewer, this is not a PNG.\n" * 4, "not an image"),
        "truncated.png": (png.getvalue()[: len(png.getvalue()) // 3], "truncated"),
        "truncated.jpg": (jpeg.getvalue()[: len(jpeg.getvalue()) // 3], "truncated"),
    }
    cases = {}
    for name, (data, word) in contents.items():
        (folder / name).write_bytes(data)
        cases[name] = (folder / name, word)
    bomb = folder / "bomb.png"
    Image.new("1", (30000, 30000)).save(bomb)  # 900 megapixels in a small file
    cases["bomb.png"] = (bomb, "900.0 megapixels, over the limit of 100 megapixels")
    directory = folder / "a_directory.png"
    directory.mkdir()
    cases["directory"] = (directory, "no images")
    cases["missing.png"] = (folder / "missing.png", "no such file")
    return cases


def test_broken_images_keep_what_is_shown(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    rgb = np.random.default_rng(5).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    cases = broken_images(tmp_path, rgb)
    for name, (path, word) in cases.items():
        before = shown_state(win)
        with qtbot.waitSignal(win.error_shown, timeout=30000) as blocker:
            win.open_paths([path])
        message = blocker.args[0]
        print(f"{name}: {message}")
        assert str(path) in message and word in message, f"{name}: {message!r}"
        assert "Traceback" not in message and "\n" not in message, f"{name}: {message!r}"
        assert str(path) in win.statusBar().currentMessage(), name
        QApplication.processEvents()
        assert all(a is b for a, b in zip(shown_state(win), before, strict=True)), f"{name}: what is shown changed"
        assert win.model.mask_layer.has_data, name
        close_error_dialogs()
    assert_still_works(qtbot, win, tmp_path, "images")


def test_the_viewers_pixel_limit_refuses_larger_images(qtbot, settings, checkpoint: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.qt.main_window import MainWindow

    win = MainWindow(settings, device="cpu", max_pixels=10_000)  # what `fcnviewer view --max-pixels 10000` makes
    qtbot.addWidget(win)
    win.show()
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    Image.new("RGB", (100, 100), (90, 20, 200)).save(small)
    Image.new("RGB", (200, 100)).save(large)
    try:
        with qtbot.waitSignal(win.prediction_shown, timeout=30000):
            win.load_model(checkpoint)
            win.open_paths([small])  # exactly at the limit
        before = shown_state(win)
        with qtbot.waitSignal(win.error_shown, timeout=30000) as blocker:
            win.open_paths([large])
        message = blocker.args[0]
        assert str(large) in message and "over the limit of 0.01 megapixels (raise it with --max-pixels)" in message
        QApplication.processEvents()
        assert all(a is b for a, b in zip(shown_state(win), before, strict=True))
        close_error_dialogs()
    finally:
        win.close()
        for thread in (win.worker_thread, win.files_thread):
            assert thread.thread.wait(60000)


class RunsCode:
    """Unpickling this runs a shell command."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.target}",))


def hostile_checkpoints(folder: Path, good: Path) -> dict[str, Path]:
    import torch
    import torchvision

    from fcnviewer.core.checkpoints import load_checkpoint

    cases: dict[str, Path] = {}

    def write(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        cases[name] = folder / name

    write("empty.pth", b"")
    write("truncated.safetensors", good.read_bytes()[: good.stat().st_size // 2])
    write("random.safetensors", np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    torch.save({"x": RunsCode(folder / "pwned")}, folder / "evil.pth")
    cases["evil.pth"] = folder / "evil.pth"
    torch.save([torch.zeros(3), torch.ones(2)], folder / "list.pth")
    cases["list.pth"] = folder / "list.pth"
    # an image classifier of no family the viewer shows (torchvision's ResNets and VGGs it does show)
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), folder / "mobilenet_v2.pth")
    cases["mobilenet_v2.pth"] = folder / "mobilenet_v2.pth"
    state = {k: v.clone() for k, v in load_checkpoint(good).model.state_dict().items()}
    state["score_pool4.weight"] = torch.zeros(4, 7, 1, 1)  # the network needs other in-channels
    torch.save(state, folder / "mismatched.pth")
    cases["mismatched.pth"] = folder / "mismatched.pth"
    return cases


def test_hostile_checkpoints_keep_the_model(qtbot, loaded_window, checkpoint: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    cases = hostile_checkpoints(tmp_path, checkpoint)
    for name, path in cases.items():
        loaded, label, before = win.loaded, win.model_label.text(), shown_state(win)
        with qtbot.waitSignal(win.error_shown, timeout=30000) as blocker:
            win.open_paths([path])
        message = blocker.args[0]
        print(f"{name}: {message}")
        assert message.startswith(f"{path}: "), f"{name}: {message!r}"
        assert "Traceback" not in message and "\n" not in message, f"{name}: {message!r}"
        QApplication.processEvents()
        assert win.loaded is loaded and win.model_label.text() == label, name
        assert all(a is b for a, b in zip(shown_state(win), before, strict=True)), f"{name}: what is shown changed"
        assert not (tmp_path / "pwned").exists(), f"{name}: the pickle ran code"
        close_error_dialogs()
    assert win.loaded.path == checkpoint and win.loaded.info.spec.arch == "fcn8s"
    assert_still_works(qtbot, win, tmp_path, "checkpoints")
    assert not (tmp_path / "pwned").exists()


def test_the_code_running_pickle_is_refused_by_name(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    win = loaded_window
    evil = tmp_path / "evil.pt"
    torch.save({"x": RunsCode(tmp_path / "pwned")}, evil)
    with qtbot.waitSignal(win.error_shown, timeout=30000) as blocker:
        win.load_model(evil)
    assert blocker.args[0].startswith(f"{evil}: refused to load") and "posix.system" in blocker.args[0]
    assert not (tmp_path / "pwned").exists()


def test_odd_images_get_a_mask_of_their_displayed_size(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    cases = _odd_images(tmp_path)
    assert len(cases) == 10
    for name, (path, size) in cases.items():
        with qtbot.waitSignal(win.prediction_shown, timeout=30000):
            win.open_paths([path])
        assert win.image_path == path and win.model.image.shape == (*size, 3), name
        assert win.model.prediction.size == size and win.model.mask_layer.labels.shape == size, name
        assert win.model.image_layer.rgba.shape[:2] == size and win.model.mask_layer.rgba.shape[:2] == size, name
        assert path.name in win.windowTitle(), name
    assert not win.last_error


def test_switching_model_while_the_network_runs_drops_the_old_result(
    qtbot, loaded_window, checkpoint32: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    shown: list[int] = []
    win.prediction_shown.connect(lambda: shown.append(win.model.prediction.logits.shape[0]))
    returned: list[object] = []
    win.worker_thread.signals.returned.connect(returned.append)
    with qtbot.waitSignal(win.worker_thread.signals.started, timeout=30000):
        win.open_paths([make_image(tmp_path / "big.png", 320, 320, seed=9)])
    with qtbot.waitSignals([win.model_loaded, win.prediction_shown], timeout=30000):
        win.load_model(checkpoint32)  # while the 4-class FCN-8s runs
    qtbot.wait(200)
    predicted = [r.prediction.logits.shape[0] for r in returned if hasattr(r, "prediction")]
    assert predicted[0] == 4 and predicted[-1] == 3  # the old model's result came back...
    assert shown == [3]  # ...and was dropped
    assert win.loaded.info.spec.arch == "fcn32s" and win.model.prediction.size == (320, 320)


def test_a_click_answered_after_the_image_changed_is_dropped(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    probed: list[object] = []
    win.probe_shown.connect(lambda: probed.append(win.model.erf_layer.data.shape))
    returned: list[object] = []
    win.worker_thread.signals.returned.connect(returned.append)
    with qtbot.waitSignal(win.worker_thread.signals.started, timeout=30000):
        win.pin_pixel(40, 60)
    with qtbot.waitSignal(win.prediction_shown, timeout=30000):
        win.open_paths([make_image(tmp_path / "next.png", 72, 40, seed=11)])
    qtbot.waitUntil(lambda: any(hasattr(r, "probe") for r in returned), timeout=30000)
    QApplication.processEvents()
    assert probed == []  # the click's fields came back for the old image and were dropped
    assert not win.model.erf_layer.has_data and not win.model.boxes_layer.pins and not win.reports


@pytest.mark.parametrize("what", ["probe", "model"])
def test_closing_during_a_probe_or_a_model_load_is_quick(
    qtbot, loaded_window, checkpoint32: Path, tmp_path: Path, what: str
) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    with qtbot.waitSignal(win.worker_thread.signals.started, timeout=30000):
        if what == "probe":
            win.pin_pixel(50, 60)
        else:
            win.load_model(checkpoint32)
    start = time.perf_counter()
    win.close()
    took = time.perf_counter() - start
    print(f"closing during a {what}: {took:.2f} s")
    # Neither a probe nor a checkpoint load checks for abort midway: closeEvent waits at most 0.2 s for
    # the files thread and 1 s for the worker, then leaves a thread still running to end on its own.
    assert took < 1.5, f"closing took {took:.2f} s"
    assert win.worker_thread.thread.wait(30000) and win.files_thread.thread.wait(30000)


def test_a_checkpoint_of_another_width_loads(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Not hostile, but odd: a valid checkpoint with 2 classes replaces the model (control case)."""
    win = loaded_window
    other = make_checkpoint(tmp_path / "two.safetensors", num_classes=2, seed=4)
    with qtbot.waitSignals([win.model_loaded, win.prediction_shown], timeout=30000):
        win.load_model(other)
    assert win.model.prediction.logits.shape[0] == 2 and win.legend_panel.table.rowCount() == 2
