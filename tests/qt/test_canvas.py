"""The canvas draws a boxes layer's pins: a rectangle per stage, a cross and a number each."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem, QGraphicsSimpleTextItem

from fcnviewer.qt.canvas import Canvas
from fcnviewer.viewer.layers import BoxesLayer, LayerList, Pin

BOXES = {"32": (0, 0, 59, 79), "16": (10, 5, 49, 44), "final": (20, 15, 30, 25)}


def drawn(canvas: Canvas, layer: BoxesLayer) -> tuple[list[QGraphicsRectItem], list[QGraphicsPathItem], list[str]]:
    """The visible rectangles, crosses and numbers drawing ``layer``."""
    items = [i for i in canvas.item_of(layer).childItems() if i.isVisible()]
    rects = [i for i in items if isinstance(i, QGraphicsRectItem)]
    crosses = [i for i in items if isinstance(i, QGraphicsPathItem)]
    labels = [c.text() for x in crosses for c in x.childItems() if isinstance(c, QGraphicsSimpleTextItem)]
    return rects, crosses, labels


def test_pins_are_drawn_where_they_are_and_items_are_reused(qtbot) -> None:  # type: ignore[no-untyped-def]
    layers, boxes = LayerList(), BoxesLayer()
    layers.append(boxes)
    canvas = Canvas(layers)
    qtbot.addWidget(canvas)
    canvas.resize(400, 400)
    canvas.show()
    canvas.set_image_size(100, 100)

    boxes.pin(Pin(20, 25, BOXES))
    rects, crosses, labels = drawn(canvas, boxes)
    assert sorted(r.rect().getRect() for r in rects) == sorted(
        QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1).getRect() for x0, y0, x1, y1 in BOXES.values()
    )
    assert {r.pen().color().getRgb()[:3] for r in rects} == {BoxesLayer.color(s) for s in BOXES}
    assert [(c.pos().x(), c.pos().y()) for c in crosses] == [(25.5, 20.5)] and labels == ["1"]
    first_items = set(canvas.item_of(boxes).childItems())

    boxes.pin(Pin(70, 60, {"final": (55, 65, 65, 75)}), keep=True)
    rects, crosses, labels = drawn(canvas, boxes)
    assert len(rects) == 4 and sorted(labels) == ["1", "2"]
    widths = {r.rect().getRect(): r.pen().widthF() for r in rects}
    assert widths[(55.0, 65.0, 11.0, 11.0)] == 2.0  # the latest pin's outline is the thicker one
    assert widths[(20.0, 15.0, 11.0, 11.0)] == 1.0

    boxes.pin(Pin(5, 6, {"final": (1, 2, 3, 4)}))  # a plain click replaces the pins
    rects, crosses, labels = drawn(canvas, boxes)
    assert [r.rect().getRect() for r in rects] == [(1.0, 2.0, 3.0, 3.0)] and labels == ["1"]
    assert [(c.pos().x(), c.pos().y()) for c in crosses] == [(6.5, 5.5)]
    assert first_items <= set(canvas.item_of(boxes).childItems())  # moved, not made anew

    boxes.clear()
    assert drawn(canvas, boxes) == ([], [], [])
