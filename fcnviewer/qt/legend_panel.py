"""The class legend: names in palette colours, per-class show/hide, each class's share of the image and,
with a ground truth, its share of the truth and its IU on this image."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from fcnviewer.qt.elided_label import ElidedLabel
from fcnviewer.viewer.viewer_model import ViewerModel

#: Above this many classes the legend lists only those present in the prediction, largest share first.
MANY_CLASSES = 40
#: The columns after the class's: share of the prediction, share of the truth, IU here.
SHARE, TRUTH, IU = 1, 2, 3


class LegendPanel(QWidget):
    """One row per class: tick to show, colour swatch and name, share of the image's pixels; with a
    truth (:meth:`set_truth`) also the share of the truth's pixels and the class's IU here.

    A model with more than :data:`MANY_CLASSES` classes (an ImageNet classifier's 1000) lists only
    the classes present in the final prediction, sorted by share, under a note saying how many.
    """

    def __init__(self, model: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        #: The class index of each row.
        self.rows: list[int] = []
        self._truth: tuple[Sequence[float], Sequence[float]] = ((), ())
        self.note = ElidedLabel()
        self.note.setVisible(False)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Class", "Share", "Truth", "IU"])
        self.table.horizontalHeaderItem(SHARE).setToolTip("share of the image's pixels in the prediction")
        self.table.horizontalHeaderItem(TRUTH).setToolTip("share of the truth's pixels (ignored ones left out)")
        self.table.horizontalHeaderItem(IU).setToolTip("the class's intersection over union on this image")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (SHARE, TRUTH, IU):
            self.table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
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
        self._truth = ((), ())
        self._list_rows()

    def _list_rows(self) -> None:
        self.rows = self._listed()
        with QSignalBlocker(self.table):
            self.table.setRowCount(len(self.rows))
            for row, index in enumerate(self.rows):
                swatch = QPixmap(14, 14)
                swatch.fill(QColor(*(int(c) for c in self.model.palette[index])))
                item = QTableWidgetItem(swatch, self.model.class_names[index])
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                self.table.setItem(row, 0, item)
                for column in (SHARE, TRUTH, IU):
                    cell = QTableWidgetItem("")
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
                    self.table.setItem(row, column, cell)
        self.note.setVisible(self.lists_present_only)
        self.note.setText(f"{len(self.rows)} of {len(self.model.class_names)} classes present")
        self._on_hidden_classes_changed(self.model.hidden_classes)
        self._show_shares()
        self.set_truth(*self._truth)

    def _on_prediction_changed(self, _: object) -> None:
        if self.lists_present_only:
            self._list_rows()
        else:
            self._show_shares()

    def _show_shares(self) -> None:
        shares = self.model.class_shares()
        with QSignalBlocker(self.table):
            for row, index in enumerate(self.rows):
                text = f"{100 * shares[index]:.1f} %" if self.model.prediction is not None else ""
                self.table.item(row, SHARE).setText(text)

    def set_truth(self, class_iu: Sequence[float], truth_shares: Sequence[float]) -> None:
        """Show each class's IU on this image and share of its truth (empty: no truth, the columns hide)."""
        self._truth = (class_iu, truth_shares)
        with QSignalBlocker(self.table):
            for row, index in enumerate(self.rows):
                share = f"{100 * truth_shares[index]:.1f} %" if index < len(truth_shares) else ""
                iu = class_iu[index] if index < len(class_iu) else math.nan
                self.table.item(row, TRUTH).setText(share)
                self.table.item(row, IU).setText("" if math.isnan(iu) else f"{100 * iu:.0f} %")
        for column in (TRUTH, IU):
            self.table.setColumnHidden(column, not len(class_iu))

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

    def _text(self, class_index: int, column: int) -> str:
        return self.table.item(self.rows.index(class_index), column).text() if class_index in self.rows else ""

    def share_text(self, class_index: int) -> str:
        """The share shown for ``class_index`` (empty when it is not listed)."""
        return self._text(class_index, SHARE)

    def iu_text(self, class_index: int) -> str:
        """The IU on this image shown for ``class_index`` (empty without a truth or when it is not listed)."""
        return self._text(class_index, IU)
