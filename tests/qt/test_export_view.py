"""Export View writes the image at its own resolution with the visible layers, not the screen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def test_the_view_is_exported_at_image_resolution_with_visible_layers(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    win = loaded_window
    model = win.model
    height, width = model.image.shape[:2]
    for layer in model.layers:
        layer.visible = layer is model.image_layer
    assert win.export("view", tmp_path / "plain.png")
    plain = np.asarray(Image.open(tmp_path / "plain.png").convert("RGB"))
    assert plain.shape == (height, width, 3) and (plain == model.image).all()
    model.mask_layer.visible = model.boxes_layer.visible = True
    model.set_show_background(True)
    win.pin_pixel(height // 2, width // 2)
    assert win.export("view", tmp_path / "masked.png")
    masked = np.asarray(Image.open(tmp_path / "masked.png").convert("RGB"))
    assert masked.shape == plain.shape and (masked != plain).any(axis=2).mean() > 0.5
    colour = np.array(model.boxes_layer.color("32"))
    assert (masked == colour).all(axis=2).sum() > 50  # the boxes, cut to the image
