"""The canvas: a pyqtgraph view that draws a :class:`LayerList` and reports the pixel under the mouse."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen, QPixmapCache
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from fcnviewer.viewer.layers import BoxesLayer, Layer, LayerList, Pin, RasterLayer

#: Zoom factor of one +/- step.
ZOOM_STEP = 1.25
#: Dash length of receptive-field box outlines, in pen widths.
BOX_DASH = 5.0
#: Half the length of a pin's cross, in screen pixels.
CROSS_ARM = 7.5
#: Pixmap cache for the layers as drawn: a dozen full-screen layers at 4K.
PIXMAP_CACHE_KB = 512 * 1024


class _RasterVisual:
    """An ``ImageItem`` showing a raster layer's RGBA array at its rect, clipped to the image."""

    def __init__(self, layer: RasterLayer, clip: QGraphicsItem) -> None:
        self.layer = layer
        self.item = pg.ImageItem(axisOrder="row-major")
        # Keep the layer as drawn on screen: a click, a toggle or an opacity change then blits it
        # instead of resampling the whole raster again (Qt redraws it when the view zooms or pans).
        self.item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.item.setParentItem(clip)
        layer.events.rendered.connect(self.update_image)
        self.update_image()

    def update_image(self) -> None:
        self.item.setImage(self.layer.rgba, autoLevels=False, levels=None)
        self.item.setRect(QRectF(*self.layer.rect))

    def disconnect(self) -> None:
        self.layer.events.rendered.disconnect(self.update_image)


class _PinMarks:
    """The items drawing one pin: a rectangle per stage, a cross and the pin's number.

    Made once and moved from pin to pin: building pyqtgraph items anew on every click cost the
    GUI thread more than everything else a click does."""

    def __init__(self, parent: QGraphicsItem) -> None:
        self._parent = parent
        self.rects: list[QGraphicsRectItem] = []
        path = QPainterPath()
        path.moveTo(-CROSS_ARM, 0)
        path.lineTo(CROSS_ARM, 0)
        path.moveTo(0, -CROSS_ARM)
        path.lineTo(0, CROSS_ARM)
        # The cross and its number keep their size on screen: they ignore the view's zoom.
        self.cross = QGraphicsPathItem(path, parent)
        self.cross.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.cross.setPen(QPen(QColor("white"), 2.0))
        self.label = QGraphicsSimpleTextItem(self.cross)
        self.label.setBrush(QColor("white"))

    def show(self, pin: Pin, number: int, *, latest: bool) -> None:
        """Draw ``pin``, the ``number``-th; the latest one with thicker outlines."""
        # Boxes of several stages often coincide: dashes offset per stage interleave their colours.
        count = len(pin.boxes)
        while len(self.rects) < count:
            self.rects.append(QGraphicsRectItem(self._parent))
        for i, (stage, (x0, y0, x1, y1)) in enumerate(pin.boxes.items()):
            pen = QPen(QColor(*BoxesLayer.color(stage)), 2.0 if latest else 1.0)
            pen.setCosmetic(True)
            if stage in pin.whole_image:  # dotted: the local box of a unit that sees the whole image
                pen.setDashPattern([1.0, 3.0])
            elif count > 1:
                pen.setDashPattern([BOX_DASH, BOX_DASH * (count - 1)])
                pen.setDashOffset(-i * BOX_DASH)
            self.rects[i].setRect(QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
            self.rects[i].setPen(pen)
            self.rects[i].show()
        for rect in self.rects[count:]:
            rect.hide()
        self.cross.setPos(pin.x + 0.5, pin.y + 0.5)
        self.cross.show()
        self.label.setText(str(number))
        self.label.setPos(CROSS_ARM / 2, -CROSS_ARM / 2 - self.label.boundingRect().height())

    def hide(self) -> None:
        """Draw nothing (the items stay, for the next pin)."""
        for rect in self.rects:
            rect.hide()
        self.cross.hide()


class _BoxesVisual:
    """Rectangles (one colour per stage) and markers of a boxes layer's pins."""

    def __init__(self, layer: BoxesLayer, view: pg.ViewBox) -> None:
        self.layer = layer
        self.item = pg.ItemGroup()
        self.marks: list[_PinMarks] = []  # one per pin drawn so far; those beyond the layer's pins are hidden
        view.addItem(self.item)
        layer.events.rendered.connect(self.update_image)
        self.update_image()

    def update_image(self) -> None:
        pins = self.layer.pins
        while len(self.marks) < len(pins):
            self.marks.append(_PinMarks(self.item))
        for number, pin in enumerate(pins, start=1):
            self.marks[number - 1].show(pin, number, latest=number == len(pins))
        for marks in self.marks[len(pins) :]:
            marks.hide()

    def disconnect(self) -> None:
        self.layer.events.rendered.disconnect(self.update_image)


class Canvas(pg.GraphicsView):
    """Draws the layers of a :class:`LayerList` in order; wheel/drag zoom and pan.

    Signals: ``hovered(y, x)`` image pixel under the mouse (``-1, -1`` off the image),
    ``clicked(y, x, keep)`` a left click on the image (``keep``: Shift held).
    """

    hovered = Signal(int, int)
    clicked = Signal(int, int, bool)

    def __init__(self, layers: LayerList, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=QColor(40, 40, 44))
        # Room for every layer's on-screen pixmap (see _RasterVisual), not Qt's default 10 MB.
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), PIXMAP_CACHE_KB))
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.02)
        self.setCentralItem(self.view)
        self.layers = layers
        self._visuals: dict[Layer, _RasterVisual | _BoxesVisual] = {}
        self._image_size = (0, 0)
        # Raster layers are clipped to the image (a coarse stage map's last units reach past it).
        self._clip = QGraphicsRectItem()
        self._clip.setPen(QPen(Qt.PenStyle.NoPen))
        self._clip.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
        self.view.addItem(self._clip)
        for index, layer in enumerate(layers):
            self._on_layer_inserted(index, layer)
        layers.events.inserted.connect(self._on_layer_inserted)
        layers.events.removed.connect(self._on_layer_removed)
        layers.events.moved.connect(self._on_layers_moved)
        self.hint = QLabel("Open an image (Ctrl+O) or a folder (Ctrl+Shift+O),\nor drop images here", self)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint.setStyleSheet("color: rgb(170, 170, 175); font-size: 14px; background: transparent;")
        QVBoxLayout(self).addWidget(self.hint)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.setAcceptDrops(False)  # the main window takes drops

    # ------------------------------------------------------------------ layers

    def _on_layer_inserted(self, index: int, layer: Layer) -> None:
        if isinstance(layer, RasterLayer):
            visual: _RasterVisual | _BoxesVisual = _RasterVisual(layer, self._clip)
        else:
            visual = _BoxesVisual(layer, self.view)  # type: ignore[arg-type]
        self._visuals[layer] = visual
        layer.events.visible.connect(visual.item.setVisible)
        layer.events.opacity.connect(visual.item.setOpacity)
        visual.item.setVisible(layer.visible)
        visual.item.setOpacity(layer.opacity)
        self._on_layers_moved()

    def _on_layer_removed(self, index: int, layer: Layer) -> None:
        visual = self._visuals.pop(layer)
        visual.disconnect()
        layer.events.visible.disconnect(visual.item.setVisible)
        layer.events.opacity.disconnect(visual.item.setOpacity)
        if isinstance(visual, _RasterVisual):
            visual.item.setParentItem(None)
            if visual.item.scene() is not None:
                visual.item.scene().removeItem(visual.item)
        else:
            self.view.removeItem(visual.item)
        self._on_layers_moved()

    def _on_layers_moved(self, *_: int) -> None:
        for z, layer in enumerate(self.layers):
            if layer in self._visuals:
                self._visuals[layer].item.setZValue(z)

    def item_of(self, layer: Layer) -> QGraphicsItem:
        """The graphics item drawing ``layer``."""
        return self._visuals[layer].item

    # ------------------------------------------------------------------ view

    def set_image_size(self, height: int, width: int) -> None:
        """The image's size: bounds hovering/clicks; a new size refits the view."""
        self.hint.hide()
        if (height, width) != self._image_size:
            self._image_size = (height, width)
            self._clip.setRect(QRectF(0, 0, width, height))
            self.fit()

    def fit(self) -> None:
        """Show the whole image."""
        height, width = self._image_size
        if height and width:
            self.view.setRange(QRectF(0, 0, width, height), padding=0.02)

    def actual_size(self) -> None:
        """One image pixel per screen pixel, around the view's centre."""
        centre = self.view.viewRect().center()
        size = self.view.size()
        self.view.setRange(
            QRectF(centre.x() - size.width() / 2, centre.y() - size.height() / 2, size.width(), size.height()),
            padding=0,
        )

    def zoom_by(self, factor: float) -> None:
        """Zoom in (``factor`` > 1) or out around the view's centre."""
        self.view.scaleBy((1 / factor, 1 / factor))

    def pixels_per_image_pixel(self) -> float:
        """Current zoom: screen pixels per image pixel."""
        rect = self.view.viewRect()
        return self.view.size().width() / rect.width() if rect.width() else 1.0

    def scene_point(self, y: float, x: float) -> QPointF:
        """Widget (viewport) position of image point ``(y, x)``."""
        return self.mapFromScene(self.view.mapViewToScene(QPointF(x, y))).toPointF()

    def _pixel_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        point = self.view.mapSceneToView(scene_pos)
        y, x = math.floor(point.y()), math.floor(point.x())
        height, width = self._image_size
        return (y, x) if 0 <= y < height and 0 <= x < width else None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        pixel = self._pixel_at(scene_pos)
        self.hovered.emit(*(pixel or (-1, -1)))

    def _on_mouse_clicked(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        pixel = self._pixel_at(event.scenePos())  # type: ignore[attr-defined]
        if pixel is not None:
            keep = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)  # type: ignore[attr-defined]
            self.clicked.emit(pixel[0], pixel[1], keep)

    def rendered_rgb(self) -> np.ndarray:
        """What the widget shows, ``(h, w, 3)`` uint8 (for tests and exports)."""
        image = self.grab().toImage().convertToFormat(pg.QtGui.QImage.Format.Format_RGB888)
        width, height, stride = image.width(), image.height(), image.bytesPerLine()
        data = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
        return data[:, : width * 3].reshape(height, width, 3).copy()
