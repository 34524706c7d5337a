"""The class legend: names in palette colours, per-class show/hide, each class's share of the image."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fcnviewer.qt.elided_label import ElidedLabel
from fcnviewer.viewer.viewer_model import ViewerModel

#: Above this many classes the legend lists only those present in the prediction, largest share first.
MANY_CLASSES = 40


class LegendPanel(QWidget):
    """One row per class: tick to show, colour swatch and name, share of the image's pixels.

    A model with more than :data:`MANY_CLASSES` classes (an ImageNet classifier's 1000) lists only
    the classes present in the final prediction, sorted by share, under a note saying how many.
    """

    def __init__(self, model: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        #: The class index of each row.
        self.rows: list[int] = []
        self.note = ElidedLabel()
        self.note.setVisible(False)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Class", "Share"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._on_item_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.note)
        layout.addWidget(self.table)
        model.events.classes.connect(self._on_classes_changed)
        model.events.prediction.connect(self._on_prediction_changed)
        model.events.hidden_classes.connect(self._on_hidden_classes_changed)
        self._on_classes_changed()

    @property
    def lists_present_only(self) -> bool:
        """Whether only the classes present are listed (many classes)."""
        return len(self.model.class_names) > MANY_CLASSES

    def _listed(self) -> list[int]:
        """The classes to list: all in index order, or with many classes those present, largest share first."""
        if not self.lists_present_only:
            return list(range(len(self.model.class_names)))
        shares = self.model.class_shares()
        present = np.flatnonzero(shares > 0)
        return [int(i) for i in present[np.argsort(-shares[present], kind="stable")]]

    def _on_classes_changed(self) -> None:
        self.rows = self._listed()
        with QSignalBlocker(self.table):
            self.table.setRowCount(len(self.rows))
            for row, index in enumerate(self.rows):
                swatch = QPixmap(14, 14)
                swatch.fill(QColor(*(int(c) for c in self.model.palette[index])))
                item = QTableWidgetItem(swatch, self.model.class_names[index])
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                self.table.setItem(row, 0, item)
                share = QTableWidgetItem("")
                share.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                share.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.table.setItem(row, 1, share)
        self.note.setVisible(self.lists_present_only)
        self.note.setText(f"{len(self.rows)} of {len(self.model.class_names)} classes present")
        self._on_hidden_classes_changed(self.model.hidden_classes)
        self._show_shares()

    def _on_prediction_changed(self, _: object) -> None:
        if self.lists_present_only:
            self._on_classes_changed()
        else:
            self._show_shares()

    def _show_shares(self) -> None:
        shares = self.model.class_shares()
        with QSignalBlocker(self.table):
            for row, index in enumerate(self.rows):
                text = f"{100 * shares[index]:.1f} %" if self.model.prediction is not None else ""
                self.table.item(row, 1).setText(text)

    def _on_hidden_classes_changed(self, hidden: frozenset[int]) -> None:
        with QSignalBlocker(self.table):
            for row, index in enumerate(self.rows):
                state = Qt.CheckState.Unchecked if index in hidden else Qt.CheckState.Checked
                self.table.item(row, 0).setCheckState(state)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        hidden, index = set(self.model.hidden_classes), self.rows[item.row()]
        if item.checkState() == Qt.CheckState.Checked:
            hidden.discard(index)
        else:
            hidden.add(index)
        self.model.hidden_classes = frozenset(hidden)

    def share_text(self, class_index: int) -> str:
        """The share shown for ``class_index`` (empty when it is not listed)."""
        return self.table.item(self.rows.index(class_index), 1).text() if class_index in self.rows else ""
