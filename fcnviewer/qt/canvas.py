"""The canvas: a pyqtgraph view that draws a :class:`LayerList` and reports the pixel under the mouse."""

from __future__ import annotations

import math
from collections.abc import Callable

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

from fcnviewer.qt.region_select import RegionViewBox, outline, pixel_region, place
from fcnviewer.viewer.layers import BoxesLayer, Layer, LayerList, Pin, RasterLayer, clip_box, stage_label

#: Zoom factor of one +/- step.
ZOOM_STEP = 1.25
#: Line width of the finest stage's receptive-field box, in screen pixels (each coarser one adds as much).
BOX_WIDTH = 2.0
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
    """The items drawing one pin: per stage a solid outline of its box cut to the image and a thin
    dotted outline of the whole box past it; a cross (white on black, seen over any heatmap) and
    the pin's number.

    Made once and moved from pin to pin: building pyqtgraph items anew on every click cost the
    GUI thread more than everything else a click does."""

    def __init__(self, parent: QGraphicsItem) -> None:
        self._parent = parent
        self.rects: list[QGraphicsRectItem] = []  # cut to the image
        self.reaches: list[QGraphicsRectItem] = []  # the whole box, dotted
        path = QPainterPath()
        path.moveTo(-CROSS_ARM, 0)
        path.lineTo(CROSS_ARM, 0)
        path.moveTo(0, -CROSS_ARM)
        path.lineTo(0, CROSS_ARM)
        # The cross and its number keep their size on screen: they ignore the view's zoom.
        self.cross = QGraphicsPathItem(path, parent)
        self.cross.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.cross.setPen(QPen(QColor("black"), 4.0))
        white = QGraphicsPathItem(path, self.cross)
        white.setPen(QPen(QColor("white"), 2.0))
        self.label = QGraphicsSimpleTextItem(self.cross)
        self.label.setBrush(QColor("white"))
        self.label.setPen(QPen(QColor("black"), 0.5))

    def show(self, pin: Pin, number: int, image_size: tuple[int, int], *, latest: bool) -> None:
        """Draw ``pin``, the ``number``-th, over an image of ``image_size``; the latest one bolder.

        Boxes of several stages often coincide: the coarsest gets the widest line, each finer
        one a narrower line on top, so every colour shows along a shared edge."""
        count = len(pin.boxes)
        while len(self.rects) < count:
            self.rects.append(QGraphicsRectItem(self._parent))
            self.reaches.append(QGraphicsRectItem(self._parent))
        for i, (stage, box) in enumerate(pin.boxes.items()):
            colour = QColor(*BoxesLayer.color(stage))
            width = BOX_WIDTH * (count - i) * (1.0 if latest else 0.5)
            self._draw_box(self.rects[i], self.reaches[i], box, image_size, colour, width, stage in pin.whole_image)
        for rect in self.rects[count:] + self.reaches[count:]:
            rect.hide()
        self.cross.setPos(pin.x + 0.5, pin.y + 0.5)
        self.cross.show()
        self.label.setText(str(number))
        self.label.setPos(CROSS_ARM / 2, -CROSS_ARM / 2 - self.label.boundingRect().height())

    @staticmethod
    def _draw_box(
        rect: QGraphicsRectItem,
        reach: QGraphicsRectItem,
        box: tuple[int, int, int, int],
        image_size: tuple[int, int],
        colour: QColor,
        width: float,
        whole_image: bool,
    ) -> None:
        clipped, beyond = clip_box(box, *image_size)
        pen = QPen(colour, width, Qt.PenStyle.DashLine if whole_image else Qt.PenStyle.SolidLine)
        pen.setCosmetic(True)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        if clipped is not None:
            x0, y0, x1, y1 = clipped
            rect.setRect(QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
            rect.setPen(pen)
            rect.show()
        else:
            rect.hide()
        x0, y0, x1, y1 = box
        reach.setRect(QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
        dotted = QPen(colour, 1.0, Qt.PenStyle.DotLine)
        dotted.setCosmetic(True)
        reach.setPen(dotted)
        reach.setVisible(beyond > 0)

    def hide(self) -> None:
        """Draw nothing (the items stay, for the next pin)."""
        for rect in self.rects + self.reaches:
            rect.hide()
        self.cross.hide()


class _BoxesVisual:
    """Rectangles (one colour per stage) and markers of a boxes layer's pins, and a legend."""

    def __init__(self, layer: BoxesLayer, view: pg.ViewBox, legend: QLabel, place: Callable[[Pin], None]) -> None:
        self.layer = layer
        self.item = pg.ItemGroup()
        self.legend = legend
        self._place_legend = place
        self.image_size = (1, 1)
        self.marks: list[_PinMarks] = []  # one per pin drawn so far; those beyond the layer's pins are hidden
        view.addItem(self.item)
        layer.events.rendered.connect(self.update_image)
        layer.events.visible.connect(self._on_visible_changed)
        self.update_image()

    def update_image(self) -> None:
        pins = self.layer.pins
        while len(self.marks) < len(pins):
            self.marks.append(_PinMarks(self.item))
        for number, pin in enumerate(pins, start=1):
            self.marks[number - 1].show(pin, number, self.image_size, latest=number == len(pins))
        for marks in self.marks[len(pins) :]:
            marks.hide()
        self.legend.setText(box_legend_html(pins[-1], self.image_size) if pins else "")
        self._on_visible_changed(self.layer.visible)
        if pins:
            self._place_legend(pins[-1])

    def _on_visible_changed(self, visible: bool) -> None:
        self.legend.setVisible(visible and bool(self.layer.pins))
        self.legend.adjustSize()

    def disconnect(self) -> None:
        self.layer.events.rendered.disconnect(self.update_image)
        self.layer.events.visible.disconnect(self._on_visible_changed)


def box_legend_html(pin: Pin, image_size: tuple[int, int]) -> str:
    """The legend of ``pin``'s boxes: per stage its colour, size and how far it reaches past the image."""
    rows = []
    for stage, box in pin.boxes.items():
        colour = "rgb({},{},{})".format(*BoxesLayer.color(stage))
        _, beyond = clip_box(box, *image_size)
        past = f", {beyond} px past the image (dotted)" if beyond else ""
        whole = " + the whole image (dashed: a global pooling)" if stage in pin.whole_image else ""
        size = f"{box[2] - box[0] + 1}×{box[3] - box[1] + 1}"
        rows.append(f'<span style="color:{colour}">&#9632;</span> {stage_label(stage)}: {size}{past}{whole}')
    return f"<b>Receptive fields of pixel x={pin.x}, y={pin.y}</b><br>" + "<br>".join(rows)


class Canvas(pg.GraphicsView):
    """Draws the layers of a :class:`LayerList` in order; wheel/drag zoom and pan.

    Signals: ``hovered(y, x)`` image pixel under the mouse (``-1, -1`` off the image),
    ``clicked(y, x, keep)`` a left click on the image (``keep``: Shift held),
    ``region_selected(x0, y0, x1, y1)`` the image pixels (inclusive) of a Ctrl+drag.
    """

    hovered = Signal(int, int)
    clicked = Signal(int, int, bool)
    region_selected = Signal(int, int, int, int)

    def __init__(self, layers: LayerList, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=QColor(40, 40, 44))
        # Room for every layer's on-screen pixmap (see _RasterVisual), not Qt's default 10 MB.
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), PIXMAP_CACHE_KB))
        self.view = RegionViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.region_dragged.connect(self._on_region_dragged)
        self.region_outline = outline()  # the region whose effective receptive field is shown
        self.view.addItem(self.region_outline, ignoreBounds=True)
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
        self.box_legend = QLabel(self)  # the receptive-field boxes' colours, sizes and reach
        self.box_legend.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.box_legend.setStyleSheet(
            "color: white; background: rgba(20, 20, 24, 190); padding: 4px; border-radius: 3px;"
        )
        self.box_legend.move(8, 8)
        self.box_legend.hide()
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
            visual = _BoxesVisual(layer, self.view, self.box_legend, self._place_box_legend)  # type: ignore[arg-type]
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

    def _place_box_legend(self, pin: Pin) -> None:
        """Put the boxes' legend in the corner of the canvas farthest from ``pin``, never over it."""
        where = self.scene_point(pin.y + 0.5, pin.x + 0.5)
        margin, legend = 8, self.box_legend
        left = where.x() > self.width() / 2
        top = where.y() > self.height() / 2
        x = margin if left else self.width() - legend.width() - margin
        y = margin if top else self.height() - legend.height() - margin
        legend.move(int(max(0, x)), int(max(0, y)))

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
            for visual in self._visuals.values():
                if isinstance(visual, _BoxesVisual):
                    visual.image_size = (height, width)
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

    def _on_region_dragged(self, rect: QRectF) -> None:
        region = pixel_region(rect, *self._image_size) if all(self._image_size) else None
        if region is not None:
            self.region_selected.emit(*region)

    def show_region(self, region: tuple[int, int, int, int] | None) -> None:
        """Outline the image pixels ``(x0, y0, x1, y1)`` (inclusive), or nothing."""
        if region is None:
            self.region_outline.hide()
            return
        x0, y0, x1, y1 = region
        place(self.region_outline, QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1))

    def rendered_rgb(self) -> np.ndarray:
        """What the widget shows, ``(h, w, 3)`` uint8 (for tests and exports)."""
        image = self.grab().toImage().convertToFormat(pg.QtGui.QImage.Format.Format_RGB888)
        width, height, stride = image.width(), image.height(), image.bytesPerLine()
        data = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
        return data[:, : width * 3].reshape(height, width, 3).copy()
