"""The network panel and the layer view (#20): rows, a layer's box and ERF as ``rf --layer`` gives them,
the skip paths' boxes and ERFs, stale results dropped, the stage view back when nothing is selected."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.receptive import layer_table
from fcnviewer.core.receptive.network import network_table
from fcnviewer.core.receptive.paths import path_boxes
from fcnviewer.core.receptive.targets import layer_unit_box
from fcnviewer.qt.network_panel import LAYER, PATHS, NetworkPanel

PIXEL = (40, 50)


def test_panel_rows_are_the_network_table(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = NetworkPanel()
    qtbot.addWidget(panel)
    model = build_model(ArchSpec("fcn8s", width=1 / 16))
    rows = network_table(model)
    seen: list[tuple[str, str]] = []
    panel.selection_changed.connect(lambda kind, name: seen.append((kind, name)))
    panel.set_rows(rows)
    assert panel.table.rowCount() == len(rows) and seen == [("", "")]
    texts = {panel.table.item(i, 0).text(): i for i in range(len(rows))}
    layers = {row.layer: i for i, row in enumerate(panel.rows) if row.kind != "path"}
    for row in layer_table(model):
        index = layers[row.layer]
        cells = [panel.table.item(index, c).text() for c in (2, 3, 4)]
        assert cells == [str(row.size), f"{row.stride:g}", f"{row.center0:g}"]
    crop = texts["crop 31"]
    assert "output pixel 0 is centred on image pixel 0" in panel.table.item(crop, 0).toolTip()
    assert panel.table.item(texts["conv1_1"], 5).text() == "100"
    panel.table.selectRow(crop)  # a crop explains; it is not a layer to show
    assert panel.selection() == ("", "")
    assert panel.select(LAYER, "score_pool4") and seen[-1] == (LAYER, "score_pool4")
    assert panel.select(PATHS, "pool3") and seen[-1] == (PATHS, "pool3")
    panel.clear_selection()
    assert seen[-1] == ("", "")


def _rf_cli(checkpoint: Path, image: Path, layer: str, tmp_path: Path, capsys) -> tuple[dict, np.ndarray]:  # type: ignore[no-untyped-def]
    from fcnviewer.cli import main

    erf = tmp_path / f"{layer}.npy"
    argv = ["rf", "--checkpoint", str(checkpoint), "--image", str(image), "--pixel", "{},{}".format(*PIXEL)]
    assert main([*argv, "--layer", layer, "--json", "--erf", str(erf), "--device", "cpu"]) == 0
    return json.loads(capsys.readouterr().out)["layer"], np.load(erf)


def _placed(view) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The layer view's ERF on the whole image (zero outside its window)."""
    erf = view.erf_layer
    field = erf._fields[erf.stage]
    (row, col), (h, w) = erf._origin, field.shape
    whole = np.zeros(view.model.image.shape[:2], np.float32)
    whole[row : row + h, col : col + w] = field
    return whole


def test_a_selected_layer_shows_the_box_and_erf_of_rf_layer(
    qtbot, loaded_window, checkpoint: Path, image_path: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    window = loaded_window
    view, panel = window.layer_view, window.layer_view.panel
    assert [r.layer for r in panel.rows] == [r.layer for r in network_table(window.loaded.model)]
    with qtbot.waitSignal(window.probe_shown, timeout=30000):
        window.pin_pixel(*PIXEL)
    for layer in ("pool4", "score_pool3", "8"):
        with qtbot.waitSignal(view.layer_shown, timeout=30000):
            panel.select_layer(layer)
            _, instant = layer_unit_box(window.loaded.model, layer, *PIXEL)
            assert list(view.boxes_layer.pins[-1].boxes.values()) == [tuple(instant.as_list())]
            assert not window.model.boxes_layer.visible and not window.model.erf_layer.visible
        entry, erf = _rf_cli(checkpoint, image_path, layer, tmp_path, capsys)
        ((key, box),) = view.boxes_layer.pins[-1].boxes.items()
        assert list(box) == entry["box"] and key.endswith("unit {},{}".format(*entry["unit"]))
        np.testing.assert_allclose(_placed(view), erf, rtol=1e-4, atol=1e-6 * float(erf.max()))
        assert f"{layer} unit" in panel.status.text() and "ERF shown" in panel.status.text()
    panel.clear_selection()
    assert window.model.boxes_layer.visible and window.model.erf_layer.visible
    assert not view.boxes_layer.pins and not view.erf_layer.has_data


def test_re_pinning_with_a_layer_selected_updates_box_and_erf(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    window = loaded_window
    view = window.layer_view
    window.pin_pixel(*PIXEL)
    with qtbot.waitSignal(view.layer_shown, timeout=30000):
        view.panel.select_layer("conv3_3")
    with qtbot.waitSignal(view.layer_shown, timeout=30000):
        window.pin_pixel(10, 90)
    pin = view.boxes_layer.pins[-1]
    _, box = layer_unit_box(window.loaded.model, "conv3_3", 10, 90)
    assert (pin.y, pin.x) == (10, 90) and list(pin.boxes.values()) == [tuple(box.as_list())]


def test_a_stale_layer_erf_is_dropped(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    window = loaded_window
    view = window.layer_view
    shown: list[int] = []
    view.layer_shown.connect(lambda: shown.append(1))
    with qtbot.waitSignal(window.probe_shown, timeout=30000):
        window.pin_pixel(*PIXEL)
    view.panel.select_layer("pool4")  # the request is on its way ...
    window.controller.requests.advance("image")  # ... when another image is shown (what opening one does first)
    worker = window.worker_thread.worker
    qtbot.waitUntil(lambda: not worker.pending() and not window.controller._running, timeout=30000)
    qtbot.wait(100)
    assert shown == [] and not view.erf_layer.has_data


def test_skip_paths_boxes_and_erfs_next_to_their_contributions(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    window = loaded_window
    view = window.layer_view
    with qtbot.waitSignal(window.probe_shown, timeout=30000):
        window.pin_pixel(*PIXEL)
    assert "href='path:pool4'" in window.inspector.toHtml() or 'href="path:pool4"' in window.inspector.toHtml()
    assert "pool3 path" in window.inspector.toPlainText() and "RF 52 box & ERF" in window.inspector.toPlainText()
    from PySide6.QtCore import QUrl

    with qtbot.waitSignal(view.layer_shown, timeout=30000):
        view.show_path_link(QUrl("path:pool3"))  # the inspector's link
    prediction = window.model.prediction
    shapes = {name: stage.scores.shape[-2:] for name, stage in prediction.stages.items()}
    expected = path_boxes(window.loaded.model, *PIXEL, prediction.size, shapes)
    pin = view.boxes_layer.pins[-1]
    assert pin.boxes == {f"path {k}": tuple(b.as_list()) for k, b in expected.items()}
    assert view.erf_layer.stages == ("path stride32", "path pool4", "path pool3")
    assert view.erf_layer.stage == "path pool3"
    widths = [b[2] - b[0] for b in pin.boxes.values()]
    assert widths[2] < widths[1] < widths[0]
    # the pool3 path's ERF lies in its box
    field = _placed(view)
    ys, xs = np.nonzero(field)
    x0, y0, x1, y1 = pin.boxes["path pool3"]
    assert max(x0, 0) <= xs.min() and xs.max() <= x1 and max(y0, 0) <= ys.min() and ys.max() <= y1


def test_other_families_list_their_layers(qtbot, window, tmp_path: Path, image_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint

    spec = ArchSpec("unet", num_classes=3, width=1 / 16)
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "unet.safetensors", build_model(spec), ModelInfo.default_for(spec))
    with qtbot.waitSignal(window.prediction_shown, timeout=60000):
        window.load_model(path)
        window.open_paths([image_path])
    view = window.layer_view
    assert {"8", "1"} <= {row.layer for row in view.panel.rows}
    window.pin_pixel(*PIXEL)
    with qtbot.waitSignal(view.layer_shown, timeout=60000):
        assert view.panel.select_layer("8")
    (box,) = view.boxes_layer.pins[-1].boxes.values()
    assert box[2] - box[0] + 1 == 172 and view.erf_layer.has_data
