"""Exporting what the window shows: the view as PNG, the label mask, the stage scores; copying the view."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QImage, QPainter, QPen
from PySide6.QtWidgets import QFileDialog, QMessageBox

from fcnviewer.viewer.layers import BoxesLayer, Pin, RasterLayer, clip_box

if TYPE_CHECKING:
    from fcnviewer.qt.main_window import MainWindow
    from fcnviewer.viewer.viewer_model import ViewerModel

#: File name suffix, dialog title and filter of each export.
EXPORTS = {
    "view": ("_view.png", "Export view", "PNG (*.png)"),
    "legend": ("_view.png", "Export view with legend", "PNG (*.png)"),
    "mask": ("_mask.png", "Export label mask", "PNG (*.png)"),
    "scores": ("_scores.npz", "Export stage scores", "NumPy (*.npz)"),
}


def render_view(model: ViewerModel) -> QImage:
    """The visible layers of ``model`` at the image's own resolution (no screen margins, no zoom):
    raster layers at their opacity, bottom to top, then the latest pin's boxes cut to the image."""
    assert model.image is not None
    height, width = model.image.shape[:2]
    view = QImage(width, height, QImage.Format.Format_ARGB32)
    view.fill(QColor(0, 0, 0, 0))
    painter = QPainter(view)
    for layer in model.layers:
        if not layer.visible:
            continue
        painter.setOpacity(layer.opacity)
        if isinstance(layer, RasterLayer) and layer.has_data:
            rgba = np.ascontiguousarray(layer.rgba)
            image = QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.strides[0], QImage.Format.Format_RGBA8888)
            painter.drawImage(QRectF(*layer.rect), image)
        elif isinstance(layer, BoxesLayer) and layer.pins:
            _draw_boxes(painter, layer.pins[-1], height, width)
    painter.end()
    return view


#: Height of a legend row and the margin around the legend, in pixels of the exported image.
LEGEND_ROW, LEGEND_MARGIN = 18, 8


def with_legend(view: QImage, model: ViewerModel) -> QImage:
    """``view`` with a column at its right listing the classes it shows: colour, name, share of the image.

    Hidden classes, and classes absent from the prediction, are left out, as the Classes panel's
    ticks and shares say."""
    entries = legend_entries(model)
    font = QFont()
    font.setPixelSize(12)
    text_width = max((QFontMetrics(font).horizontalAdvance(text) for _, text in entries), default=0)
    column = 2 * LEGEND_MARGIN + 18 + text_width
    height = max(view.height(), 2 * LEGEND_MARGIN + LEGEND_ROW * len(entries))
    out = QImage(view.width() + column, height, QImage.Format.Format_ARGB32)
    out.fill(QColor(255, 255, 255))
    painter = QPainter(out)
    painter.drawImage(0, 0, view)
    painter.setFont(font)
    painter.setPen(QColor(0, 0, 0))
    for row, (colour, text) in enumerate(entries):
        x, y = view.width() + LEGEND_MARGIN, LEGEND_MARGIN + row * LEGEND_ROW
        painter.fillRect(x, y + 2, 12, 12, QColor(*colour))
        painter.drawText(x + 18, y + 13, text)
    painter.end()
    return out


def legend_entries(model: ViewerModel) -> list[tuple[tuple[int, int, int], str]]:
    """(colour, "name  share") of every class the prediction holds that is not hidden."""
    shares = model.class_shares()
    return [
        (tuple(int(v) for v in model.palette[i]), f"{name}  {100 * shares[i]:.1f} %")
        for i, name in enumerate(model.class_names)
        if shares[i] > 0 and i not in model.hidden_classes
    ]


def _draw_boxes(painter: QPainter, pin: Pin, height: int, width: int) -> None:
    """``pin``'s boxes as the canvas draws them: cut to the image, coarser stages wider underneath."""
    painter.setBrush(Qt.BrushStyle.NoBrush)
    count = len(pin.boxes)
    for i, (stage, box) in enumerate(pin.boxes.items()):
        clipped, _ = clip_box(box, height, width)
        if clipped is not None:
            line = 2.0 * (count - i)
            pen = QPen(QColor(*BoxesLayer.color(stage)), line)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            x0, y0, x1, y1 = clipped
            painter.drawRect(QRectF(x0 + line / 2, y0 + line / 2, x1 - x0 + 1 - line, y1 - y0 + 1 - line))


class Exporter:
    """Writes ``window``'s view, mask or scores to files it asks for, never replacing one unasked."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def on_export_requested(self, what: str) -> None:
        """Ask where to write ``what`` (one of :data:`EXPORTS`), then write it."""
        window = self.window
        if what not in ("view", "legend") and window.model.prediction is None:
            window.report_error("nothing to export yet: no prediction is shown")
            return
        stem = window.image_path.stem if window.image_path else "view"
        suffix, title, pattern = EXPORTS[what]
        start = str(Path(window.settings.last_dir()) / f"{stem}{suffix}")
        path, _ = QFileDialog.getSaveFileName(
            window, title, start, pattern, options=QFileDialog.Option.DontConfirmOverwrite
        )
        if path:
            window.settings.set_last_dir(Path(path).parent)
            self.export(what, path)

    def may_write(self, path: Path) -> bool:
        """Whether ``path`` may be written: it is new, or the user agrees to replace it."""
        if not path.exists():
            return True
        answer = QMessageBox.question(
            self.window, "Replace file?", f"{path} exists. Replace it?", defaultButton=QMessageBox.StandardButton.No
        )
        return answer == QMessageBox.StandardButton.Yes

    def export(self, what: str, path: str | Path) -> bool:
        """Write the view (``view``; ``legend``: with the class legend; PNG), label mask (``mask``,
        palette PNG) or stage scores (``scores``, .npz as ``fcnviewer predict --scores``) to ``path``;
        whether it was written."""
        path = Path(path)
        if not self.may_write(path):
            return False
        try:
            self._write(what, path)
        except OSError as exc:
            self.window.report_error(f"{path}: cannot write: {exc}")
            return False
        self.window.statusBar().showMessage(f"wrote {path}", 5000)
        return True

    def _write(self, what: str, path: Path) -> None:
        window = self.window
        if what in ("view", "legend"):
            view = render_view(window.model)
            if what == "legend":
                view = with_legend(view, window.model)
            if not view.save(str(path), "PNG"):
                raise OSError("Qt could not write the PNG")
            return
        from fcnviewer.core.export import palette_mask, score_arrays

        prediction, model = window.model.prediction, window.model
        assert prediction is not None and window.loaded is not None
        if what == "mask":
            palette_mask(prediction.labels, model.palette).save(path, format="PNG")
        else:
            with path.open("wb") as handle:
                np.savez_compressed(handle, **score_arrays(prediction, window.loaded.info))

    def copy_view(self) -> None:
        """Put the view, as shown, on the clipboard."""
        QGuiApplication.clipboard().setPixmap(self.window.canvas.grab())
        self.window.statusBar().showMessage("view copied to the clipboard", 3000)
