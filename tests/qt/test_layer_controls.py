"""Layer controls: one class per kind of layer, found along the class hierarchy, wired both ways."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from fcnviewer.qt.layer_controls import (
    LAYER_CONTROLS,
    ErfControls,
    ErrorControls,
    HeatmapControls,
    LabelControls,
    LayerControls,
    ScoreControls,
    UncertaintyControls,
    controls_class,
    controls_for,
)
from fcnviewer.qt.layer_panel import LayerPanel
from fcnviewer.viewer.layers import (
    BoxesLayer,
    ChangeLayer,
    ErfLayer,
    HeatmapLayer,
    ImageLayer,
    LabelLayer,
    Layer,
    LayerList,
    ScoreLayer,
    UncertaintyLayer,
)
from fcnviewer.viewer.layers.truth import ErrorLayer, SkipEffectLayer, TruthLayer
from tests.viewer.test_layers import NAMES, PALETTE, recorder


def test_each_kind_of_layer_gets_its_controls_along_the_class_hierarchy() -> None:
    expected = {
        ImageLayer: LayerControls,
        ChangeLayer: LayerControls,
        BoxesLayer: LayerControls,
        LabelLayer: LabelControls,
        HeatmapLayer: HeatmapControls,
        ScoreLayer: ScoreControls,
        UncertaintyLayer: UncertaintyControls,
        ErfLayer: ErfControls,
        ErrorLayer: ErrorControls,
        TruthLayer: LayerControls,
        SkipEffectLayer: LayerControls,
    }
    assert {kind: controls_class(kind) for kind in expected} == expected

    class TidalLayer(HeatmapLayer):  # a new kind without its own controls: its base's
        pass

    assert controls_class(TidalLayer) is HeatmapControls
    assert set(LAYER_CONTROLS) <= {Layer, *expected}
    with pytest.raises(TypeError):
        controls_class(object)  # type: ignore[arg-type]


def test_label_controls_set_the_mode_and_follow_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    layer = LabelLayer("mask")
    layer.set_labels(np.array([[0, 1], [2, 2]], np.uint8), PALETTE, NAMES)
    controls = controls_for(layer)
    qtbot.addWidget(controls)
    assert isinstance(controls, LabelControls)
    modes = recorder(layer.events.mode)
    controls.mode_combo.setCurrentText("contour")
    assert layer.mode == "contour"
    layer.mode = "fill"
    assert controls.mode_combo.currentText() == "fill" and modes == [("contour",), ("fill",)]


def test_plain_layers_get_opacity_only(qtbot) -> None:  # type: ignore[no-untyped-def]
    layer = BoxesLayer(opacity=0.4)
    controls = controls_for(layer)
    qtbot.addWidget(controls)
    assert type(controls) is LayerControls and controls.form.rowCount() == 1
    assert controls.opacity_slider.value() == 40
    controls.opacity_slider.setValue(90)
    assert layer.opacity == 0.9


def test_controls_follow_the_layer_and_set_it_without_loops(qtbot) -> None:  # type: ignore[no-untyped-def]
    layer = HeatmapLayer("heat")
    layer.set_data(np.arange(12, dtype=np.float32).reshape(3, 4))
    controls = controls_for(layer)
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
    controls = controls_for(score)
    qtbot.addWidget(controls)
    assert isinstance(controls, ScoreControls)
    controls.class_combo.setCurrentIndex(2)
    assert score.class_index == 2 and score.rect == (0.0, 0.0, 96.0, 64.0)
    score.class_index = 1
    assert controls.class_combo.currentIndex() == 1

    uncertainty = UncertaintyLayer()
    uncertainty.set_maps(np.full((2, 2), 0.5, np.float32), np.ones((2, 2), np.float32), 3)
    mode_controls = controls_for(uncertainty)
    qtbot.addWidget(mode_controls)
    assert isinstance(mode_controls, UncertaintyControls)
    mode_controls.mode_combo.setCurrentText("confidence")
    assert uncertainty.mode == "confidence" and uncertainty.limits == (pytest.approx(1 / 3), 1.0)
    uncertainty.mode = "entropy"
    assert mode_controls.mode_combo.currentText() == "entropy"
    assert (mode_controls.low_spin.value(), mode_controls.high_spin.value()) == (0.0, pytest.approx(np.log(3), 1e-3))

    erf = ErfLayer()
    erf_controls = controls_for(erf)
    qtbot.addWidget(erf_controls)
    erf.set_fields({"final": np.ones((4, 4), np.float32), "8": np.zeros((4, 4), np.float32)})
    assert isinstance(erf_controls, ErfControls)
    assert [erf_controls.stage_combo.itemText(i) for i in range(2)] == ["final", "8"]
    erf_controls.stage_combo.setCurrentText("8")
    assert erf.stage == "8"
    erf.stage = "final"
    assert erf_controls.stage_combo.currentText() == "final"
    erf.set_fields({"final": np.ones((4, 6), np.float32)}, origin=(32, 64))
    assert erf.rect == (64.0, 32.0, 6.0, 4.0) and erf.stage == "final"


def test_layer_panel_eye_reorder_and_solo(qtbot) -> None:  # type: ignore[no-untyped-def]
    layers = LayerList()
    image, mask, heat = ImageLayer(), LabelLayer("mask"), HeatmapLayer("heat")
    for layer in (image, mask, heat):
        layers.append(layer)
    panel = LayerPanel(layers)
    qtbot.addWidget(panel)
    assert [panel.list.item(r).text() for r in range(3)] == ["heat", "mask", "image"]  # top first
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


def test_class_box_finds_a_class_by_part_of_its_name(qtbot) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.alignment import StageGeometry

    names = ("tench", "goldfish", "tabby, tabby cat", "tiger cat", "Egyptian cat")
    score = ScoreLayer("score 32")
    score.set_scores(np.zeros((5, 2, 2), np.float32), StageGeometry(32, 15.5), names)
    controls = controls_for(score)
    qtbot.addWidget(controls)
    completer = controls.class_combo.completer()
    completer.setCompletionPrefix("CAT")
    matches = [completer.completionModel().index(i, 0).data() for i in range(completer.completionCount())]
    assert matches == ["tabby, tabby cat", "tiger cat", "Egyptian cat"]
    line = controls.class_combo.lineEdit()
    line.setText("tiger cat")  # as typed, without the completer's popup window
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert score.class_index == 3
    line.setText("no such class")
    line.editingFinished.emit()
    assert line.text() == "tiger cat" and score.class_index == 3


def test_error_controls_colour_wrong_pixels_red_or_by_the_class_predicted(qtbot) -> None:  # type: ignore[no-untyped-def]
    layer = ErrorLayer()
    layer.set_errors(np.array([[1, 2]], np.uint8), np.array([[1, 1]], np.uint8), PALETTE)
    controls = ErrorControls(layer)
    qtbot.addWidget(controls)
    controls.wrong_combo.setCurrentText("predicted class")
    assert layer.wrong_color == "predicted class" and tuple(layer.rgba[0, 1, :3]) == tuple(PALETTE[1])
    layer.wrong_color = "red"
    assert controls.wrong_combo.currentText() == "red"
