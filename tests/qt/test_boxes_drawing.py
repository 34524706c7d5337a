"""Receptive-field boxes: each stage distinct, cut to the image, with how far it reaches past it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF

from fcnviewer.qt.canvas import Canvas
from fcnviewer.viewer.layers import BoxesLayer, LayerList, Pin, clip_box


@pytest.fixture
def boxed_canvas(qtbot):  # type: ignore[no-untyped-def]
    """A shown canvas of a 384x384 image with only a boxes layer."""
    layers = LayerList()
    layers.append(BoxesLayer())
    canvas = Canvas(layers)
    qtbot.addWidget(canvas)
    canvas.resize(400, 400)
    canvas.show()
    canvas.set_image_size(384, 384)
    return canvas, layers[0]


def test_clip_box_cuts_to_the_image_and_measures_the_reach() -> None:
    assert clip_box((-26, -26, 409, 409), 384, 384) == ((0, 0, 383, 383), 26)
    assert clip_box((10, 20, 30, 40), 384, 384) == ((10, 20, 30, 40), 0)
    assert clip_box((400, 0, 500, 10), 384, 384) == (None, 117)


def test_boxes_are_solid_inside_the_image_dotted_past_it_with_a_legend(boxed_canvas) -> None:  # type: ignore[no-untyped-def]
    canvas, boxes = boxed_canvas
    boxes.pin(Pin(192, 192, {"32": (-26, -26, 409, 409), "16": (-20, -20, 403, 403), "8": (100, 100, 283, 283)}))
    marks = canvas._visuals[boxes].marks[0]
    image = QRectF(0, 0, 384, 384)
    widths = [rect.pen().widthF() for rect in marks.rects[:3]]
    assert all(image.contains(rect.rect()) and rect.isVisible() for rect in marks.rects[:3])
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 3  # coarsest widest, all seen
    assert [r.isVisible() for r in marks.reaches[:3]] == [True, True, False]  # dotted only past the image
    text = canvas.box_legend.text()
    assert canvas.box_legend.isVisible() and "stride 32: 436×436, 26 px past the image" in text
    assert "stride 8: 184×184<br>" in text or text.endswith("stride 8: 184×184")
    boxes.visible = False
    assert not canvas.box_legend.isVisible()
    boxes.visible = True
    boxes.clear()
    assert not canvas.box_legend.isVisible()


def test_the_legend_never_covers_the_pin(boxed_canvas) -> None:  # type: ignore[no-untyped-def]
    canvas, boxes = boxed_canvas
    for y, x in ((5, 5), (5, 370), (370, 5), (370, 370)):
        boxes.pin(Pin(y, x, {"32": (x - 200, y - 200, x + 200, y + 200)}))
        point = canvas.scene_point(y + 0.5, x + 0.5).toPoint()
        assert not canvas.box_legend.geometry().contains(point), (y, x)
