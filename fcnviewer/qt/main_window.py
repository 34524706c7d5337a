"""The main window: canvas, layer/legend/inspector docks, menus, files, settings and the worker."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fcnviewer.core.images import is_image_path
from fcnviewer.core.names import DEVICES
from fcnviewer.qt.canvas import ZOOM_STEP, Canvas
from fcnviewer.qt.icons import app_icon
from fcnviewer.qt.inspector_panel import InspectorPanel, PixelReport, pixel_report
from fcnviewer.qt.layer_panel import LayerPanel
from fcnviewer.qt.layers import Pin
from fcnviewer.qt.legend_panel import LegendPanel
from fcnviewer.qt.settings_store import SettingsStore
from fcnviewer.qt.viewer_model import ViewerModel
from fcnviewer.qt.worker import (
    ImageOpened,
    LoadModelRequest,
    ModelLoaded,
    OpenImageRequest,
    Predicted,
    PredictRequest,
    Probed,
    ProbeRequest,
    Request,
    Requests,
    WorkerThread,
)

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors")

MAX_RECENT = 10
#: Environment variable naming a JSON file the window writes its state to (for end-to-end tests).
E2E_REPORT_ENV = "FCNVIEWER_E2E_REPORT"


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """Images named, and the images inside folders named (sorted by name), in order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p))
        else:
            found.append(path)
    return found


class ShortcutsDialog(QDialog):
    """Every action that has a keyboard shortcut, with its keys."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = [
            (
                a.text().replace("&", ""),
                ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts()),
            )
            for a in actions
            if a.shortcuts()
        ]
        rows += [
            ("Pin a pixel (receptive fields)", "Click"),
            ("Keep earlier pins", "Shift+Click"),
            ("Solo a layer", "Alt+Click"),
        ]
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for row, (text, keys) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(text))
            table.setItem(row, 1, QTableWidgetItem(keys))
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        self.table = table
        self.resize(420, 520)


class MainWindow(QMainWindow):
    """The viewer. Network work goes to one :class:`WorkerThread`, image files are read on another;
    results of an image, model or click no longer shown are dropped. Signals: ``image_shown``,
    ``prediction_shown`` (a new prediction is drawn), ``probe_shown`` (an effective RF arrived),
    ``model_loaded``, ``error_shown(message)``."""

    image_shown = Signal()
    prediction_shown = Signal()
    probe_shown = Signal()
    model_loaded = Signal()
    error_shown = Signal(str)

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
        self.device = str(self.settings.value("device", device)) if device == "auto" else device
        self.model = ViewerModel()
        self.requests = Requests()
        self.loaded: Any = None
        self.loaded_device = self.device
        self.checkpoint: str | None = None
        self.arch: str | None = None
        self.image_path: Path | None = None
        self.images: list[Path] = []
        self.image_index = -1
        self.reports: list[PixelReport] = []
        self.last_error = ""
        self._running: set[int] = set()
        self._closed = False

        self.canvas = Canvas(self.model.layers)
        self.setCentralWidget(self.canvas)
        self.layer_panel = LayerPanel(self.model.layers)
        self.legend_panel = LegendPanel(self.model)
        self.inspector = InspectorPanel()
        self.docks = {
            "layers": self._dock("Layers", self.layer_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            "classes": self._dock("Classes", self.legend_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            "inspector": self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea),
        }
        self._build_status_bar()
        self._build_menus()
        self.canvas.hovered.connect(self._on_hovered_changed)
        self.canvas.clicked.connect(self._on_pixel_clicked)

        self.worker_thread = WorkerThread(max_pixels=max_pixels, precision=precision)
        self.files_thread = WorkerThread(warm_up=False, max_pixels=max_pixels)  # images open while the network runs
        for thread in (self.worker_thread, self.files_thread):
            thread.signals.started.connect(self._on_job_started)
            thread.signals.finished.connect(self._on_job_finished)
            thread.signals.returned.connect(self._on_job_returned)
            thread.signals.errored.connect(self._on_job_errored)
            thread.signals.progress.connect(self._on_job_progress)
        self._restore_settings()

    # ------------------------------------------------------------------ construction

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.hover_label = QLabel("")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.model_label = QLabel("no model")
        bar.addWidget(self.hover_label, 1)
        bar.addPermanentWidget(self.busy)
        bar.addPermanentWidget(self.model_label)

    def _action(
        self, menu: QMenu, text: str, slot: Any | None, shortcuts: Sequence[str] = (), tip: str = ""
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if slot is not None:
            action.triggered.connect(slot)
        if tip:
            action.setStatusTip(tip)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work while the menu bar is hidden too
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open Image…", self._on_open_image_requested, ["Ctrl+O"])
        self._action(file, "Open &Folder…", self._on_open_folder_requested, ["Ctrl+Shift+O"])
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file.addSeparator()
        self._action(file, "&Next Image", lambda: self.step_image(1), ["Right", "PgDown"])
        self._action(file, "&Previous Image", lambda: self.step_image(-1), ["Left", "PgUp"])
        file.addSeparator()
        self._action(file, "&Export View as PNG…", lambda: self._on_export_requested("view"), ["Ctrl+S"])
        self._action(file, "Export &Label Mask…", lambda: self._on_export_requested("mask"), ["Ctrl+Shift+S"])
        self._action(file, "Export Stage &Scores (.npz)…", lambda: self._on_export_requested("scores"), ["Ctrl+Alt+S"])
        self._action(file, "&Copy View", self.copy_view, ["Ctrl+Shift+C"])
        file.addSeparator()
        self._action(file, "&Quit", self.close, ["Ctrl+Q"])

        view = bar.addMenu("&View")
        self._action(view, "Zoom &In", lambda: self.canvas.zoom_by(ZOOM_STEP), ["+", "="])
        self._action(view, "Zoom &Out", lambda: self.canvas.zoom_by(1 / ZOOM_STEP), ["-"])
        self._action(view, "&Fit to Window", self.canvas.fit, ["F"])
        self._action(view, "&Actual Pixels (1:1)", self.canvas.actual_size, ["0", "Ctrl+1"])
        view.addSeparator()
        self.keep_pins_action = self._action(
            view, "&Keep Earlier Pins", None, ["P"], "Compare pixels: each click adds a pin"
        )
        self.keep_pins_action.setCheckable(True)
        self._action(view, "&Clear Pins", self.clear_pins, ["Esc"])
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())

        model = bar.addMenu("&Model")
        self._action(model, "Open &Checkpoint…", self._on_open_checkpoint_requested, ["Ctrl+Alt+O"])
        self._action(model, "Use &Bundled Model", lambda: self.load_model(None), [])
        device_menu = model.addMenu("&Device")
        self.device_group = QActionGroup(self)
        for name in DEVICES:
            action = device_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name == self.device)
            action.triggered.connect(lambda _=False, n=name: self.set_device(n))
            self.device_group.addAction(action)

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard Shortcuts", self.show_shortcuts, ["F1", "Ctrl+/"])
        self._action(help_menu, "&About", self._on_about_requested)

    # ------------------------------------------------------------------ settings

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = self.settings.value("state")
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def _save_settings(self) -> None:
        self.settings.set_value("geometry", self.saveGeometry())
        self.settings.set_value("state", self.saveState())
        self.settings.set_value("device", self.device)
        self.settings.close()

    def recent_paths(self) -> list[str]:
        """Recently opened images, folders and checkpoints, newest first."""
        value = self.settings.value("recent", [])
        return [str(v) for v in (value if isinstance(value, list) else [value] if value else [])]

    def _remember(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        recent = [path, *(p for p in self.recent_paths() if p != path)][:MAX_RECENT]
        self.settings.set_value("recent", recent)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_paths():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ------------------------------------------------------------------ files

    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Open images, folders of images and checkpoints (by suffix)."""
        checkpoints = [Path(p) for p in paths if Path(p).suffix.lower() in CHECKPOINT_SUFFIXES]
        others = [p for p in paths if Path(p).suffix.lower() not in CHECKPOINT_SUFFIXES]
        for checkpoint in checkpoints[-1:]:
            self.load_model(checkpoint)
        if not others:
            return
        images = image_files(others)
        if not images:
            self.report_error(f"{others[0]}: no images found there")
            return
        for path in others:
            self._remember(path)
        self.open_image(images, 0, step=1 if len(images) > 1 else 0)  # an unreadable first one: the next

    def open_image(self, images: Sequence[Path], index: int, *, step: int = 0, origin: int | None = None) -> None:
        """Read image ``index`` of ``images`` (on the files thread) and show it; an unreadable one is
        reported and what is shown stays, or with ``step`` the next one in that direction is tried."""
        self.requests.advance("open")  # an image asked for earlier no longer shows up
        origin = index if origin is None else origin
        request = self.requests.make(OpenImageRequest, images=tuple(images), index=index, step=step, origin=origin)
        self.files_thread.worker.submit(request)

    def step_image(self, step: int) -> None:
        """Show the next (``step`` = 1) or previous (-1) image of the opened list, skipping unreadable ones."""
        if len(self.images) > 1:
            following = (self.image_index + step) % len(self.images)
            self.open_image(self.images, following, step=step, origin=self.image_index)

    def _on_image_changed(self, result: ImageOpened) -> None:
        request = result.request
        self.images, self.image_index, self.image_path = list(request.images), request.index, request.path
        self.requests.advance("image")
        self.requests.advance("probe")
        self.reports = []
        self.inspector.set_reports([])
        self.model.set_image(result.image, prepared=result.layer)
        self.canvas.set_image_size(*result.image.shape[:2])
        self._update_title()
        self.image_shown.emit()
        self._predict()

    def _update_title(self) -> None:
        parts = ["FCN Viewer"]
        if 0 <= self.image_index < len(self.images):
            parts.insert(0, f"{self.images[self.image_index].name} ({self.image_index + 1}/{len(self.images)})")
        self.setWindowTitle(" — ".join(parts))

    def _on_open_image_requested(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Open image",
            self._last_dir(),
            "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.gif);;All files (*)",
        )
        if paths:
            self._set_last_dir(paths[0])
            self.open_paths(paths)

    def _on_open_folder_requested(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder of images", self._last_dir())
        if folder:
            self.settings.set_value("last_dir", folder)
            self.open_paths([folder])

    def _on_open_checkpoint_requested(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open checkpoint", self._last_dir(), "Checkpoints (*.pth *.pt *.safetensors);;All files (*)"
        )
        if path:
            self._set_last_dir(path)
            self.load_model(path)

    def _last_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def _set_last_dir(self, path: str) -> None:
        self.settings.set_value("last_dir", str(Path(path).parent))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ------------------------------------------------------------------ model and worker

    def submit(self, kind: type[Request], **kwargs: Any) -> Request:
        """Stamp and send a request to the worker."""
        request = self.requests.make(kind, **kwargs)
        self.worker_thread.worker.submit(request)
        return request

    def load_model(self, path: str | Path | None, *, arch: str | None = None) -> None:
        """Load a checkpoint (``None``: the bundled model) on the worker; what is shown stays until it is ready.

        Results of the model shown until now are stale from here on (a failed load keeps it).
        """
        self.requests.advance("model")
        self.submit(LoadModelRequest, path=None if path is None else str(path), arch=arch, device=self.device)

    def set_device(self, device: str) -> None:
        """Run the network on ``device`` from now on (the model is reloaded there)."""
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}")
        self._show_device(device)
        if self.loaded is not None:
            self.load_model(self.checkpoint, arch=self.arch)

    def _show_device(self, device: str) -> None:
        self.device = device
        for action in self.device_group.actions():
            action.setChecked(action.text() == device)

    def _predict(self) -> None:
        if self.loaded is not None and self.model.image is not None:
            self.submit(PredictRequest, image=self.model.image, styles=self.model.styles())

    def _on_job_started(self, request: Request) -> None:
        self._running.add(request.request_id)
        self.busy.show()

    def _on_job_finished(self, request: Request) -> None:
        self._running.discard(request.request_id)
        if not self._running and not self.worker_thread.worker.pending() and not self.files_thread.worker.pending():
            self.busy.hide()

    def _on_job_progress(self, request: Request, done: int, total: int) -> None:
        if self.requests.is_current(request):
            self.statusBar().showMessage(f"running tile {done} of {total}…", 2000)

    def _on_job_returned(self, result: Any) -> None:
        if self._closed or not self.requests.is_current(result.request):
            return  # belongs to an image, model or click no longer shown (or to a closed window)
        if isinstance(result, ModelLoaded):
            self._on_model_changed(result)
        elif isinstance(result, ImageOpened):
            self._on_image_changed(result)
        elif isinstance(result, Predicted):
            self._on_prediction_changed(result)
        elif isinstance(result, Probed):
            self._on_probe_changed(result)

    def _on_job_errored(self, request: Request, message: str) -> None:
        if self._closed:
            return  # a job that ended as the window closed: nobody is left to tell
        if isinstance(request, LoadModelRequest):
            self.report_error(message)
            self._show_device(self.loaded_device)  # the model stays where it was
            if self.loaded is not None and self.model.prediction is None:
                self._predict()  # the previous model stays: predict what is shown with it
        elif isinstance(request, OpenImageRequest):
            if self.requests.is_current(request):
                self.report_error(message, dialog=not request.step)
                following = (request.index + request.step) % len(request.images)
                if request.step and following != request.origin:
                    self.open_image(request.images, following, step=request.step, origin=request.origin)
        elif self.requests.is_current(request):
            if isinstance(request, ProbeRequest):
                self._fill_contributions(request.y, request.x, {}, 0, f"could not compute: {message}")
            self.report_error(message)

    def _on_model_changed(self, result: ModelLoaded) -> None:
        request = result.request
        self.loaded, self.checkpoint, self.arch = result.loaded, request.path, request.arch
        self.loaded_device = request.device
        self.requests.advance("probe")
        info = result.loaded.info
        self.model.set_classes(info.class_names, info.palette_array)
        self.inspector.set_classes(info.class_names, info.palette_array)
        self.model_label.setText(f"{result.loaded.name} · {info.spec.arch} · {result.device} {result.precision}")
        if request.path is not None:
            self._remember(request.path)
        self.model.clear_prediction()
        self.reports = []
        self.inspector.set_reports([])
        self.model_loaded.emit()
        self._predict()

    def _on_prediction_changed(self, result: Predicted) -> None:
        prediction = result.prediction
        self.model.set_prediction(prediction, prepared=result.prepared)
        self.reports = []
        self.inspector.set_reports([])
        note = f" ({'; '.join(prediction.notes)})" if prediction.notes else ""
        self.statusBar().showMessage(f"predicted in {prediction.seconds:.2f} s on {prediction.device}{note}", 5000)
        self.prediction_shown.emit()
        self._write_e2e_report("prediction")

    # ------------------------------------------------------------------ pixels

    def _on_hovered_changed(self, y: int, x: int) -> None:
        if y >= 0:
            self.statusBar().clearMessage()  # a message would hide the pixel's description
        self.hover_label.setText(self.describe_pixel(y, x) if y >= 0 else "")

    def describe_pixel(self, y: int, x: int) -> str:
        """Status-bar text for image pixel ``(y, x)``: position, final class and probability, stage labels."""
        text = f"x {x}, y {y}"
        prediction = self.model.prediction
        if prediction is None:
            return text
        names = self.model.class_names
        label = int(prediction.labels[y, x])
        text += f"  |  {names[label]} {prediction.confidence[y, x]:.1%}"
        stages = " · ".join(f"{n}: {names[int(s.labels[y, x])]}" for n, s in prediction.stages.items())
        return f"{text}  |  {stages}"

    def _on_pixel_clicked(self, y: int, x: int, keep: bool) -> None:
        self.pin_pixel(y, x, keep=keep or self.keep_pins_action.isChecked())

    def pin_pixel(self, y: int, x: int, *, keep: bool = False) -> dict[str, tuple[int, int, int, int]]:
        """Draw the theoretical receptive-field boxes of pixel ``(y, x)`` now and ask the worker for
        its effective receptive field and branch contributions; returns the boxes by stage."""
        prediction = self.model.prediction
        if prediction is None or self.loaded is None:
            self.statusBar().showMessage("no prediction yet: wait for the network", 3000)
            return {}
        from fcnviewer.core.receptive import pixel_boxes  # torch is loaded by now (there is a model)

        shapes = {name: stage.scores.shape[-2:] for name, stage in prediction.stages.items()}
        geometry = {name: stage.geometry for name, stage in prediction.stages.items()}
        found = pixel_boxes(self.loaded.model, y, x, prediction.size, shapes, geometry)
        boxes = {k: tuple(b.as_list()) for k, b in found.items()}
        self.model.boxes_layer.pin(Pin(y, x, boxes), keep=keep)  # type: ignore[arg-type]
        report = pixel_report(prediction, y, x, boxes)  # type: ignore[arg-type]
        self.reports = [*self.reports, report] if keep else [report]
        self.inspector.set_reports(self.reports)
        if not keep:
            self.requests.advance("probe")
        self.submit(ProbeRequest, image=self.model.image, y=y, x=x, class_index=int(prediction.labels[y, x]))
        return boxes  # type: ignore[return-value]

    def clear_pins(self) -> None:
        """Remove every pin, its boxes and effective receptive field."""
        self.requests.advance("probe")
        self.model.boxes_layer.clear()
        self.model.erf_layer.clear()
        self.reports = []
        self.inspector.set_reports([])

    def _on_probe_changed(self, result: Probed) -> None:
        request = result.request
        self.model.erf_layer.set_fields(result.fields, result.origin)
        self._fill_contributions(request.y, request.x, result.contributions, result.class_index, result.note)
        self.probe_shown.emit()
        self._write_e2e_report("probe")

    def _fill_contributions(self, y: int, x: int, contributions: dict[str, float], class_index: int, note: str) -> None:
        """Put the branch contributions into the report of ``(y, x)``; pins whose job a newer click
        replaced say so."""
        waiting = self.worker_thread.worker.pending()
        updated = []
        for report in self.reports:
            if (report.y, report.x) == (y, x) and report.contributions is None:
                report = report.with_contributions(contributions, class_index, note)
            elif report.contributions is None and not waiting and report is not self.reports[-1]:
                report = report.with_contributions({}, 0, "not computed: a newer click replaced it")
            updated.append(report)
        self.reports = updated
        self.inspector.set_reports(updated)

    # ------------------------------------------------------------------ export

    def _on_export_requested(self, what: str) -> None:
        if what != "view" and self.model.prediction is None:
            self.report_error("nothing to export yet: no prediction is shown")
            return
        stem = self.image_path.stem if self.image_path else "view"
        suffix, title, pattern = {
            "view": ("_view.png", "Export view", "PNG (*.png)"),
            "mask": ("_mask.png", "Export label mask", "PNG (*.png)"),
            "scores": ("_scores.npz", "Export stage scores", "NumPy (*.npz)"),
        }[what]
        start = str(Path(self._last_dir()) / f"{stem}{suffix}")
        path, _ = QFileDialog.getSaveFileName(
            self, title, start, pattern, options=QFileDialog.Option.DontConfirmOverwrite
        )
        if path:
            self._set_last_dir(path)
            self.export(what, path)

    def may_write(self, path: Path) -> bool:
        """Whether ``path`` may be written: it is new, or the user agrees to replace it."""
        if not path.exists():
            return True
        answer = QMessageBox.question(
            self, "Replace file?", f"{path} exists. Replace it?", defaultButton=QMessageBox.StandardButton.No
        )
        return answer == QMessageBox.StandardButton.Yes

    def export(self, what: str, path: str | Path) -> bool:
        """Write the view (``view``, PNG), label mask (``mask``, palette PNG) or stage scores
        (``scores``, .npz as ``fcnviewer predict --scores``) to ``path``; whether it was written."""
        path = Path(path)
        if not self.may_write(path):
            return False
        try:
            if what == "view":
                if not self.canvas.grab().save(str(path), "PNG"):
                    raise OSError("Qt could not write the PNG")
            else:
                from fcnviewer.core.export import palette_mask, score_arrays

                prediction = self.model.prediction
                if what == "mask":
                    palette_mask(prediction.labels, self.model.palette).save(path, format="PNG")
                else:
                    with path.open("wb") as handle:
                        np.savez_compressed(handle, **score_arrays(prediction, self.loaded.info))
        except OSError as exc:
            self.report_error(f"{path}: cannot write: {exc}")
            return False
        self.statusBar().showMessage(f"wrote {path}", 5000)
        return True

    def copy_view(self) -> None:
        """Put the view, as shown, on the clipboard."""
        QGuiApplication.clipboard().setPixmap(self.canvas.grab())
        self.statusBar().showMessage("view copied to the clipboard", 3000)

    # ------------------------------------------------------------------ messages

    def report_error(self, message: str, *, dialog: bool = True) -> None:
        """Show ``message`` in the status bar and (``dialog``) a dialog that blocks nothing."""
        self.last_error = message
        self.statusBar().showMessage(message, 15000)
        if dialog:
            box = QMessageBox(QMessageBox.Icon.Warning, "FCN Viewer", message, QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.setWindowModality(Qt.WindowModality.NonModal)
            box.setObjectName("error-dialog")
            box.show()
        self.error_shown.emit(message)

    def show_shortcuts(self) -> ShortcutsDialog:
        """Open the list of keyboard shortcuts."""
        dialog = ShortcutsDialog(self.actions(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _on_about_requested(self) -> None:
        QMessageBox.about(
            self,
            "About FCN Viewer",
            "<b>FCN Viewer</b><br>Looks inside Fully Convolutional Networks (Long, Shelhamer and Darrell, 2015): "
            "skip stages, receptive fields and effective receptive fields.",
        )

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
        self._closed = True  # results already on their way here are dropped
        self._save_settings()
        self.files_thread.stop(timeout_ms=200)
        self.worker_thread.stop(timeout_ms=1000)
        event.accept()
