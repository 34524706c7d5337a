"""The main window: builds the canvas, the docks, the status bar and the menus, and wires them to
the viewer model and the :class:`~fcnviewer.qt.controller.Controller`."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QResizeEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QProgressBar, QWidget

from fcnviewer.qt.canvas import Canvas
from fcnviewer.qt.controller import Box, Controller
from fcnviewer.qt.dataset_view import DatasetView
from fcnviewer.qt.elided_label import ElidedLabel
from fcnviewer.qt.erf_tools import ReceptiveFieldTools
from fcnviewer.qt.export import Exporter
from fcnviewer.qt.icons import app_icon
from fcnviewer.qt.inspector_panel import InspectorPanel
from fcnviewer.qt.layer_panel import LayerPanel
from fcnviewer.qt.layer_view import LayerView
from fcnviewer.qt.legend_panel import LegendPanel
from fcnviewer.qt.menus import Menus, ShortcutsDialog
from fcnviewer.qt.network_panel import NetworkPanel
from fcnviewer.qt.pretrained_dialog import DownloadProgress, show_pretrained_models
from fcnviewer.qt.settings_store import SettingsStore
from fcnviewer.qt.window_layout import limit_dock_widths, restore_layout, save_layout
from fcnviewer.viewer.viewer_model import ViewerModel

#: Environment variable naming a JSON file the window writes its state to (for end-to-end tests).
E2E_REPORT_ENV = "FCNVIEWER_E2E_REPORT"


class _FromController:
    """A read-only attribute of the window that is its controller's attribute of the same name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, window: Any, owner: type | None = None) -> Any:
        return self if window is None else getattr(window.controller, self.name)


class MainWindow(QMainWindow):
    """The viewer. Results of an image, model or click no longer shown are dropped (see the
    controller). Signals: ``image_shown``, ``prediction_shown`` (a new prediction is drawn),
    ``probe_shown`` (an effective RF arrived), ``model_loaded``, ``error_shown(message)``."""

    image_shown = Signal()
    prediction_shown = Signal()
    probe_shown = Signal()
    model_loaded = Signal()
    error_shown = Signal(str)

    # What the controller keeps, readable here too.
    requests = _FromController()
    loaded = _FromController()
    device = _FromController()
    image_path = _FromController()
    images = _FromController()
    reports = _FromController()
    worker_thread = _FromController()
    files_thread = _FromController()

    def __init__(
        self,
        settings: QSettings | None = None,
        *,
        device: str = "auto",
        max_pixels: int | None = None,
        precision: str = "auto",
    ) -> None:
        super().__init__()
        self.setWindowTitle("FCN Viewer")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.settings = SettingsStore(settings if settings is not None else QSettings("fcnviewer", "fcnviewer"))
        device = str(self.settings.value("device", device)) if device == "auto" else device
        self.model = ViewerModel()
        self.model.show_background = str(self.settings.value("show_background", False)).lower() == "true"
        self.controller = Controller(self.model, device=device, max_pixels=max_pixels, precision=precision)
        self.last_error = self.last_notice = ""
        self.canvas = Canvas(self.model.layers)
        self.canvas.setMinimumSize(200, 150)
        self.setCentralWidget(self.canvas)
        self.layer_panel = LayerPanel(self.model.layers)
        self.legend_panel = LegendPanel(self.model)
        self.inspector = InspectorPanel(self.model)
        self.docks = {
            "layers": self._dock("Layers", self.layer_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            "classes": self._dock("Classes", self.legend_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            "inspector": self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea),
            "network": self._dock("Network", NetworkPanel(), Qt.DockWidgetArea.BottomDockWidgetArea),
        }
        self.layer_view = LayerView(self.controller, self.docks["network"].widget(), self.inspector)
        self.dataset_view = DatasetView(self)  # its docks join self.docks
        self._build_status_bar()
        self.exporter = Exporter(self)
        self.menus = Menus(self)
        self.download_progress = DownloadProgress(self.controller, self)
        self.rf_tools = ReceptiveFieldTools(self)
        self._connect_controller()
        self.canvas.hovered.connect(self._on_hovered_changed)
        self.canvas.clicked.connect(self._on_pixel_clicked)
        restore_layout(self, self.docks.values(), self.settings)

    # ------------------------------------------------------------------ construction

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def resizeEvent(self, event: QResizeEvent) -> None:
        limit_dock_widths(self, self.docks.values())
        super().resizeEvent(event)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.hover_label = ElidedLabel("")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.model_label = ElidedLabel("no model")
        self.model_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar.addWidget(self.hover_label, 1)
        bar.addPermanentWidget(self.busy)
        bar.addPermanentWidget(self.model_label)

    def _connect_controller(self) -> None:
        """The controller's news, shown here; then passed on as this window's signals."""
        controller = self.controller
        controller.image_shown.connect(self._on_image_shown)
        controller.image_shown.connect(self.image_shown)
        controller.model_loaded.connect(self._on_model_loaded)
        controller.model_loaded.connect(self.model_loaded)
        controller.prediction_shown.connect(self.prediction_shown)
        controller.prediction_shown.connect(lambda: self._write_e2e_report("prediction"))
        controller.probe_shown.connect(self.probe_shown)
        controller.probe_shown.connect(lambda: self._write_e2e_report("probe"))
        controller.error.connect(lambda message, dialog: self.report_error(message, dialog=dialog))
        controller.status.connect(self.statusBar().showMessage)
        controller.busy_changed.connect(self.busy.setVisible)
        controller.reports_changed.connect(self.inspector.set_reports)
        controller.opened.connect(self.settings.remember)
        controller.notice.connect(self.report_notice)

    # ------------------------------------------------------------------ settings

    def _save_settings(self) -> None:
        save_layout(self, self.settings)
        self.settings.set_value("device", self.device)
        self.settings.close()

    def recent_paths(self) -> list[str]:
        """Recently opened images, folders and checkpoints, newest first."""
        return self.settings.recent_paths()

    # ------------------------------------------------------------------ files, model, pixels

    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Open images, folders of images, labelled datasets (folders) and checkpoints (by suffix)."""
        self.controller.open_paths(self.dataset_view.take_datasets(paths))

    def step_image(self, step: int) -> None:
        """Show the next (``step`` = 1) or previous (-1) image of the opened list, skipping unreadable ones."""
        self.controller.step_image(step)

    def load_model(self, path: str | Path | None, *, arch: str | None = None) -> None:
        """Load a checkpoint (``None``: the bundled model); what is shown stays until it is ready."""
        self.controller.load_model(path, arch=arch)

    def set_device(self, device: str) -> None:
        """Run the network on ``device`` from now on (the model is reloaded there)."""
        self.controller.set_device(device)

    def pin_pixel(self, y: int, x: int, *, keep: bool = False) -> dict[str, Box]:
        """Draw the receptive-field boxes of pixel ``(y, x)`` and probe it; returns the boxes by stage."""
        return self.controller.pin_pixel(y, x, keep=keep)

    def clear_pins(self) -> None:
        """Remove every pin, its boxes and effective receptive field."""
        self.controller.clear_pins()

    def describe_pixel(self, y: int, x: int) -> str:
        """Status-bar text for image pixel ``(y, x)`` (see :meth:`ViewerModel.describe_pixel`)."""
        return self.model.describe_pixel(y, x) + self.dataset_view.describe_pixel(y, x)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def _on_image_shown(self) -> None:
        assert self.model.image is not None
        self.hover_label.setText("")  # it described a pixel of the image before
        self.canvas.set_image_size(*self.model.image.shape[:2])
        images, index = self.controller.images, self.controller.image_index
        parts = ["FCN Viewer"]
        if 0 <= index < len(images):
            parts.insert(0, f"{images[index].name} ({index + 1}/{len(images)})")
        self.setWindowTitle(" — ".join(parts))

    def _on_model_loaded(self) -> None:
        self.hover_label.setText("")  # it described the previous model's prediction
        self.model_label.setText(self.controller.model_text)
        self.model_label.setToolTip(self.controller.model_summary())

    def _on_hovered_changed(self, y: int, x: int) -> None:
        if y >= 0:
            self.statusBar().clearMessage()  # a message would hide the pixel's description
        self.hover_label.setText(self.describe_pixel(y, x) if y >= 0 else "")

    def _on_pixel_clicked(self, y: int, x: int, keep: bool) -> None:
        self.pin_pixel(y, x, keep=keep or self.menus.keep_pins_action.isChecked())

    # ------------------------------------------------------------------ export

    def export(self, what: str, path: str | Path) -> bool:
        """Write the view, label mask or stage scores to ``path`` (see :meth:`Exporter.export`)."""
        return self.exporter.export(what, path)

    def may_write(self, path: Path) -> bool:
        """Whether ``path`` may be written: it is new, or the user agrees to replace it."""
        return self.exporter.may_write(path)

    def copy_view(self) -> None:
        """Put the view, as shown, on the clipboard."""
        self.exporter.copy_view()

    # ------------------------------------------------------------------ messages

    def report_error(self, message: str, *, dialog: bool = True) -> None:
        """Show ``message`` in the status bar and (``dialog``) a dialog that blocks nothing."""
        self.last_error = message
        self.statusBar().showMessage(message, 15000)
        if dialog:
            self._message_box(QMessageBox.Icon.Warning, message, "error-dialog")
        self.error_shown.emit(message)

    def report_notice(self, message: str) -> None:
        """Show ``message`` (something to read once: the model's domain) in a dialog that blocks
        nothing and offers the pretrained models."""
        self.last_notice = message
        box = self._message_box(QMessageBox.Icon.Information, message, "notice-dialog")
        offer = box.addButton("Pretrained Models…", QMessageBox.ButtonRole.ActionRole)
        offer.clicked.connect(lambda: show_pretrained_models(self))

    def _message_box(self, icon: QMessageBox.Icon, message: str, name: str) -> QMessageBox:
        box = QMessageBox(icon, "FCN Viewer", message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setObjectName(name)
        box.show()
        return box

    def show_shortcuts(self) -> ShortcutsDialog:
        """Open the list of keyboard shortcuts."""
        dialog = ShortcutsDialog(self.actions(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _write_e2e_report(self, event: str) -> None:
        """With ``FCNVIEWER_E2E_REPORT`` set, write where things are on screen (for end-to-end tests)."""
        target = os.environ.get(E2E_REPORT_ENV)
        if not target or self.model.image is None:
            return
        height, width = self.model.image.shape[:2]
        centre = self.canvas.mapToGlobal(self.canvas.scene_point(height / 2, width / 2).toPoint())
        corner = self.canvas.mapToGlobal(self.canvas.scene_point(0, 0).toPoint())
        state = {
            "event": event,
            "window": self.windowTitle(),
            "image_size": [height, width],
            "image_centre_on_screen": [centre.x(), centre.y()],
            "image_origin_on_screen": [corner.x(), corner.y()],
            "pins": len(self.model.boxes_layer.pins),
            "erf": self.model.erf_layer.has_data,
        }
        Path(target).write_text(json.dumps(state))

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save_settings()
        self.controller.close()  # results already on their way here are dropped
        event.accept()
