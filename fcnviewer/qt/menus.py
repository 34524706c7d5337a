"""The window's menus and actions, the file dialogs they open, and the list of keyboard shortcuts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHeaderView,
    QMenu,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fcnviewer.core.names import DEVICES
from fcnviewer.qt.canvas import ZOOM_STEP
from fcnviewer.qt.help_dialog import dense_classifiers_dialog
from fcnviewer.qt.pretrained_dialog import show_pretrained_models

if TYPE_CHECKING:
    from fcnviewer.qt.main_window import MainWindow

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.gif);;All files (*)"
CHECKPOINT_FILTER = "Checkpoints (*.pth *.pt *.safetensors);;All files (*)"
ABOUT = (
    "<b>FCN Viewer</b><br>Looks inside Fully Convolutional Networks (Long, Shelhamer and Darrell, 2015): "
    "skip stages, receptive fields and effective receptive fields."
)


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
            ("Effective receptive field of a region", "Ctrl+Drag"),
            ("Zoom in / out at the pointer", "Mouse wheel"),
            ("Pan", "Drag"),
            ("Show or hide a layer", "Click its eye (Layers)"),
            ("Reorder layers", "Drag a layer (Layers)"),
            ("Solo a layer", "Alt+Click (Layers)"),
            ("Open images or checkpoints", "Drop files on the window"),
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


class Menus:
    """The menu bar of ``window``: File, View, Model, Help. Every action is added to the window
    too, so that its shortcut works while the menu bar is hidden."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        bar = window.menuBar()
        self._build_file_menu(bar.addMenu("&File"))
        self._build_view_menu(bar.addMenu("&View"))
        self._build_model_menu(bar.addMenu("&Model"))
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard Shortcuts", window.show_shortcuts, ["F1", "Ctrl+/"])
        self._action(help_menu, "&Dense Classifiers (ImageNet)", self._on_dense_help_requested)
        self._action(help_menu, "&About", self._on_about_requested)

    def _action(
        self, menu: QMenu, text: str, slot: Callable[[], object] | None, shortcuts: Sequence[str] = (), tip: str = ""
    ) -> QAction:
        action = QAction(text, self.window)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if slot is not None:
            action.triggered.connect(slot)
        if tip:
            action.setStatusTip(tip)
        menu.addAction(action)
        self.window.addAction(action)
        return action

    def _build_file_menu(self, file: QMenu) -> None:
        window, export = self.window, self.window.exporter
        self._action(file, "&Open Image…", self._on_open_image_requested, ["Ctrl+O"])
        self._action(file, "Open &Folder…", self._on_open_folder_requested, ["Ctrl+Shift+O"])
        self._action(file, "Open &Dataset…", self._on_open_dataset_requested, ["Ctrl+D"])
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
        file.addSeparator()
        self._action(file, "&Next Image", lambda: window.step_image(1), ["Right", "PgDown"])
        self._action(file, "&Previous Image", lambda: window.step_image(-1), ["Left", "PgUp"])
        file.addSeparator()
        self._action(file, "&Export View as PNG…", lambda: export.on_export_requested("view"), ["Ctrl+S"])
        self._action(
            file, "Export View with Le&gend…", lambda: export.on_export_requested("legend"), ["Ctrl+Alt+Shift+S"]
        )
        self._action(file, "Export &Label Mask…", lambda: export.on_export_requested("mask"), ["Ctrl+Shift+S"])
        self._action(file, "Export Stage &Scores (.npz)…", lambda: export.on_export_requested("scores"), ["Ctrl+Alt+S"])
        self._action(file, "&Copy View", export.copy_view, ["Ctrl+Shift+C"])
        file.addSeparator()
        self._action(file, "&Quit", window.close, ["Ctrl+Q"])

    def _build_view_menu(self, view: QMenu) -> None:
        window, canvas = self.window, self.window.canvas
        self._action(view, "Zoom &In", lambda: canvas.zoom_by(ZOOM_STEP), ["+", "="])
        self._action(view, "Zoom &Out", lambda: canvas.zoom_by(1 / ZOOM_STEP), ["-"])
        self._action(view, "&Fit to Window", canvas.fit, ["F"])
        self._action(view, "&Actual Pixels (1:1)", canvas.actual_size, ["0", "Ctrl+1"])
        view.addSeparator()
        self.keep_pins_action = self._action(
            view, "&Keep Earlier Pins", None, ["P"], "Compare pixels: each click adds a pin"
        )
        self.keep_pins_action.setCheckable(True)
        self._action(view, "&Clear Pins", window.clear_pins, ["Esc"])
        self._action(view, "&Toggle Selected Layer", window.layer_panel.toggle_current, ["V"])
        view.addSeparator()
        self.background_action = self._action(
            view, "Show &Background Class", None, ["B"], "Paint class 0 (background) too; by default it is transparent"
        )
        self.background_action.setCheckable(True)
        self.background_action.setChecked(window.model.show_background)
        self.background_action.toggled.connect(self._on_show_background_toggled)
        view.addSeparator()
        for dock in window.docks.values():
            view.addAction(dock.toggleViewAction())

    def _build_model_menu(self, model: QMenu) -> None:
        window = self.window
        self._action(model, "Open &Checkpoint…", self._on_open_checkpoint_requested, ["Ctrl+Alt+O"])
        self._action(model, "Use &Bundled Model", lambda: window.load_model(None), [])
        self._action(model, "&Pretrained Models…", lambda: show_pretrained_models(window), [])
        self._action(model, "Model &Info…", self._on_model_info_requested, ["Ctrl+I"])
        device_menu = model.addMenu("&Device")
        self.device_group = QActionGroup(window)
        for name in DEVICES:
            action = device_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name == window.device)
            action.triggered.connect(lambda _=False, n=name: window.set_device(n))
            self.device_group.addAction(action)
        window.controller.device_changed.connect(self._on_device_changed)
        window.controller.model_loaded.connect(self._on_devices_known)

    def _on_devices_known(self) -> None:
        """Grey out the devices this machine does not have."""
        present = self.window.controller.available_devices
        for action in self.device_group.actions():
            action.setEnabled(action.text() in present)
            action.setToolTip("" if action.isEnabled() else f"this machine has no {action.text()} device")

    def _on_show_background_toggled(self, show: bool) -> None:
        self.window.model.set_show_background(show)
        self.window.settings.set_value("show_background", show)

    def _on_device_changed(self, device: str) -> None:
        for action in self.device_group.actions():
            action.setChecked(action.text() == device)

    def fill_recent_menu(self) -> None:
        """List the recent paths (each opens again)."""
        self.recent_menu.clear()
        for path in self.window.settings.recent_paths():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.window.open_paths([p]))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def start_dir(self) -> str:
        """Where the Open dialogs start: the shown image's folder, else the last folder used."""
        shown = self.window.image_path
        return str(shown.parent) if shown is not None else self.window.settings.last_dir()

    def _on_open_image_requested(self) -> None:
        settings = self.window.settings
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Open image", self.start_dir(), IMAGE_FILTER)
        if paths:
            settings.set_last_dir(Path(paths[0]).parent)
            self.window.open_paths(paths)

    def _on_open_folder_requested(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open folder of images", self.start_dir())
        if folder:
            self.window.settings.set_last_dir(folder)
            self.window.open_paths([folder])

    def _on_open_dataset_requested(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Open labelled dataset (VOC, or images/ + masks/)", self.start_dir()
        )
        if folder:
            self.window.settings.set_last_dir(folder)
            self.window.dataset_view.open(folder)

    def _on_open_checkpoint_requested(self) -> None:
        settings = self.window.settings
        path, _ = QFileDialog.getOpenFileName(self.window, "Open checkpoint", settings.last_dir(), CHECKPOINT_FILTER)
        if path:
            settings.set_last_dir(Path(path).parent)
            self.window.load_model(path)

    def _on_model_info_requested(self) -> None:
        QMessageBox.information(self.window, "Model Info", self.window.controller.model_summary())

    def _on_about_requested(self) -> None:
        QMessageBox.about(self.window, "About FCN Viewer", ABOUT)

    def _on_dense_help_requested(self) -> None:
        self.help_dialog = dense_classifiers_dialog(self.window)
        self.help_dialog.show()
