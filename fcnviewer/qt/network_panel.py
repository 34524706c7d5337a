"""The network panel: every layer of the loaded model with its receptive field, and where crops arise.

One row per row of :func:`fcnviewer.core.receptive.network.network_table`: layer, channels, RF
size, stride, centre of unit 0 (input pixels), padding. A crop is a row of its own whose tooltip
says why its offset is what it is; the skip paths close the table. Selecting a layer or a path
shows its box and ERF for the pinned pixel (see :class:`~fcnviewer.qt.layer_view.LayerView`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fcnviewer.core.names import path_label
from fcnviewer.viewer.layers.boxes import LAYER_COLOR
from fcnviewer.viewer.protocol import LayerProbeRequest

if TYPE_CHECKING:
    from fcnviewer.core.receptive.network import NetworkRow

COLUMNS = ("layer", "channels", "RF size", "stride", "centre of unit 0", "padding", "note")
HEADER_TIPS = (
    "the module (or crop, map, skip path)",
    "channels of its output",
    "side of the input box one unit of it sees, in input pixels",
    "input pixels between neighbouring units",
    "input pixel on which the box of its unit 0 is centred (a fused or upsampled map: the linear fit of its "
    "units' centres); unit m is centred on this + stride × m",
    "the module's own zero padding (conv1_1's 100 is why unit 0 lies far left of the image)",
    "why a crop drops the units it does; what a skip path is",
)
#: What selecting a row shows: a layer's unit, or every skip path.
LAYER, PATHS = LayerProbeRequest.LAYER, LayerProbeRequest.PATHS
HINT = "Select a layer, then click a pixel: its unit's box and effective receptive field."


def layer_label(name: str) -> str:
    """How a layer is named to the user: a module by its name, a stage or level as ``map 16``, the output
    as ``final output``."""
    if name == "final":
        return "final output"
    return f"map {name}" if name.isdigit() or name in ("aux", "resized") else name


def _kind_label(row: NetworkRow) -> str:
    if row.kind == "path":
        return path_label(row.layer)
    return layer_label(row.layer)


class NetworkPanel(QWidget):
    """The table of :class:`NetworkRow` s and a status line saying which layer and unit is shown.

    Signal ``selection_changed(kind, name)``: ``(LAYER, layer)``, ``(PATHS, path)`` or ``("", "")``
    when nothing is selected.
    """

    selection_changed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[NetworkRow] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        for column, tip in enumerate(HEADER_TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        red, green, blue = LAYER_COLOR  # the selected layer's row in its box's colour
        self.table.setStyleSheet(f"QTableWidget::item:selected {{ background: rgb({red}, {green}, {blue}); }}")
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        self.status = QLabel(HINT)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addWidget(self.status)

    def set_rows(self, rows: Sequence[NetworkRow]) -> None:
        """Show ``rows``; the selected layer stays selected if the new table has it."""
        selected = self.selection()
        self.rows = list(rows)
        with QSignalBlocker(self.table):
            self.table.clearSelection()
            self.table.setRowCount(len(self.rows))
            for index, row in enumerate(self.rows):
                self._fill(index, row)
        if selected != ("", "") and self._find(*selected) is not None:
            self.select(*selected)
        else:
            self.table.clearSelection()
            self.selection_changed.emit("", "")

    def _fill(self, index: int, row: NetworkRow) -> None:
        padding = "" if row.padding is None else str(row.padding)
        channels = "" if row.channels is None else str(row.channels)
        size = f"{row.size}+" if row.whole_image else str(row.size)
        tip = row.note or (
            "+: a global pooling lets it see the whole image besides (the size is of its local paths)"
            if row.whole_image
            else ""
        )
        texts = (_kind_label(row), channels, size, f"{row.stride:g}", f"{row.center0:g}", padding, tip)
        for column, text in enumerate(texts):
            item = QTableWidgetItem(text)
            if 0 < column < len(COLUMNS) - 1:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if row.kind == "crop":
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # an explanation, not a layer to show
                item.setForeground(QBrush(QColor(200, 120, 0)))
                font = item.font()
                font.setItalic(True)
                item.setFont(font)
            if row.kind in ("map", "path"):
                font = item.font()
                font.setWeight(QFont.Weight.Bold)
                item.setFont(font)
            item.setToolTip(tip)
            self.table.setItem(index, column, item)

    def _find(self, kind: str, name: str) -> int | None:
        for index, row in enumerate(self.rows):
            if (PATHS if row.kind == "path" else LAYER) == kind and row.layer == name and row.kind != "crop":
                return index
        return None

    def select(self, kind: str, name: str) -> bool:
        """Select the row of layer (``LAYER``) or skip path (``PATHS``) ``name``; whether there is one."""
        index = self._find(kind, name)
        if index is None:
            return False
        self.table.selectRow(index)
        self.table.scrollToItem(self.table.item(index, 0))
        return True

    def select_layer(self, name: str) -> bool:
        """Select the layer ``name`` (a module, a map, ``"final"``)."""
        return self.select(LAYER, name)

    def clear_selection(self) -> None:
        """Select nothing: the stage view is shown again."""
        self.table.clearSelection()

    def selection(self) -> tuple[str, str]:
        """``(kind, name)`` of the selected row, or ``("", "")``."""
        indexes = self.table.selectionModel().selectedRows()
        if not indexes or not self.rows:
            return "", ""
        row = self.rows[indexes[0].row()]
        return (PATHS if row.kind == "path" else LAYER), row.layer

    def set_status(self, text: str) -> None:
        """Say what is shown (``""``: the hint)."""
        if self.status.text() != (text or HINT):
            self.status.setText(text or HINT)

    def _on_selection_changed(self) -> None:
        self.selection_changed.emit(*self.selection())
