"""Small things a user reaches for: the opacity's value, visible contours, a key to toggle a layer."""

from __future__ import annotations

import numpy as np

from fcnviewer.qt.layer_controls import controls_for
from fcnviewer.viewer.layers import LabelLayer

PALETTE = np.array([[0, 0, 0], [255, 0, 0]], dtype=np.uint8)


def test_the_opacity_slider_shows_its_value(qtbot) -> None:  # type: ignore[no-untyped-def]
    layer = LabelLayer("mask", opacity=0.5)
    controls = controls_for(layer)
    qtbot.addWidget(controls)
    assert controls.opacity_value.text() == "50 %"
    controls.opacity_slider.setValue(30)
    assert controls.opacity_value.text() == "30 %" and layer.opacity == 0.3
    layer.opacity = 0.8
    assert controls.opacity_value.text() == "80 %"


def test_contours_are_two_pixels_wide_and_opaque() -> None:
    layer = LabelLayer("mask", opacity=0.5)
    labels = np.zeros((4, 8), dtype=np.uint8)
    labels[:, 4:] = 1
    layer.set_labels(labels, PALETTE, ("background", "thing"))
    layer.mode = "contour"
    assert layer.opacity == 1.0
    assert (layer.rgba[..., 3] == 255).sum(axis=1).tolist() == [2, 2, 2, 2]  # columns 3 and 4 on every row


def test_v_toggles_the_selected_layer(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    mask = window.model.mask_layer
    window.layer_panel.select(mask)
    visible = mask.visible
    window.layer_panel.toggle_current()
    assert mask.visible is not visible
    assert any(a.text() == "&Toggle Selected Layer" and a.shortcut().toString() == "V" for a in window.actions())
