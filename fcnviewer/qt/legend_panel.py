"""The class legend: names in palette colours, per-class show/hide, each class's share of the image and,
with a ground truth, its share of the truth and its IU on this image."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from fcnviewer.viewer.viewer_model import ViewerModel


class LegendPanel(QWidget):
    """One row per class: tick to show, colour swatch and name, share of the image's pixels; with a
    truth (:meth:`set_truth`) also the share of the truth's pixels and the class's IU here."""

    def __init__(self, model: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Class", "Share", "Truth", "IU"])
        self.table.horizontalHeaderItem(1).setToolTip("share of the image's pixels in the prediction")
        self.table.horizontalHeaderItem(2).setToolTip("share of the truth's pixels (ignored ones left out)")
        self.table.horizontalHeaderItem(3).setToolTip("the class's intersection over union on this image")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            self.table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._on_item_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        model.events.classes.connect(self._on_classes_changed)
        model.events.prediction.connect(self._on_prediction_changed)
        model.events.hidden_classes.connect(self._on_hidden_classes_changed)
        self._on_classes_changed()

    def _on_classes_changed(self) -> None:
        with QSignalBlocker(self.table):
            self.table.setRowCount(len(self.model.class_names))
            for row, (name, colour) in enumerate(zip(self.model.class_names, self.model.palette, strict=True)):
                swatch = QPixmap(14, 14)
                swatch.fill(QColor(*(int(c) for c in colour)))
                item = QTableWidgetItem(swatch, name)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                self.table.setItem(row, 0, item)
                for column in (1, 2, 3):
                    share = QTableWidgetItem("")
                    share.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    share.setFlags(Qt.ItemFlag.ItemIsEnabled)
                    self.table.setItem(row, column, share)
        self.set_truth((), ())
        self._on_hidden_classes_changed(self.model.hidden_classes)
        self._on_prediction_changed(self.model.prediction)

    def _on_prediction_changed(self, _: object) -> None:
        shares = self.model.class_shares()
        with QSignalBlocker(self.table):
            for row, share in enumerate(shares):
                text = f"{100 * share:.1f} %" if self.model.prediction is not None else ""
                self.table.item(row, 1).setText(text)

    def set_truth(self, class_iu: Sequence[float], truth_shares: Sequence[float]) -> None:
        """Show each class's IU on this image and share of its truth (empty: no truth, the columns hide)."""
        with QSignalBlocker(self.table):
            for row in range(self.table.rowCount()):
                share = f"{100 * truth_shares[row]:.1f} %" if row < len(truth_shares) else ""
                iu = class_iu[row] if row < len(class_iu) else math.nan
                self.table.item(row, 2).setText(share)
                self.table.item(row, 3).setText("" if math.isnan(iu) else f"{100 * iu:.0f} %")
        for column in (2, 3):
            self.table.setColumnHidden(column, not class_iu)

    def _on_hidden_classes_changed(self, hidden: frozenset[int]) -> None:
        with QSignalBlocker(self.table):
            for row in range(self.table.rowCount()):
                state = Qt.CheckState.Unchecked if row in hidden else Qt.CheckState.Checked
                self.table.item(row, 0).setCheckState(state)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        hidden = set(self.model.hidden_classes)
        if item.checkState() == Qt.CheckState.Checked:
            hidden.discard(item.row())
        else:
            hidden.add(item.row())
        self.model.hidden_classes = frozenset(hidden)

    def share_text(self, class_index: int) -> str:
        """The share shown for ``class_index``."""
        return self.table.item(class_index, 1).text()

    def iu_text(self, class_index: int) -> str:
        """The IU on this image shown for ``class_index`` (empty without a truth)."""
        return self.table.item(class_index, 3).text()
