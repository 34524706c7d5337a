"""The layer panel: the layer list (eye, drag to reorder, Alt-click solo) and the selected layer's controls
(``fcnviewer.qt.layer_controls``)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from fcnviewer.qt.layer_controls import LayerControls, controls_for
from fcnviewer.viewer.layers import Layer, LayerList


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

    def toggle_current(self) -> None:
        """Show or hide the selected layer (napari's V)."""
        row = self.list.currentRow()
        if 0 <= row < len(self.layers):
            layer = self.layer_at(row)
            layer.visible = not layer.visible

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
            self.controls = controls_for(layer)
            self._layout.addWidget(self.controls)
