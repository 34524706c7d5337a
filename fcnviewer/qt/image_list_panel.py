"""The image list of a labelled dataset: one row per image with its mean IU and pixel accuracy
(final output and each stage), filled in as the walk goes, sortable (worst first), a click opens it."""

from __future__ import annotations

import math
import time
from collections.abc import Collection
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fcnviewer.qt.dataset_controller import DatasetController
from fcnviewer.viewer.dataset_table import DatasetTable
from fcnviewer.viewer.layers import stage_label

Index = QModelIndex | QPersistentModelIndex
#: Shortest time (ms) between two updates of the list while the walk runs: each re-sorts and repaints it
#: (updated for every row, sizing its columns to their contents, the GUI thread stalled 250 ms at 17 images/s).
REFRESH_MS = 250
#: The two numbers of each stage, with their column titles and what they are.
MEASURES = (("mean_iu", "IU"), ("pixel_acc", "acc."))
MEASURE_TIPS = {"mean_iu": "mean IU", "pixel_acc": "pixel accuracy"}


class ImageListModel(QAbstractTableModel):
    """The rows of a :class:`DatasetTable`: name, then per stage (final first) mean IU and pixel
    accuracy in percent, then a note. ``Qt.UserRole`` gives the sort key (unscored rows last)."""

    def __init__(self, table: DatasetTable) -> None:
        super().__init__()
        self.table = table
        self.columns: list[tuple[str, str]] = []  # (measure, stage) of each number column
        self._set_columns()

    def _set_columns(self) -> None:
        self.columns = [(measure, stage) for stage in self.table.stages for measure, _ in MEASURES]

    def set_table(self, table: DatasetTable) -> None:
        """Show ``table`` (a new listing, or the same one emptied)."""
        self.beginResetModel()
        self.table = table
        self._set_columns()
        self.endResetModel()

    def rows_changed(self, rows: Collection[int]) -> bool:
        """``rows`` were walked; whether columns came (the first scores name the stages)."""
        if not self.columns and self.table.stages:
            self.beginInsertColumns(QModelIndex(), 1, 2 * len(self.table.stages))
            self._set_columns()
            self.endInsertColumns()
            return True
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), self.columnCount() - 1))
        return False

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.table)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns) + 2

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        shown = role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)
        if orientation != Qt.Orientation.Horizontal or not shown:
            return None
        if section == 0 or section > len(self.columns):
            return "image" if section == 0 else "note"
        measure, stage = self.columns[section - 1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{MEASURE_TIPS[measure]} of the {stage_label(stage)} output against the truth, in percent"
        return dict(MEASURES)[measure] + ("" if stage == "final" else f" {stage}")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self.table.rows[index.row()], index.column()
        if column == 0:
            return row.entry.name if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.UserRole) else None
        if column > len(self.columns):
            note = row.note if row.walked else "…"
            return note if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) else None
        value = row.value(*self.columns[column - 1])
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if math.isnan(value) else f"{100 * value:.1f}"
        if role == Qt.ItemDataRole.UserRole:
            return math.inf if math.isnan(value) else value
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and not math.isnan(value):
            return QColor.fromHsvF(0.33 * value, 0.35, 1.0)  # red (0) to green (1)
        return None


class ImageListPanel(QWidget):
    """The image list, the walk's progress with Cancel (or Resume), and a line saying how fast it goes."""

    def __init__(self, datasets: DatasetController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.datasets = datasets
        self.model = ImageListModel(datasets.table)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.proxy.setDynamicSortFilter(True)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 6)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.clicked.connect(self._on_row_clicked)
        self.view.activated.connect(self._on_row_clicked)
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m images walked")
        self.walk_button = QPushButton("Cancel")
        self.walk_button.clicked.connect(self._on_walk_button_clicked)
        self.rate_label = QLabel("")
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.walk_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.rate_label)
        layout.addWidget(self.view, 1)
        self._started_at = (0.0, 0)  # when the walk (re)started, and how many rows were walked then
        self._changed_rows: set[int] = set()
        self._walk_state = (0, 0, False)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh)
        datasets.listing_changed.connect(self._on_listing_changed)
        datasets.row_changed.connect(self._on_row_changed)
        datasets.walk_changed.connect(self._on_walk_changed)
        datasets.controller.image_shown.connect(self._on_image_shown)

    def _on_listing_changed(self) -> None:
        self.model.set_table(self.datasets.table)
        self._size_columns()
        self._changed_rows.clear()
        self._started_at = (time.perf_counter(), 0)

    def _size_columns(self) -> None:
        """Widths from the names and titles (Qt's sizing to contents measured 190 ms for 100 rows)."""
        metrics, header = self.view.fontMetrics(), self.view.horizontalHeader()
        names = [row.entry.name for row in self.model.table.rows] or [""]
        header.resizeSection(0, min(260, max(metrics.horizontalAdvance(n) for n in names) + 16))
        for column in range(1, self.model.columnCount() - 1):
            title = str(self.model.headerData(column, Qt.Orientation.Horizontal))
            header.resizeSection(column, max(metrics.horizontalAdvance(t) for t in (title, "100.0")) + 20)

    def _on_row_changed(self, row: int) -> None:
        self._changed_rows.add(row)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _refresh(self) -> None:
        """Show the rows walked since the last refresh, and the walk's progress."""
        if self.model.rows_changed(self._changed_rows):
            self._size_columns()
        self._changed_rows.clear()
        self._show_walk(*self._walk_state)

    def _on_image_shown(self) -> None:
        """Select the shown image's row (opened by a click, by stepping, or at first)."""
        row = self.datasets.shown_row()
        if row is None:
            self.view.clearSelection()
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.view.selectRow(index.row())
        self.view.scrollTo(index)

    def _on_row_clicked(self, index: QModelIndex) -> None:
        """Open the row's image, unless it is shown already (a double-click is a click, then an activation)."""
        row = self.proxy.mapToSource(index).row()
        if row != self.datasets.shown_row():
            self.datasets.open_row(row)

    def _on_walk_button_clicked(self) -> None:
        if self.datasets.walking:
            self.datasets.cancel_walk()
        else:
            self._started_at = (time.perf_counter(), self.datasets.table.walked)
            self.datasets.start_walk()

    def _on_walk_changed(self, done: int, total: int, walking: bool) -> None:
        self._walk_state = (done, total, walking)
        if walking and self._refresh_timer.isActive():
            return  # shown with the rows, soon
        self._refresh()

    def _show_walk(self, done: int, total: int, walking: bool) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.walk_button.setText("Cancel" if walking else "Resume")
        self.walk_button.setEnabled(walking or done < total)
        started, before = self._started_at
        elapsed = time.perf_counter() - started
        if done > before and elapsed > 0:
            state = "walking" if walking else ("done" if done == total else "cancelled")
            self.rate_label.setText(f"{state}: {(done - before) / elapsed:.1f} images/s")

    def sort_worst_first(self) -> None:
        """Sort by the final output's mean IU, lowest first."""
        self.view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
