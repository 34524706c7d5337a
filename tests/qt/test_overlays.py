"""Overlays leave the image readable: class 0 is transparent unless asked for, heatmaps fade out at their low end."""

from __future__ import annotations

import numpy as np

from fcnviewer.viewer.colormaps import apply_colormap
from fcnviewer.viewer.layers import UncertaintyLayer
from fcnviewer.viewer.viewer_model import ViewerModel

PALETTE = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0]], dtype=np.uint8)


def test_class_zero_is_transparent_unless_shown() -> None:
    model = ViewerModel()
    model.set_classes(("background", "a", "b"), PALETTE)
    labels = np.array([[0, 1], [2, 0]], dtype=np.uint8)
    model.mask_layer.set_labels(labels, PALETTE, model.class_names)
    assert model.hidden_classes == {0}
    assert (model.mask_layer.rgba[..., 3] == np.array([[0, 255], [255, 0]])).all()
    model.set_show_background(True)
    assert model.hidden_classes == frozenset() and (model.mask_layer.rgba[..., 3] == 255).all()
    model.hidden_classes = {2}
    model.set_show_background(False)
    assert model.hidden_classes == {0, 2}  # the user's other choices stay


def test_heatmaps_fade_out_at_their_low_end() -> None:
    rgba = apply_colormap(np.linspace(0, 1, 11).reshape(1, 11), "inferno", (0, 1), alpha_from_value=True)
    alpha = rgba[0, :, 3]
    assert alpha[0] == 0 and alpha[1] <= 0.05 * 255 and alpha[6] == 255 and (np.diff(alpha.astype(int)) >= 0).all()
    layer = UncertaintyLayer()
    layer.set_maps(np.ones((2, 2), np.float32), np.array([[0, 0], [0, 1.0]], np.float32), 3)
    assert layer.rgba[0, 0, 3] == 0 and layer.rgba[1, 1, 3] == 255  # sure: see-through; unsure: opaque


def test_the_background_setting_is_kept(qtbot, window, settings) -> None:  # type: ignore[no-untyped-def]
    window.menus.background_action.setChecked(True)
    assert window.model.show_background
    assert window.settings.value("show_background") is True
