"""Readable receptive fields in the window (#20): a Ctrl+dragged region's ERF, SmoothGrad, image
averaging, shift-and-stitch layers, stale results dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.qt.conftest import make_image


def _drag(window, y0: int, x0: int, y1: int, x1: int, modifiers: Qt.KeyboardModifier) -> None:  # type: ignore[no-untyped-def]
    """A left-button drag on the canvas from image pixel (y0, x0) to (y1, x1), with ``modifiers``."""
    viewport = window.canvas.viewport()
    start = window.canvas.scene_point(y0 + 0.5, x0 + 0.5)
    end = window.canvas.scene_point(y1 + 0.5, x1 + 0.5)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifiers, start.toPoint())
    for step in range(1, 9):
        point = start + (end - start) * (step / 8)
        move = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(point),
            viewport.mapToGlobal(QPointF(point)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            modifiers,
        )
        QApplication.sendEvent(viewport, move)
        QApplication.processEvents()
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifiers, end.toPoint())


def _cli_erf(tmp_path: Path, checkpoint: Path, image: Path, args: list[str]) -> np.ndarray:
    """The ERF ``fcnviewer rf ... --erf`` saves for ``args``."""
    from fcnviewer.cli import main

    out = tmp_path / f"erf{len(list(tmp_path.glob('erf*.npy')))}.npy"
    assert (
        main(
            ["rf", "--checkpoint", str(checkpoint), "--device", "cpu", "--image", str(image), *args, "--erf", str(out)]
        )
        == 0
    )
    return np.load(out)


def _shown_field(window, stage: str = "final") -> np.ndarray:  # type: ignore[no-untyped-def]
    """The ERF layer's field of ``stage`` placed on the whole image (zero outside its window)."""
    layer = window.model.erf_layer
    values = layer._fields[stage]
    row, col = layer._origin
    whole = np.zeros(window.model.image.shape[:2], dtype=np.float32)
    whole[row : row + values.shape[0], col : col + values.shape[1]] = values
    return whole


def _close(a: np.ndarray, b: np.ndarray) -> None:
    assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max() and b.max() > 0


def test_ctrl_drag_probes_the_region_as_rf_region_does(qtbot, loaded_window, checkpoint, image_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    window, tools = loaded_window, loaded_window.rf_tools
    regions: list[tuple[int, ...]] = []
    window.canvas.region_selected.connect(lambda *r: regions.append(r))
    with qtbot.waitSignal(tools.region_shown, timeout=30000):
        _drag(window, 30, 40, 60, 90, Qt.KeyboardModifier.ControlModifier)
    assert regions == [(40, 30, 90, 60)] and tools.region == (40, 30, 90, 60)
    labels = window.model.prediction.labels[30:61, 40:91]
    assert tools.region_class == int(np.bincount(labels.ravel()).argmax())
    assert set(window.model.erf_layer.stages) == {"32", "16", "8", "final"}
    expected = _cli_erf(
        tmp_path, checkpoint, image_path, ["--region", "40,30,90,60", "--class", str(tools.region_class)]
    )
    _close(_shown_field(window), expected)
    assert window.canvas.region_outline.isVisible() and "90 % of mass" in window.inspector.summary
    readout = window.model.erf_layer.readout
    assert readout is not None and 0 < readout.share_of_theoretical <= 1


def test_a_plain_drag_pans_and_probes_no_region(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    window = loaded_window
    regions: list[tuple[int, ...]] = []
    window.canvas.region_selected.connect(lambda *r: regions.append(r))
    before = window.canvas.view.viewRect()
    _drag(window, 30, 40, 60, 90, Qt.KeyboardModifier.NoModifier)
    QApplication.processEvents()
    assert regions == [] and window.rf_tools.region is None
    assert window.canvas.view.viewRect() != before  # it panned


def test_smoothgrad_of_a_region_equals_the_cores(qtbot, loaded_window, checkpoint, image_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    window, tools = loaded_window, loaded_window.rf_tools
    with qtbot.waitSignal(tools.region_shown, timeout=30000):
        tools.probe_region(20, 10, 50, 40, class_index=1)
    layer = window.model.erf_layer
    with qtbot.waitSignal(tools.region_shown, timeout=60000):
        layer.noise = 12.0  # probes again with each change; the last one's result is shown
        layer.copies = 3
    expected = _cli_erf(
        tmp_path, checkpoint, image_path, ["--region", "20,10,50,40", "--class", "1", "--smooth", "3", "--noise", "12"]
    )
    _close(_shown_field(window), expected)
    assert "SmoothGrad of 3 copies, noise 12" in window.inspector.summary


def test_a_pixels_smoothgrad_equals_the_cores(qtbot, loaded_window, checkpoint, image_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    window = loaded_window
    layer = window.model.erf_layer
    layer.copies, layer.noise = 2, 8.0  # no pin yet: nothing to probe again
    with qtbot.waitSignal(window.probe_shown, timeout=30000):
        window.pin_pixel(50, 70)
    c = int(window.model.prediction.labels[50, 70])
    expected = _cli_erf(
        tmp_path, checkpoint, image_path, ["--pixel", "50,70", "--class", str(c), "--smooth", "2", "--noise", "8"]
    )
    _close(_shown_field(window), expected)


def test_images_of_the_same_size_are_averaged(qtbot, window, checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.images import load_image
    from fcnviewer.core.receptive import Box, gradient_map, region_target

    paths = [make_image(tmp_path / f"{n}.png", seed=n) for n in range(2)]
    make_image(tmp_path / "2.png", height=64, seed=2)  # another size: skipped
    with qtbot.waitSignal(window.prediction_shown, timeout=30000):
        window.load_model(checkpoint)
        window.open_paths([paths[0]])
    window.model.erf_layer.images = 3
    with qtbot.waitSignal(window.rf_tools.region_shown, timeout=30000):
        window.rf_tools.probe_region(30, 20, 60, 50, class_index=2)
    loaded = load_checkpoint(checkpoint)
    maps = []
    for path in paths:
        inputs = loaded.info.preprocessing.to_tensor(load_image(path))
        maps.append(gradient_map(loaded.model, region_target(loaded.model, Box(30, 20, 60, 50), 2), inputs))
    _close(_shown_field(window), (maps[0] + maps[1]) / 2)
    assert "2 images of this size averaged" in window.inspector.summary


def test_another_class_of_the_region_is_one_click_away(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QUrl

    tools = loaded_window.rf_tools
    with qtbot.waitSignal(tools.region_shown, timeout=30000):
        tools.probe_region(0, 0, 127, 95)
    others = [c for c, _ in tools.region_classes if c != tools.region_class]
    assert others and f'href="class:{others[0]}"' in loaded_window.inspector.summary
    with qtbot.waitSignal(tools.region_shown, timeout=30000):
        loaded_window.inspector.anchorClicked.emit(QUrl(f"class:{others[0]}"))
    assert tools.region_class == others[0]


def test_stale_region_results_are_dropped(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    window, tools = loaded_window, loaded_window.rf_tools
    shown = qtbot.assertNotEmitted(tools.region_shown, wait=500)
    with shown, qtbot.waitSignal(window.probe_shown, timeout=30000):
        tools.probe_region(10, 10, 60, 60)
        window.canvas.clicked.emit(40, 50, False)  # a click replaces the region before its result comes
    assert tools.region is None and not window.canvas.region_outline.isVisible()
    assert "pixel x=50, y=40" in window.inspector.summary
    shown = qtbot.assertNotEmitted(tools.region_shown, wait=500)
    with shown, qtbot.waitSignal(window.prediction_shown, timeout=30000):
        tools.probe_region(10, 10, 60, 60)
        window.load_model(window.controller.checkpoint)  # a model reloaded: the region's result is stale
    assert not window.model.erf_layer.has_data


def test_a_region_forgotten_before_its_result_drops_it(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    """Pins cleared by anything (a new prediction of the same image, too) forget the region: its result,
    still current by the request stamps, is dropped rather than shown over nothing."""
    window, tools = loaded_window, loaded_window.rf_tools
    shown = qtbot.assertNotEmitted(tools.region_shown, wait=3000)
    with shown:
        tools.probe_region(10, 10, 60, 60)
        window.controller.reports_changed.emit([])  # as clearing the pins tells the tools
        assert tools.region is None
    assert not window.model.erf_layer.has_data


@pytest.mark.parametrize(("stage", "factor"), [("32", 2), ("16", 4)])
def test_shift_and_stitch_layers_hold_the_cores_map(qtbot, loaded_window, checkpoint, stage, factor) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.shift_stitch import shift_and_stitch

    window, tools = loaded_window, loaded_window.rf_tools
    with qtbot.waitSignal(tools.stitch_shown, timeout=60000):
        tools.stitch(stage, factor)
    labels, scores = (
        window.model.layers[name] for name in (f"stitched {stage} ×{factor}", f"stitched score {stage} ×{factor}")
    )
    loaded = load_checkpoint(checkpoint)
    expected = shift_and_stitch(loaded.model, loaded.info.preprocessing.to_tensor(window.model.image), factor, stage)
    assert np.allclose(scores._scores, expected.scores, rtol=1e-5, atol=1e-5 * np.abs(expected.scores).max())
    assert scores._geometry.stride == expected.stride and labels.labels.shape == window.model.image.shape[:2]
    layers = list(window.model.layers)
    assert layers.index(labels) == layers.index(window.model.layers[f"stage {stage}"]) + 1
    tools._fill_stitch_menu()
    texts = [a.text() for a in tools.stitch_menu.actions() if a.text()]
    assert f"stride {stage} → stride {int(stage) // factor} (×{factor}: {factor * factor} forward passes)" in texts


def test_a_probe_stops_between_passes_once_a_newer_one_waits(checkpoint, image_path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.images import load_image
    from fcnviewer.core.inference import Predictor
    from fcnviewer.qt.jobs_erf import Superseded, probe_region
    from fcnviewer.viewer.protocol import ErfOptions, ProbeRequest, RegionProbeRequest, Requests

    requests = Requests()
    region = requests.make(
        RegionProbeRequest, image=load_image(image_path), region=(10, 10, 40, 40), erf=ErfOptions(copies=6, noise=5.0)
    )
    requests.advance("probe")
    newer = requests.make(ProbeRequest, y=1, x=1)
    passes: list[int] = []

    class Worker:  # what a job uses of the worker; a newer probe is pending
        def __init__(self) -> None:
            self.limit: dict[str, int] = {}
            self.predictor = Predictor(load_checkpoint(checkpoint), device="cpu", precision="float32")

        def loaded_predictor(self) -> Predictor:
            return self.predictor

        def check_abort(self) -> None:
            pass

        def pending(self) -> list[object]:
            return [newer] if passes else []  # it comes during the first pass

        class progress:  # the signal, by its name
            @staticmethod
            def emit(_request: object, done: int, _total: int) -> None:
                passes.append(done)

    with pytest.raises(Superseded, match="stopped after 2 of 6 passes"):
        probe_region(Worker(), region)  # type: ignore[arg-type]
    assert passes == [1]


def test_a_classifiers_stitched_labels_keep_classes_past_255() -> None:
    """The stitched labels of a 1000-class map are its aligned argmax in int16 (uint8 would wrap 256..999)."""
    import torch

    from fcnviewer.core.alignment import upsample_to_image
    from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.models import ArchSpec, build_model
    from fcnviewer.qt.jobs_erf import stitch
    from fcnviewer.viewer.protocol import Requests, StitchRequest

    torch.manual_seed(0)
    spec = ArchSpec("alexnet", 1000)
    model = build_model(spec)
    bias = next(p for name, p in model.named_parameters() if name.endswith("classifier.6.bias"))
    with torch.no_grad():
        bias[700] += 50  # class 700 on top where nothing else is
    predictor = Predictor(LoadedModel(model, ModelInfo.default_for(spec)), device="cpu", precision="float32")
    image = np.random.default_rng(0).integers(0, 256, (300, 320, 3), dtype=np.uint8)

    class Worker:  # what the job uses of the worker
        def loaded_predictor(self) -> Predictor:
            return predictor

        def check_abort(self) -> None:
            pass

        def pending(self) -> list[object]:
            return []

        class progress:
            @staticmethod
            def emit(*_args: object) -> None:
                pass

    done = stitch(Worker(), Requests().make(StitchRequest, image=image, stage="32", factor=2))  # type: ignore[arg-type]
    aligned = upsample_to_image(torch.from_numpy(done.scores), done.geometry, 300, 320)
    expected = aligned.argmax(0).numpy()
    assert done.labels.dtype == np.int16 and expected.max() > 255
    np.testing.assert_array_equal(done.labels, expected)
