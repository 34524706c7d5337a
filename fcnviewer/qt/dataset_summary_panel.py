"""The dataset summary: per-class IU of the final output and each stage over the images walked, and a
confusion matrix as a picture (rows the true class, normalised; columns the predicted class)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fcnviewer.viewer.colormaps import apply_colormap
from fcnviewer.viewer.dataset_table import DatasetSummary
from fcnviewer.viewer.layers import stage_label
from fcnviewer.viewer.viewer_model import ViewerModel

#: Side of the confusion picture in pixels (about), and the class-colour strips' width.
PICTURE_SIDE = 180
STRIP = 6


def confusion_picture(matrix: np.ndarray, palette: np.ndarray, side: int = PICTURE_SIDE) -> np.ndarray:
    """``(H, W, 4)`` uint8: the row-normalised ``matrix`` in viridis, one square per cell, with the
    classes' colours in a strip left of the rows and above the columns."""
    n = len(matrix)
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = np.where(totals > 0, matrix / np.maximum(totals, 1), 0.0)
    cell = max(4, side // max(1, n))
    cells = np.repeat(np.repeat(apply_colormap(normalised, "viridis", (0.0, 1.0)), cell, 0), cell, 1)
    colours = np.zeros((n, 4), np.uint8)
    colours[:, :3] = palette[:n]
    colours[:, 3] = 255
    strip = np.repeat(colours, cell, 0)
    picture = np.full((n * cell + STRIP + 1, n * cell + STRIP + 1, 4), 255, np.uint8)
    picture[STRIP + 1 :, STRIP + 1 :] = cells
    picture[STRIP + 1 :, :STRIP] = strip[:, None]
    picture[:STRIP, STRIP + 1 :] = strip[None]
    return np.ascontiguousarray(picture)


class DatasetSummaryPanel(QWidget):
    """Per-class IU (rows: classes, then the mean; columns: final, stages) and the confusion picture
    of the stage chosen, of the images walked so far."""

    def __init__(self, model: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.summary: DatasetSummary | None = None
        self.heading = QLabel("<i>Open a labelled dataset (File › Open Dataset…) to score it here.</i>")
        self.heading.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 4)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.stage_combo = QComboBox()
        self.stage_combo.currentTextChanged.connect(self._draw_confusion)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.picture.setToolTip("rows: true class (each row sums to 1); columns: predicted class")
        right = QVBoxLayout()
        choose = QHBoxLayout()
        choose.addWidget(QLabel("Confusion of"))
        choose.addWidget(self.stage_combo, 1)
        right.addLayout(choose)
        right.addWidget(self.picture, 1)
        right.addWidget(QLabel("rows: true class · columns: predicted"))
        body = QHBoxLayout()
        body.addWidget(self.table, 1)
        body.addLayout(right)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.heading)
        layout.addLayout(body, 1)

    def set_summary(self, summary: DatasetSummary) -> None:
        """Show ``summary`` (the walk's scores so far)."""
        self.summary = summary
        stages = list(summary.class_iu)
        means = " · ".join(f"{stage_label(s)} {100 * summary.mean_iu[s]:.1f}" for s in stages)
        self.heading.setText(f"<b>{summary.scored}</b> of {summary.total} images scored · mean IU % {means}")
        self._fill_table(summary, stages)
        if [self.stage_combo.itemText(i) for i in range(self.stage_combo.count())] != stages:
            chosen = self.stage_combo.currentText() or "final"
            self.stage_combo.blockSignals(True)
            self.stage_combo.clear()
            self.stage_combo.addItems(stages)
            self.stage_combo.setCurrentText(chosen)
            self.stage_combo.blockSignals(False)
        self._draw_confusion()

    def _fill_table(self, summary: DatasetSummary, stages: list[str]) -> None:
        names = self.model.class_names
        if self.table.columnCount() != len(stages) or self.table.rowCount() != len(names) + 1:
            self.table.setColumnCount(len(stages))
            self.table.setRowCount(len(names) + 1)
            self.table.setHorizontalHeaderLabels([f"{stage_label(s)} IU %" for s in stages])
            self.table.setVerticalHeaderLabels([*names, "mean"])
            for row in range(len(names) + 1):
                for column in range(len(stages)):
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(row, column, item)
        for column, stage in enumerate(stages):
            values = [*summary.class_iu[stage][: len(names)], summary.mean_iu[stage]]
            for row, value in enumerate(values):
                item = self.table.item(row, column)
                item.setText("–" if math.isnan(value) else f"{100 * value:.1f}")
                item.setBackground(QColor.fromHsvF(0.33 * value, 0.3, 1.0) if not math.isnan(value) else QColor())

    def _draw_confusion(self) -> None:
        summary, stage = self.summary, self.stage_combo.currentText()
        if summary is None or stage not in summary.confusion:
            self.picture.clear()
            return
        picture = confusion_picture(summary.confusion[stage], self.model.palette)
        height, width = picture.shape[:2]
        image = QImage(picture.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
        self.picture.setPixmap(QPixmap.fromImage(image.copy()))
