"""Model > Pretrained Models…: the catalogue in a table, and the progress of a model's download.

The table reads the torch-free catalogue (no network); choosing a row asks the window to load
that name, and the worker downloads it. :class:`DownloadProgress` shows that download in a
non-modal progress dialog whose Cancel stops it (the window stays usable throughout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressDialog,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fcnviewer.core.catalogue import ZooEntry, cache_dir, catalogue

if TYPE_CHECKING:
    from fcnviewer.qt.controller import Controller
    from fcnviewer.qt.main_window import MainWindow

COLUMNS = ("Model", "Family", "Trained on", "Classes", "Size", "Downloaded")


def entry_cells(entry: ZooEntry) -> tuple[str, ...]:
    """The table's text for ``entry``, column by column."""
    size = "?" if entry.size_mb is None else f"{'~' if entry.size_estimated else ''}{entry.size_mb:.0f} MB"
    cached = "yes" if entry.cached_path.is_file() else "no"
    return (entry.name, entry.family, entry.training_data, str(len(entry.classes)), size, cached)


class PretrainedDialog(QDialog):
    """The catalogue, one row per model; Load (or a double click) loads the chosen one in ``window``."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Pretrained Models")
        self.setObjectName("pretrained-dialog")
        self.window_ = window
        self.entries = list(catalogue().values())
        self.table = QTableWidget(len(self.entries), len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.fill()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(lambda row, _column: self._on_load_requested(row))
        note = QLabel(
            f"A model is downloaded once, checked against its published hash, and kept in {cache_dir()}. "
            "The bundled model knows only synthetic shapes; these were trained on photos."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.load_button = buttons.addButton("Load", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(lambda: self._on_load_requested(self.table.currentRow()))
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(980, 460)

    def fill(self) -> None:
        """(Re)write every row, with whether each model is downloaded now."""
        for row, entry in enumerate(self.entries):
            for column, text in enumerate(entry_cells(entry)):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{entry.url}\n{entry.source}")
                self.table.setItem(row, column, item)

    def _on_load_requested(self, row: int) -> None:
        if 0 <= row < len(self.entries):
            self.window_.load_model(self.entries[row].name)
            self.close()


def show_pretrained_models(window: MainWindow) -> PretrainedDialog:
    """Open the catalogue beside ``window`` (non-modal)."""
    dialog = PretrainedDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


class DownloadProgress:
    """A non-modal progress dialog for the download of a pretrained model, made at its first
    progress report and closed when the load ends; Cancel asks the controller to stop it.

    (Made on demand: a ``QProgressDialog`` shows itself some seconds after it is constructed.)
    """

    def __init__(self, controller: Controller, parent: QWidget) -> None:
        self.controller = controller
        self.parent = parent
        self.dialog: QProgressDialog | None = None
        controller.download_progress.connect(self._on_progress_changed)
        controller.download_ended.connect(self._on_download_ended)

    def _on_progress_changed(self, name: str, done: int, total: int) -> None:
        if self.dialog is None:
            self.dialog = QProgressDialog("", "Cancel", 0, 0, self.parent)
            self.dialog.setObjectName("download-progress")
            self.dialog.setWindowTitle("Downloading a pretrained model")
            self.dialog.setWindowModality(Qt.WindowModality.NonModal)
            self.dialog.setAutoClose(False)
            self.dialog.setAutoReset(False)
            self.dialog.setMinimumWidth(420)
            self.dialog.canceled.connect(self.controller.cancel_download)
            self.dialog.show()
        mib = 1 << 20
        of = f" of {total / mib:.1f} MB" if total else ""
        self.dialog.setLabelText(f"{name}: {done / mib:.1f}{of}")
        self.dialog.setMaximum(total // 1024 if total else 0)  # KiB: a progress dialog counts in ints
        self.dialog.setValue(done // 1024 if total else 0)

    def _on_download_ended(self) -> None:
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.controller.cancel_download)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
