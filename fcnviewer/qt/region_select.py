"""Selecting a region of the image: Ctrl+drag draws a rubber band, a plain drag still pans."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

#: Above every layer drawn in the view.
TOP_Z = 1e6


def outline(parent: QGraphicsRectItem | None = None) -> QGraphicsRectItem:
    """A rectangle drawn as a white dashed line over a black one (seen over any image), hidden."""
    under = QGraphicsRectItem(parent)
    over = QGraphicsRectItem(under)
    for item, colour, width, style in (
        (under, "black", 3.0, Qt.PenStyle.SolidLine),
        (over, "white", 1.5, Qt.PenStyle.DashLine),
    ):
        pen = QPen(QColor(colour), width, style)
        pen.setCosmetic(True)
        item.setPen(pen)
    under.setZValue(TOP_Z)
    under.hide()
    return under


def place(item: QGraphicsRectItem, rect: QRectF) -> None:
    """Put the :func:`outline` ``item`` on ``rect`` and show it."""
    item.setRect(rect)
    item.childItems()[0].setRect(rect)  # type: ignore[attr-defined]
    item.show()


def pixel_region(rect: QRectF, height: int, width: int) -> tuple[int, int, int, int] | None:
    """The image pixels ``(x0, y0, x1, y1)`` (inclusive) that ``rect`` (view coordinates) touches,
    cut to a ``height`` x ``width`` image; ``None`` if it misses the image."""
    x0, y0 = max(0, math.floor(rect.left())), max(0, math.floor(rect.top()))
    x1, y1 = min(width - 1, math.ceil(rect.right()) - 1), min(height - 1, math.ceil(rect.bottom()) - 1)
    return (x0, y0, max(x0, x1), max(y0, y1)) if x0 < width and y0 < height and x1 >= 0 and y1 >= 0 else None


class RegionViewBox(pg.ViewBox):
    """A view box where a left drag with Ctrl held draws a rubber band and, on release, emits
    ``region_dragged(rect)`` (view coordinates); any other drag pans or zooms as usual."""

    region_dragged = Signal(QRectF)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.band = outline()
        self.addItem(self.band, ignoreBounds=True)

    def mouseDragEvent(self, ev: object, axis: int | None = None) -> None:
        ctrl = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)  # type: ignore[attr-defined]
        if ev.button() != Qt.MouseButton.LeftButton or not (ctrl or self.band.isVisible()):  # type: ignore[attr-defined]
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()  # type: ignore[attr-defined]
        start = self.mapSceneToView(ev.buttonDownScenePos())  # type: ignore[attr-defined]
        rect = QRectF(start, self.mapSceneToView(ev.scenePos())).normalized()  # type: ignore[attr-defined]
        if ev.isFinish():  # type: ignore[attr-defined]
            self.band.hide()
            self.region_dragged.emit(rect)
        else:
            place(self.band, rect)
