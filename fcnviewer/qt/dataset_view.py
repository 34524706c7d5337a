"""What a labelled dataset adds to the window: the image list and summary docks, the truth's layers,
legend columns and inspector row, the status bar's true class, and which opened folders are datasets.

The window makes one :class:`DatasetView` (before its menus and layout are restored) and asks it
which paths to open as datasets; the rest is wired here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from fcnviewer.core.dataset_layout import is_dataset
from fcnviewer.qt.dataset_controller import DatasetController
from fcnviewer.qt.dataset_summary_panel import DatasetSummaryPanel
from fcnviewer.qt.image_list_panel import ImageListPanel

if TYPE_CHECKING:
    from fcnviewer.qt.main_window import MainWindow


class DatasetView(QObject):
    """The dataset's part of ``window``: its :class:`DatasetController` (``datasets``), the image
    list (``image_list``) and summary (``summary_panel``) panels in docks of their own."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.datasets = DatasetController(window.controller)
        self.image_list = ImageListPanel(self.datasets)
        self.summary_panel = DatasetSummaryPanel(window.model)
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.docks = {
            "images": self._dock("Images", self.image_list, bottom),
            "summary": self._dock("Dataset Summary", self.summary_panel, bottom),
        }
        window.docks.update(self.docks)
        truth = self.datasets.truth
        window.inspector.truth_at = truth.truth_at
        window.inspector.truth_names = self.datasets.truth_names
        window.model.events.hidden_classes.connect(self._on_hidden_classes_changed)
        self.datasets.listing_changed.connect(self._on_listing_changed)
        self.datasets.summary_changed.connect(self.summary_panel.set_summary)
        self.datasets.truth_changed.connect(self._on_truth_changed)

    def _dock(self, title: str, widget: ImageListPanel | DatasetSummaryPanel, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(f"dock-{title.lower().replace(' ', '-')}")
        dock.setWidget(widget)
        self.window.addDockWidget(area, dock)
        dock.hide()  # until a dataset is opened
        return dock

    def _show_docks(self) -> None:
        """Show the image list and summary under the whole window (the side docks end above them),
        the list wider."""
        window = self.window
        for corner in (Qt.Corner.BottomLeftCorner, Qt.Corner.BottomRightCorner):
            window.setCorner(corner, Qt.DockWidgetArea.BottomDockWidgetArea)
        for dock in self.docks.values():
            dock.show()
        network = window.docks["network"]
        if window.dockWidgetArea(network) == Qt.DockWidgetArea.BottomDockWidgetArea:
            window.tabifyDockWidget(network, self.docks["images"])  # three side by side were too narrow
        docks = list(self.docks.values())
        width, height = window.width(), window.height()
        window.resizeDocks(docks, [int(0.55 * width), int(0.45 * width)], Qt.Orientation.Horizontal)
        window.resizeDocks(docks[:1], [max(220, int(0.32 * height))], Qt.Orientation.Vertical)

    def open(self, path: str | Path) -> None:
        """Open the labelled folder ``path`` (a bad one is reported; what is shown stays)."""
        self.datasets.open(path)

    def take_datasets(self, paths: Sequence[str | Path]) -> list[str | Path]:
        """Open the labelled folders among ``paths`` (the last one); return the others."""
        found = [p for p in paths if Path(p).is_dir() and is_dataset(p)]
        if found:
            self.open(found[-1])
        return [p for p in paths if p not in found]

    def describe_pixel(self, y: int, x: int) -> str:
        """The status bar's words on the true class at ``(y, x)`` (empty without a truth there)."""
        model = self.window.model
        text = self.datasets.truth.describe(y, x, model.prediction, self.datasets.truth_names()) if y >= 0 else ""
        return f"  |  {text}" if text else ""

    def _on_listing_changed(self) -> None:
        self.window.controller.of_model_domain = self._of_model_domain
        if not any(dock.isVisible() for dock in self.docks.values()):
            self._show_docks()
        self.docks["images"].raise_()
        self.window.statusBar().showMessage(f"{self.datasets.table.listing.root}: walking its images…", 5000)  # type: ignore[union-attr]

    def _of_model_domain(self, image: Path) -> bool:
        """Whether ``image`` is of the open dataset and that dataset is labelled in the model's classes
        (or names none): then it is the model's kind of image and needs no domain note."""
        listing, loaded = self.datasets.table.listing, self.window.controller.loaded
        if listing is None or not image.is_relative_to(listing.root):
            return False
        return listing.class_names is None or (loaded is not None and listing.class_names == loaded.info.class_names)

    def _on_truth_changed(self) -> None:
        truth, window = self.datasets.truth, self.window
        shown = self.datasets.shown_row() is not None
        truth.sync_layers(window.model.layers, window.model.prediction_top(), keep=shown)
        truth.truth_layer.hidden_classes = window.model.hidden_classes
        window.legend_panel.set_truth(truth.class_iu, truth.truth_shares)
        window.inspector.refresh()

    def _on_hidden_classes_changed(self, hidden: frozenset[int]) -> None:
        self.datasets.truth.truth_layer.hidden_classes = hidden
