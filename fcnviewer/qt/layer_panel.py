"""The layer panel: the layer list (eye, drag to reorder, Alt-click solo) and the selected layer's controls."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QLinearGradient, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from fcnviewer.qt.colormaps import COLORMAPS, lookup_table
from fcnviewer.qt.layers import (
    Emitter,
    ErfLayer,
    HeatmapLayer,
    LabelLayer,
    Layer,
    LayerList,
    ScoreLayer,
    UncertaintyLayer,
)


class ColorBar(QWidget):
    """A horizontal colour bar of a colormap with its low and high values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colormap = "viridis"
        self.limits = (0.0, 1.0)
        self.setMinimumHeight(34)

    def set_colormap(self, name: str, limits: tuple[float, float]) -> None:
        """Show ``name`` over ``limits``."""
        self.colormap, self.limits = name, limits
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        bar = self.rect().adjusted(2, 2, -2, -self.height() // 2)
        gradient = QLinearGradient(bar.left(), 0, bar.right(), 0)
        table = lookup_table(self.colormap)
        for i in range(0, 256, 32):
            gradient.setColorAt(i / 255, QColor(*table[i, :3]))
        gradient.setColorAt(1.0, QColor(*table[255, :3]))
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().windowText().color())
        text = self.rect().adjusted(2, self.height() // 2, -2, 0)
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{self.limits[0]:.3g}")
        painter.drawText(text, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{self.limits[1]:.3g}")


class Slider(QSlider):
    """A slider that keeps its own keys: with focus, the arrows and Page Up/Down move it
    instead of firing the window's shortcuts (next / previous image)."""

    KEYS = frozenset({
        Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down,
        Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End,
    })  # fmt: skip

    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in self.KEYS
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
        ):
            event.accept()  # the key goes to keyPressEvent, not to a shortcut
            return True
        return super().event(event)


class LayerControls(QWidget):
    """Controls of one layer, wired both ways: a widget edit sets the layer; a layer change
    updates the widget with its signals blocked (no feedback loop)."""

    def __init__(self, layer: Layer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self._links: list[tuple[Emitter, Callable[..., Any]]] = []
        form = QFormLayout(self)
        form.setContentsMargins(0, 4, 0, 0)
        self.opacity_slider = Slider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(layer.opacity * 100))
        self.opacity_slider.valueChanged.connect(self._on_opacity_slider_changed)
        form.addRow("Opacity", self.opacity_slider)
        self._subscribe(layer.events.opacity, self._on_opacity_changed)
        self.mode_combo: QComboBox | None = None
        self.class_combo: QComboBox | None = None
        self.stage_combo: QComboBox | None = None
        if isinstance(layer, LabelLayer | UncertaintyLayer):
            self.mode_combo = self._combo(form, "Mode", layer.MODES, layer.mode, "mode")
        if isinstance(layer, ScoreLayer):
            self.class_combo = QComboBox()
            self.class_combo.addItems(list(layer.class_names))
            self.class_combo.setCurrentIndex(layer.class_index)
            self.class_combo.currentIndexChanged.connect(self._on_class_combo_changed)
            form.addRow("Class", self.class_combo)
            self._subscribe(layer.events.class_index, self._on_class_index_changed)
        if isinstance(layer, ErfLayer):
            self.stage_combo = self._combo(form, "Stage", layer.stages, layer.stage, "stage")
        if isinstance(layer, ScoreLayer | ErfLayer):
            self._subscribe(layer.events.data, self._on_data_changed)
        if isinstance(layer, HeatmapLayer):
            self._add_heatmap_controls(form, layer)

    def _combo(self, form: QFormLayout, label: str, choices: tuple[str, ...], value: str, prop: str) -> QComboBox:
        """A combo box bound to the layer's string property ``prop`` (and its event of that name)."""
        combo = QComboBox()
        combo.addItems(list(choices))
        combo.setCurrentText(value)
        combo.currentTextChanged.connect(lambda text: text and setattr(self.layer, prop, text))

        def on_changed(new: str) -> None:
            with QSignalBlocker(combo):
                combo.setCurrentText(new)

        self._subscribe(getattr(self.layer.events, prop), on_changed)
        form.addRow(label, combo)
        return combo

    def _add_heatmap_controls(self, form: QFormLayout, layer: HeatmapLayer) -> None:
        self.colormap_combo = self._combo(form, "Colormap", COLORMAPS, layer.colormap, "colormap")
        row = QHBoxLayout()
        self.low_spin, self.high_spin = QDoubleSpinBox(), QDoubleSpinBox()
        for spin in (self.low_spin, self.high_spin):
            spin.setRange(-1e9, 1e9)
            spin.setDecimals(3)
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._on_range_spin_changed)
            row.addWidget(spin)
        self.auto_button = QPushButton("Auto")
        self.auto_button.setToolTip("Range from the data's minimum to maximum")
        self.auto_button.clicked.connect(lambda: setattr(layer, "limits", layer.data_range))
        row.addWidget(self.auto_button)
        form.addRow("Range", row)
        self.color_bar = ColorBar()
        form.addRow("", self.color_bar)
        self._subscribe(layer.events.limits, self._on_limits_changed)
        self._subscribe(layer.events.colormap, self._on_colormap_changed)
        self._on_limits_changed(layer.limits)

    def _subscribe(self, emitter: Emitter, callback: Callable[..., Any]) -> None:
        emitter.connect(callback)
        self._links.append((emitter, callback))

    def unsubscribe(self) -> None:
        """Stop listening to the layer (before the widget goes)."""
        for emitter, callback in self._links:
            emitter.disconnect(callback)
        self._links.clear()

    def _on_opacity_slider_changed(self, value: int) -> None:
        self.layer.opacity = value / 100

    def _on_opacity_changed(self, value: float) -> None:
        with QSignalBlocker(self.opacity_slider):
            self.opacity_slider.setValue(round(value * 100))

    def _on_class_combo_changed(self, index: int) -> None:
        if index >= 0:
            self.layer.class_index = index  # type: ignore[attr-defined]

    def _on_class_index_changed(self, index: int) -> None:
        assert self.class_combo is not None
        with QSignalBlocker(self.class_combo):
            self.class_combo.setCurrentIndex(index)

    def _on_data_changed(self) -> None:
        """New data may bring other classes (score) or stages (ERF): refill the choices."""
        for combo, items, current in (
            (self.class_combo, getattr(self.layer, "class_names", ()), getattr(self.layer, "class_index", 0)),
            (self.stage_combo, getattr(self.layer, "stages", ()), None),
        ):
            if combo is None or tuple(combo.itemText(i) for i in range(combo.count())) == tuple(items):
                continue
            with QSignalBlocker(combo):
                combo.clear()
                combo.addItems(list(items))
                if current is not None:
                    combo.setCurrentIndex(current)
                else:
                    combo.setCurrentText(self.layer.stage)  # type: ignore[attr-defined]

    def _on_range_spin_changed(self, _: float) -> None:
        low, high = self.low_spin.value(), self.high_spin.value()
        if low <= high:
            self.layer.limits = (low, high)  # type: ignore[attr-defined]

    def _on_limits_changed(self, limits: tuple[float, float]) -> None:
        span = abs(limits[1] - limits[0]) or abs(limits[1]) or 1.0
        decimals = int(min(12, max(3, 3 - math.floor(math.log10(span)))))  # three significant digits of the span
        for spin, value in zip((self.low_spin, self.high_spin), limits, strict=True):
            with QSignalBlocker(spin):
                spin.setDecimals(decimals)
                spin.setValue(value)
            spin.setSingleStep(span / 20)
        self.color_bar.set_colormap(self.layer.colormap, limits)  # type: ignore[attr-defined]

    def _on_colormap_changed(self, name: str) -> None:
        self.color_bar.set_colormap(name, self.layer.limits)  # type: ignore[attr-defined]


class _LayerListWidget(QListWidget):
    """The list rows; Alt-click on a row asks for solo instead of selecting."""

    solo_requested = Signal(int)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.AltModifier:
            item = self.itemAt(event.position().toPoint())
            if item is not None:
                self.solo_requested.emit(self.row(item))
                return
        super().mousePressEvent(event)


class LayerPanel(QWidget):
    """Layers top to bottom: a checkbox (eye) per layer, drag to reorder, Alt-click to solo;
    below, the controls of the selected layer."""

    def __init__(self, layers: LayerList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layers = layers
        self.list = _LayerListWidget()
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list.setToolTip("Tick to show; drag to reorder; Alt-click to show one layer alone (again to undo)")
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.currentRowChanged.connect(self._on_current_row_changed)
        self.list.solo_requested.connect(self._on_solo_requested)
        self.list.model().rowsMoved.connect(self._on_rows_moved)
        self.controls: LayerControls | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.addWidget(self.list, 1)
        self._watched: list[Layer] = []
        self._rebuild()
        layers.events.inserted.connect(self._on_layers_changed)
        layers.events.removed.connect(self._on_layers_changed)
        layers.events.moved.connect(self._on_layers_changed)

    def row_of(self, layer: Layer) -> int:
        """Row showing ``layer`` (the top layer is row 0)."""
        return len(self.layers) - 1 - self.layers.index(layer)

    def layer_at(self, row: int) -> Layer:
        """The layer shown in ``row``."""
        return self.layers[len(self.layers) - 1 - row]

    def select(self, layer: Layer) -> None:
        """Make ``layer`` the current one (its controls show)."""
        self.list.setCurrentRow(self.row_of(layer))

    def _on_layers_changed(self, *_: object) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        current = self.layer_at(self.list.currentRow()) if 0 <= self.list.currentRow() < len(self.layers) else None
        for layer in self._watched:
            layer.events.visible.disconnect(self._on_visible_changed)
        self._watched = list(self.layers)
        with QSignalBlocker(self.list):
            self.list.clear()
            for layer in reversed(self._watched):
                item = QListWidgetItem(layer.name)
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsUserCheckable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
                item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
                item.setToolTip(layer.description)
                self.list.addItem(item)
                layer.events.visible.connect(self._on_visible_changed)
        if current is not None and current in self._watched:
            self.select(current)
        else:
            self._show_controls(None)

    def _on_visible_changed(self, _: bool) -> None:
        with QSignalBlocker(self.list):
            for row in range(self.list.count()):
                state = Qt.CheckState.Checked if self.layer_at(row).visible else Qt.CheckState.Unchecked
                self.list.item(row).setCheckState(state)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        layer = self.layer_at(self.list.row(item))
        layer.visible = item.checkState() == Qt.CheckState.Checked
        if layer.visible:
            self.select(layer)  # its controls show

    def _on_solo_requested(self, row: int) -> None:
        self.layers.toggle_solo(self.layer_at(row))

    def _on_rows_moved(self, _parent: QModelIndex, start: int, _end: int, _dest: QModelIndex, row: int) -> None:
        target = row if row < start else row - 1
        n = len(self.layers)
        src, dst = n - 1 - start, n - 1 - target
        self.layers.events.moved.disconnect(self._on_layers_changed)
        try:
            self.layers.move(src, dst)
        finally:
            self.layers.events.moved.connect(self._on_layers_changed)

    def _on_current_row_changed(self, row: int) -> None:
        self._show_controls(self.layer_at(row) if 0 <= row < len(self.layers) else None)

    def _show_controls(self, layer: Layer | None) -> None:
        if self.controls is not None:
            self.controls.unsubscribe()
            self.controls.hide()
            self._layout.removeWidget(self.controls)
            self.controls.deleteLater()
            self.controls = None
        if layer is not None:
            self.controls = LayerControls(layer)
            self._layout.addWidget(self.controls)
