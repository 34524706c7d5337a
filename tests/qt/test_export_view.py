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


def test_the_view_with_legend_adds_a_column_of_the_classes_shown(qtbot, loaded_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.qt.export import legend_entries

    win = loaded_window
    model = win.model
    height, width = model.image.shape[:2]
    assert win.export("legend", tmp_path / "legend.png")
    exported = np.asarray(Image.open(tmp_path / "legend.png").convert("RGB"))
    assert exported.shape[1] > width and exported.shape[0] >= height
    column = exported[:, width:]
    entries = legend_entries(model)
    assert entries and len(entries) == int(
        ((model.class_shares() > 0) & ~np.isin(np.arange(len(model.class_names)), list(model.hidden_classes))).sum()
    )
    for colour, _ in entries:
        assert (column == np.array(colour)).all(axis=2).sum() >= 100  # its 12x12 swatch
    assert 0 in model.hidden_classes and all("background" not in text for _, text in entries)
