"""Readable receptive fields in the window: the effective receptive field of a Ctrl+dragged region,
its figures in the inspector, probes again when the ERF layer's averaging changes, and
shift-and-stitch layers (Analysis menu).

A region's ERF goes to the same layer as a clicked pixel's; its class is the one predicted most in
the region until the inspector's list of the region's classes picks another. Its results, like a
click's, are dropped once the image, the model or the click (region) they belong to is no longer
shown (the probe generation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtWidgets import QMenu

from fcnviewer.viewer.erf_readout import ErfReadout
from fcnviewer.viewer.layers import LabelLayer, ScoreLayer, stage_label
from fcnviewer.viewer.protocol import Probed, RegionProbed, RegionProbeRequest, Request, Stitched, StitchRequest
from fcnviewer.viewer.viewer_model import score_layer_name, stage_layer_name

if TYPE_CHECKING:
    from fcnviewer.qt.main_window import MainWindow

Box = tuple[int, int, int, int]

#: Largest shift-and-stitch factor offered: its square is the number of forward passes.
MAX_STITCH_FACTOR = 16


def region_class(labels: np.ndarray, region: Box) -> tuple[int, list[tuple[int, float]]]:
    """The class predicted most in ``region`` of ``labels``, and every class there with its share,
    largest first."""
    x0, y0, x1, y1 = region
    counts = np.bincount(labels[y0 : y1 + 1, x0 : x1 + 1].ravel())
    present = sorted(((int(c), n / counts.sum()) for c, n in enumerate(counts) if n), key=lambda p: -p[1])
    return present[0][0], present


def stitch_factors(stride: float) -> list[int]:
    """The shift-and-stitch factors of a stage of ``stride``: its divisors from 2 to :data:`MAX_STITCH_FACTOR`."""
    return [f for f in range(2, MAX_STITCH_FACTOR + 1) if float(stride) % f == 0]


def _size(box: Box) -> str:
    return f"{box[2] - box[0] + 1}×{box[3] - box[1] + 1}"


def stitched_names(stage: str, factor: int) -> tuple[str, str]:
    """Names of the label and score layers of ``stage`` stitched ``factor`` times denser."""
    return f"stitched {stage} ×{factor}", f"stitched score {stage} ×{factor}"


class ReceptiveFieldTools(QObject):
    """Region probes, the ERF figures and shift-and-stitch for ``window``.

    Signals: ``region_shown`` (a region's ERF is drawn), ``stitch_shown`` (stitched layers added).
    """

    region_shown = Signal()
    stitch_shown = Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.controller, self.model = window.controller, window.model
        self.canvas, self.inspector = window.canvas, window.inspector
        self.region: Box | None = None
        self._region_html = ""
        self.region_class = 0
        self.region_classes: list[tuple[int, float]] = []
        controller = self.controller
        controller.handle(RegionProbed, RegionProbeRequest, self._on_region_probed, self._on_failed)
        controller.handle(Stitched, StitchRequest, self._on_stitched, self._on_failed)
        controller.reports_changed.connect(self._on_reports_changed)
        self.canvas.region_selected.connect(self.probe_region)
        self.inspector.anchorClicked.connect(self._on_link_clicked)
        self.inspector.summary_source = self._summary_html  # asked at each render: one render per result
        erf = self.model.erf_layer
        for averaging in (erf.events.copies, erf.events.noise, erf.events.images):
            averaging.connect(self._probe_again)
        self.menu = self._build_menu(window)

    # ------------------------------------------------------------------ regions

    def probe_region(self, x0: int, y0: int, x1: int, y1: int, class_index: int | None = None) -> bool:
        """Outline the image region ``(x0, y0)``-``(x1, y1)`` (inclusive) and ask the worker for the
        effective receptive fields of ``class_index``'s summed score there (default: the class
        predicted most there); whether it was asked."""
        prediction, loaded = self.model.prediction, self.controller.loaded
        if prediction is None or loaded is None:
            self.controller.status.emit("no prediction yet: drag a region when the masks show", 5000)
            return False
        from fcnviewer.core import receptive  # torch is loaded by now (there is a model)

        region = (x0, y0, x1, y1)
        majority, self.region_classes = region_class(prediction.labels, region)
        shapes = {name: stage.scores.shape[-2:] for name, stage in prediction.stages.items()}
        geometry = {name: stage.geometry for name, stage in prediction.stages.items()}
        first, last = (
            receptive.pixel_boxes(loaded.model, y, x, prediction.size, shapes, geometry)
            for y, x in ((y0, x0), (y1, x1))
        )
        boxes = {k: tuple(receptive.Box.union((first[k], last[k])).as_list()) for k in first}
        self.controller.clear_pins()  # the layer shows the region's field now; results of a click are stale
        self.region, self.region_class = region, majority if class_index is None else class_index
        self.canvas.show_region(region)
        self._region_html = self._region_heading() + "<p><i>computing…</i></p>"
        self.inspector.refresh()
        self.controller.submit(
            RegionProbeRequest,
            image=self.model.image,
            region=region,
            class_index=self.region_class,
            boxes=boxes,
            erf=self.controller.erf_options(),
        )
        return True

    def _on_reports_changed(self, reports: list[object]) -> None:
        """Pins cleared (a new image, model or prediction, Clear Pins, a region's own start) or a
        pixel pinned: the region is no longer what is shown."""
        if self.region is not None:
            self._forget()

    def _forget(self) -> None:
        self.region, self._region_html = None, ""
        self.canvas.show_region(None)
        self.inspector.refresh()

    def _summary_html(self) -> str:
        """The inspector's heading: the region's figures, or those of the latest pin's probe once it came."""
        if self.region is not None:
            return self._region_html
        result, reports = self.controller.last_probed, self.controller.reports
        if result is None or not reports or (result.request.y, result.request.x) != (reports[-1].y, reports[-1].x):
            return ""
        heading = f"<h3>Effective receptive field of pixel x={result.request.x}, y={result.request.y}</h3>"
        return heading + self._figures_html(result.readouts, result)

    def _probe_again(self, *_: object) -> None:
        """The averaging changed: probe the region, or the latest pinned pixel, again."""
        pins = self.model.boxes_layer.pins
        if self.region is not None:
            self.probe_region(*self.region, class_index=self.region_class)
        elif pins:
            self.controller.pin_pixel(pins[-1].y, pins[-1].x)

    def _on_link_clicked(self, url: QUrl) -> None:
        if url.scheme() == "class" and self.region is not None:
            self.probe_region(*self.region, class_index=int(url.path()))

    def _on_region_probed(self, result: RegionProbed) -> None:
        if self.region != result.request.region:  # forgotten or replaced since it was asked for
            return
        found = result.probe
        self.model.erf_layer.set_fields(found.fields, found.origin, result.readouts)
        self._region_html = self._region_heading() + self._figures_html(result.readouts, result)
        self.inspector.refresh()
        self.region_shown.emit()

    def _on_failed(self, request: Request, message: str) -> None:
        if self.controller.requests.is_current(request):
            self.controller.error.emit(message, True)

    # ------------------------------------------------------------------ figures

    def _region_heading(self) -> str:
        assert self.region is not None
        x0, y0, x1, y1 = self.region
        others = [
            f'<a href="class:{c}">{self.inspector.class_html(c)}</a> {share:.1%}'
            for c, share in self.region_classes
            if c != self.region_class
        ]
        choice = f"<br>Other classes here (click one): {', '.join(others)}" if others else ""
        return (
            f"<h3>Effective receptive field of region x {x0}–{x1}, y {y0}–{y1} ({x1 - x0 + 1}×{y1 - y0 + 1})</h3>"
            f"<p>Score summed over the region: {self.inspector.class_html(self.region_class)}{choice}</p>"
        )

    @staticmethod
    def _figures_html(readouts: Mapping[str, ErfReadout], result: Probed | RegionProbed) -> str:
        """Per stage: the boxes holding 90 % and 50 % of the gradient mass, and the 90 % box's share
        of the theoretical box (cut to the image); then how the fields were averaged."""
        rows = []
        for stage, readout in readouts.items():
            share = "" if readout.share_of_theoretical is None else f"{readout.share_of_theoretical:.1%}"
            rows.append(
                f"<tr><td>{stage_label(stage)}</td><td align='right'>{_size(readout.mass90_box)}</td>"
                f"<td align='right'>{share}</td><td align='right'>{_size(readout.mass50_box)}</td></tr>"
            )
        options, images = result.request.erf, result.images
        smooth = (
            f"SmoothGrad of {options.copies} copies, noise {options.noise:g}" if options.copies > 1 else "no SmoothGrad"
        )
        averaged = f"{images} image{'s' if images > 1 else ''} of this size averaged; {smooth}"
        return (
            "<table cellspacing='0' cellpadding='3'><tr><th align='left'>stage</th><th>90 % of mass</th>"
            "<th>of theoretical box</th><th>50 % of mass</th></tr>" + "".join(rows) + "</table>"
            f"<p><i>{averaged}. Contours: 50 % (white) and 90 % (cyan) of the gradient mass "
            "(of the field blurred over a few pixels).</i></p><hr>"
        )

    # ------------------------------------------------------------------ shift-and-stitch

    def _build_menu(self, window: MainWindow) -> QMenu:
        bar = window.menuBar()
        menu = QMenu("&Analysis", window)
        bar.insertMenu(bar.actions()[-1], menu)  # before Help
        self.stitch_menu = menu.addMenu("&Shift-and-Stitch")
        self.stitch_menu.aboutToShow.connect(self._fill_stitch_menu)
        return menu

    def _fill_stitch_menu(self) -> None:
        self.stitch_menu.clear()
        prediction = self.model.prediction
        stages = {} if prediction is None else {n: s for n, s in prediction.stages.items() if n != "aux"}
        for stage, found in stages.items():
            for factor in stitch_factors(found.geometry.stride):
                stride = found.geometry.stride / factor
                text = f"{stage_label(stage)} → stride {stride:g} (×{factor}: {factor * factor} forward passes)"
                action = self.stitch_menu.addAction(text)
                action.triggered.connect(lambda _=False, s=stage, f=factor: self.stitch(s, f))
            self.stitch_menu.addSeparator()
        if not stages:
            self.stitch_menu.addAction("(no prediction with stage maps)").setEnabled(False)

    def stitch(self, stage: str, factor: int) -> None:
        """Ask the worker for ``stage``'s map ``factor`` times denser by shift-and-stitch."""
        if self.model.image is not None and self.controller.loaded is not None:
            self.controller.submit(StitchRequest, image=self.model.image, stage=stage, factor=factor)

    def _on_stitched(self, result: Stitched) -> None:
        """Add (or refill) the stitched stage's label layer above the stage's own labels, and its
        score layer above the stage's scores."""
        stage, factor = result.request.stage, result.request.factor
        labels_name, scores_name = stitched_names(stage, factor)
        layers, model = self.model.layers, self.model
        if labels_name not in layers:
            description = f"stride-{stage} stage made {factor}× denser by shift-and-stitch ({factor * factor} forwards)"
            labels = LabelLayer(labels_name, opacity=0.6, description=description)
            labels.hidden_classes = model.hidden_classes
            layers.insert(layers.index(layers[stage_layer_name(stage)]) + 1, labels)
            scores = ScoreLayer(
                scores_name, visible=False, opacity=0.7, description=f"{description}: one class's score"
            )
            layers.insert(layers.index(layers[score_layer_name(stage)]) + 1, scores)
        layers[labels_name].set_labels(result.labels, model.palette, model.class_names)  # type: ignore[attr-defined]
        layers[scores_name].set_scores(result.scores, result.geometry, model.class_names)  # type: ignore[attr-defined]
        self.controller.status.emit(
            f"{labels_name}: compare with the layer '{stage_layer_name(stage)}' (the network's own upsampling)", 8000
        )
        self.stitch_shown.emit()
