"""Layer models and their control widgets."""

from __future__ import annotations

import numpy as np
import pytest

from fcnviewer.qt.colormaps import COLORMAPS, apply_colormap, lookup_table
from fcnviewer.qt.layer_panel import LayerControls, LayerPanel
from fcnviewer.qt.layers import (
    ErfLayer,
    HeatmapLayer,
    ImageLayer,
    LabelLayer,
    LayerList,
    ScoreLayer,
    UncertaintyLayer,
    aligned_scores_at,
)

PALETTE = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0]], dtype=np.uint8)
NAMES = ("bg", "red", "green")


def recorder(emitter):  # type: ignore[no-untyped-def]
    calls: list[tuple] = []
    emitter.connect(lambda *args: calls.append(args))
    return calls


def test_setters_validate_and_emit_once_per_change() -> None:
    layer = LabelLayer("mask")
    opacity, visible = recorder(layer.events.opacity), recorder(layer.events.visible)
    layer.opacity = 0.25
    layer.opacity = 0.25
    layer.visible = False
    assert opacity == [(0.25,)] and visible == [(False,)]
    with pytest.raises(ValueError):
        layer.opacity = 1.5
    with pytest.raises(TypeError):
        layer.visible = "yes"  # type: ignore[assignment]
    with pytest.raises(ValueError):
        layer.mode = "outline"
    heat = HeatmapLayer("heat")
    with pytest.raises(ValueError):
        heat.colormap = "jet"
    with pytest.raises(ValueError):
        heat.limits = (2.0, 1.0)
    assert layer.opacity == 0.25 and heat.colormap == "viridis"


def test_label_layer_colours_hides_classes_and_draws_contours() -> None:
    labels = np.array([[0, 1, 1], [0, 2, 2], [0, 2, 2]], dtype=np.uint8)
    layer = LabelLayer("mask")
    layer.set_labels(labels, PALETTE, NAMES)
    rgba = layer.rgba
    assert rgba.flags.c_contiguous and rgba.dtype == np.uint8 and rgba.shape == (3, 3, 4)
    assert tuple(rgba[0, 1]) == (255, 0, 0, 255)
    layer.hidden_classes = {1}
    assert layer.rgba[0, 1, 3] == 0 and layer.rgba[2, 2, 3] == 255
    layer.hidden_classes = set()
    layer.mode = "contour"
    assert layer.rgba[2, 2, 3] == 0  # inside class 2
    assert layer.rgba[1, 1, 3] == 255  # class edge
    assert layer.value_at(1, 1) == "green"


def test_heatmap_colours_over_limits_and_places_coarse_maps() -> None:
    layer = HeatmapLayer("heat", colormap="gray")
    layer.set_data(np.array([[0.0, 1.0], [2.0, 4.0]], np.float32), rect=(0, 0, 64, 64))
    assert layer.limits == (0.0, 4.0)
    assert tuple(layer.rgba[1, 1, :3]) == (255, 255, 255) and tuple(layer.rgba[0, 0, :3]) == (0, 0, 0)
    assert layer.value_at(40, 10) == "2"  # lower-left cell of a 2x2 map over 64x64 pixels
    layer.limits = (0.0, 2.0)
    assert tuple(layer.rgba[1, 0, :3]) == (255, 255, 255)


def test_colormaps_are_256_entry_opaque_tables() -> None:
    for name in COLORMAPS:
        table = lookup_table(name)
        assert table.shape == (256, 4) and table.dtype == np.uint8 and (table[:, 3] == 255).all()
    rgba = apply_colormap(np.linspace(0, 1, 10).reshape(2, 5), "viridis", (0, 1), alpha_from_value=True)
    assert rgba[0, 0, 3] == 0 and rgba[1, 4, 3] == 255


def test_aligned_scores_at_matches_the_core_upsampling(checkpoint) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.inference import Predictor

    image = np.random.default_rng(1).integers(0, 255, (70, 90, 3), dtype=np.uint8)
    prediction = Predictor(load_checkpoint(checkpoint), device="cpu").predict(image)
    for stage in prediction.stages.values():
        full = stage.upsampled(70, 90)
        for y, x in [(0, 0), (13, 77), (69, 89), (35, 44)]:
            np.testing.assert_allclose(aligned_scores_at(stage.scores, stage.geometry, y, x), full[:, y, x], atol=1e-4)


def test_layer_list_moves_and_solos() -> None:
    layers = LayerList()
    image, mask, heat = ImageLayer(), LabelLayer("mask"), HeatmapLayer("heat", visible=False)
    for layer in (image, mask, heat):
        layers.append(layer)
    moved = recorder(layers.events.moved)
    layers.move(2, 1)
    assert [layer.name for layer in layers] == ["image", "heat", "mask"] and moved == [(2, 1)]
    with pytest.raises(ValueError):
        layers.append(LabelLayer("mask"))
    layers.toggle_solo(heat)
    assert (image.visible, heat.visible, mask.visible) == (True, True, False)
    layers.toggle_solo(heat)
    assert (image.visible, heat.visible, mask.visible) == (True, False, True)


def test_controls_follow_the_layer_and_set_it_without_loops(qtbot) -> None:  # type: ignore[no-untyped-def]
    layer = HeatmapLayer("heat")
    layer.set_data(np.arange(12, dtype=np.float32).reshape(3, 4))
    controls = LayerControls(layer)
    qtbot.addWidget(controls)
    events = {name: recorder(getattr(layer.events, name)) for name in ("opacity", "colormap", "limits")}
    layer.opacity = 0.3
    assert controls.opacity_slider.value() == 30
    controls.opacity_slider.setValue(70)
    assert layer.opacity == 0.7
    assert events["opacity"] == [(0.3,), (0.7,)]  # one emission each way: no echo
    controls.colormap_combo.setCurrentText("magma")
    assert layer.colormap == "magma" and controls.color_bar.colormap == "magma"
    layer.colormap = "gray"
    assert controls.colormap_combo.currentText() == "gray"
    assert len(events["colormap"]) == 2
    layer.limits = (1.0, 5.0)
    assert (controls.low_spin.value(), controls.high_spin.value()) == (1.0, 5.0)
    controls.high_spin.setValue(9.0)
    assert layer.limits == (1.0, 9.0) and controls.color_bar.limits == (1.0, 9.0)
    controls.auto_button.click()
    assert layer.limits == (0.0, 11.0)
    controls.unsubscribe()
    layer.opacity = 0.1
    assert controls.opacity_slider.value() == 70  # no longer listening


def test_mode_class_and_stage_controls(qtbot) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.alignment import StageGeometry

    score = ScoreLayer("score 32")
    score.set_scores(np.random.default_rng(0).normal(size=(3, 2, 3)).astype(np.float32), StageGeometry(32, 15.5), NAMES)
    controls = LayerControls(score)
    qtbot.addWidget(controls)
    assert controls.class_combo is not None
    controls.class_combo.setCurrentIndex(2)
    assert score.class_index == 2 and score.rect == (0.0, 0.0, 96.0, 64.0)
    score.class_index = 1
    assert controls.class_combo.currentIndex() == 1

    uncertainty = UncertaintyLayer()
    uncertainty.set_maps(np.full((2, 2), 0.5, np.float32), np.ones((2, 2), np.float32), 3)
    mode_controls = LayerControls(uncertainty)
    qtbot.addWidget(mode_controls)
    assert mode_controls.mode_combo is not None
    mode_controls.mode_combo.setCurrentText("entropy")
    assert uncertainty.mode == "entropy" and uncertainty.limits == (0.0, pytest.approx(np.log(3)))

    erf = ErfLayer()
    erf_controls = LayerControls(erf)
    qtbot.addWidget(erf_controls)
    erf.set_fields({"final": np.ones((4, 4), np.float32), "8": np.zeros((4, 4), np.float32)})
    assert erf_controls.stage_combo is not None
    assert [erf_controls.stage_combo.itemText(i) for i in range(2)] == ["final", "8"]
    erf_controls.stage_combo.setCurrentText("8")
    assert erf.stage == "8"
    erf.set_fields({"final": np.ones((4, 6), np.float32)}, origin=(32, 64))
    assert erf.rect == (64.0, 32.0, 6.0, 4.0) and erf.stage == "final"


def test_erf_saturates_its_heavy_tail_without_importing_numpy_ma() -> None:
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    field = rng.exponential(1.0, (200, 200)).astype(np.float32) ** 4  # heavy-tailed, like a gradient field
    erf = ErfLayer()
    erf.set_fields({"final": field, "zero": np.zeros((8, 8), np.float32)})
    low, top = erf.limits
    sample = field[::4, ::4]
    assert low == 0.0 and top < float(field.max())
    assert (sample > top).mean() <= 0.005 <= (sample >= top).mean()  # the top 0.5 % saturate
    erf.stage = "zero"
    assert erf.limits == (0.0, 1.0)
    # numpy.ma (tens of ms to import under PySide's import hook) stays out of a click's path
    code = (
        "import sys, numpy as np; from fcnviewer.qt.layers import ErfLayer; "
        "ErfLayer().set_fields({'final': np.ones((64, 64), np.float32)}); print('numpy.ma' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_layer_panel_eye_reorder_and_solo(qtbot) -> None:  # type: ignore[no-untyped-def]
    layers = LayerList()
    image, mask, heat = ImageLayer(), LabelLayer("mask"), HeatmapLayer("heat")
    for layer in (image, mask, heat):
        layers.append(layer)
    panel = LayerPanel(layers)
    qtbot.addWidget(panel)
    assert [panel.list.item(r).text() for r in range(3)] == ["heat", "mask", "image"]  # top first
    from PySide6.QtCore import Qt

    panel.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert mask.visible is False
    mask.visible = True
    assert panel.list.item(1).checkState() == Qt.CheckState.Checked
    panel.list.model().moveRow(panel.list.rootIndex(), 0, panel.list.rootIndex(), 3)  # drag "heat" to the bottom
    assert [layer.name for layer in layers] == ["heat", "image", "mask"]
    assert [panel.list.item(r).text() for r in range(3)] == ["mask", "image", "heat"]
    qtbot.mouseClick(
        panel.list.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.AltModifier,
        panel.list.visualItemRect(panel.list.item(0)).center(),
    )
    assert (mask.visible, image.visible, heat.visible) == (True, True, False)
    panel.select(heat)
    assert panel.controls is not None and panel.controls.layer is heat


def test_adopt_takes_colours_made_elsewhere_only_when_styled_alike() -> None:
    labels = np.array([[0, 1], [2, 2]], dtype=np.uint8)
    elsewhere, here = LabelLayer("mask", mode="contour"), LabelLayer("mask")
    elsewhere.set_labels(labels, PALETTE, NAMES)
    assert not here.adopt(elsewhere) and not here.has_data  # fill vs contour
    here.restyle(elsewhere.style)
    rendered = recorder(here.events.rendered)
    assert here.adopt(elsewhere)
    assert here.rgba is elsewhere.rgba and here.labels is labels and rendered == [()]
    assert not here.adopt(HeatmapLayer("mask"))
