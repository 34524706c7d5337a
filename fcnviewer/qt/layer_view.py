"""A selected layer's (or the skip paths') box and ERF at the pinned pixel, instead of the stages'.

The box is drawn at once on the GUI thread from the geometry alone
(:func:`~fcnviewer.core.receptive.targets.layer_unit_box`, :func:`~fcnviewer.core.receptive.paths.path_boxes`);
the ERF comes from the worker (a :class:`~fcnviewer.viewer.protocol.LayerProbeRequest`) with the
exact box of the unit it differentiated. Results of another image, model, click or selection
are dropped. Selecting nothing shows the stage boxes and ERFs again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QUrl, Signal

from fcnviewer.qt.inspector_panel import InspectorPanel
from fcnviewer.qt.network_panel import LAYER, PATHS, NetworkPanel, layer_label
from fcnviewer.viewer.layers import BoxesLayer, ErfLayer, Pin, stage_label
from fcnviewer.viewer.layers.boxes import LAYER_PREFIX, PATH_PREFIX
from fcnviewer.viewer.protocol import LayerProbed, LayerProbeRequest

if TYPE_CHECKING:
    from fcnviewer.qt.controller import Box, Controller

#: Link scheme of the inspector's "show" links of the skip paths.
PATH_LINK = "path"


class LayerView(QObject):
    """Draws the network panel's selection for the latest pin. Signal ``layer_shown`` (its ERF arrived)."""

    layer_shown = Signal()

    def __init__(self, controller: Controller, panel: NetworkPanel, inspector: InspectorPanel) -> None:
        super().__init__()
        self.controller, self.panel, self.model = controller, panel, controller.model
        self.boxes_layer = BoxesLayer("layer receptive field", description="the selected layer's (Network) box")
        self.erf_layer = ErfLayer("layer effective RF", opacity=0.8, description="the selected layer's ERF")
        layers = self.model.layers
        layers.insert(layers.index(self.model.erf_layer) + 1, self.erf_layer)
        layers.append(self.boxes_layer)
        self.selection = ("", "")
        self._stage_visibility: dict[object, bool] = {}
        controller.handle(LayerProbed, LayerProbeRequest, self._on_layer_probed, self._on_layer_failed)
        controller.model_loaded.connect(self._on_model_loaded)
        self.model.boxes_layer.events.pins.connect(self.refresh)
        panel.selection_changed.connect(self._on_selection_changed)
        self.inspector = inspector
        inspector.anchorClicked.connect(self.show_path_link)

    # ------------------------------------------------------------------ inputs

    def _on_model_loaded(self) -> None:
        from fcnviewer.core.receptive.network import network_table

        assert self.controller.loaded is not None
        rows = network_table(self.controller.loaded.model)
        self.inspector.path_sizes = {row.layer: row.size for row in rows if row.kind == "path"}
        self.panel.set_rows(rows)

    def _on_selection_changed(self, kind: str, name: str) -> None:
        self.selection = (kind, name)
        self.refresh()

    def show_path_link(self, url: QUrl) -> None:
        """An inspector link ``path:<name>``: select that skip path."""
        if url.scheme() == PATH_LINK:
            self.panel.select(PATHS, url.path())

    # ------------------------------------------------------------------ drawing

    def refresh(self, *_: object) -> None:
        """Draw the selection's box for the latest pin and ask the worker for its ERF (or show the stages).

        Run as a click draws its pin, so the layer's job is queued before the click's stage probe."""
        pins, prediction, loaded = self.model.boxes_layer.pins, self.model.prediction, self.controller.loaded
        kind, name = self.selection
        if not kind or not pins or prediction is None or loaded is None or self.model.image is None:
            self._show_stages()
            return
        pin = pins[-1]
        shapes = {stage: (int(s.scores.shape[-2]), int(s.scores.shape[-1])) for stage, s in prediction.stages.items()}
        boxes = self._boxes(kind, name, pin.y, pin.x, prediction.size, shapes)
        if boxes is None:
            return
        self._hide_stages()
        self.boxes_layer.pin(Pin(pin.y, pin.x, boxes))
        self.erf_layer.clear()
        self.controller.submit(
            LayerProbeRequest,
            image=self.model.image,
            y=pin.y,
            x=pin.x,
            layer=name,
            shows=kind,
            class_index=int(prediction.labels[pin.y, pin.x]),
            boxes=tuple(boxes.values()),
            stage_shapes=shapes,
        )
        self.panel.set_status(f"{self._what(boxes)} at pixel x={pin.x}, y={pin.y}: computing its ERF…")

    def _boxes(
        self, kind: str, name: str, y: int, x: int, size: tuple[int, int], shapes: dict[str, tuple[int, int]]
    ) -> dict[str, Box] | None:
        """The boxes to draw at once (a layer's unit not clipped to its map: see ``layer_unit_box``)."""
        from fcnviewer.core.receptive.paths import path_boxes
        from fcnviewer.core.receptive.targets import layer_unit_box

        model = self.controller.loaded.model  # type: ignore[union-attr]
        try:
            if kind == PATHS:
                found = path_boxes(model, y, x, size, shapes)
                return {PATH_PREFIX + key: tuple(b.as_list()) for key, b in found.items()}  # type: ignore[misc]
            unit, box = layer_unit_box(model, name, y, x)
        except ValueError as exc:
            self.panel.set_status(f"{name}: {exc}")
            self._show_stages()
            return None
        return {_layer_key(name, unit): tuple(box.as_list())}  # type: ignore[dict-item]

    @staticmethod
    def _what(boxes: dict[str, Box]) -> str:
        if len(boxes) == 1:
            key, (x0, y0, x1, y1) = next(iter(boxes.items()))
            return f"{key.removeprefix(LAYER_PREFIX)}, box {x1 - x0 + 1}×{y1 - y0 + 1} [{x0}, {y0}, {x1}, {y1}],"
        return "the skip paths (" + ", ".join(stage_label(key) for key in boxes) + ")"

    def _hide_stages(self) -> None:
        if not self._stage_visibility:
            for layer in (self.model.boxes_layer, self.model.erf_layer):
                self._stage_visibility[layer] = layer.visible
                layer.visible = False

    def _show_stages(self) -> None:
        """The stage view again: the selection's layers cleared, the stage layers as they were (nothing
        redrawn when nothing is selected: every click passes here)."""
        self.boxes_layer.clear()
        if self.erf_layer.has_data:
            self.erf_layer.clear()
        for layer, visible in self._stage_visibility.items():
            layer.visible = visible  # type: ignore[attr-defined]
        if self._stage_visibility:
            self.model.boxes_layer.events.rendered.emit()  # the canvas' legend is theirs again
        self._stage_visibility = {}
        if not self.selection[0]:
            self.panel.set_status("")

    # ------------------------------------------------------------------ results

    def _on_layer_probed(self, result: LayerProbed) -> None:
        request, found = result.request, result.probe
        if not self._is_shown(request):
            return  # the selection or the pin changed meanwhile
        if request.shows == PATHS:
            fields = {PATH_PREFIX + key: values for key, values in found.fields.items()}
            boxes = {PATH_PREFIX + key: box for key, box in found.boxes.items()}
        else:
            assert found.unit is not None
            key = _layer_key(request.layer, found.unit)
            fields, boxes = {key: found.fields[request.layer]}, {key: found.boxes[request.layer]}
        self.boxes_layer.pin(Pin(request.y, request.x, boxes))
        self.erf_layer.set_fields(fields, found.origin)
        if request.shows == PATHS and PATH_PREFIX + request.layer in fields:
            self.erf_layer.stage = PATH_PREFIX + request.layer
        path = stage_label(PATH_PREFIX + request.layer)
        shown = "" if request.shows == LAYER else f"; the ERF shown is the {path}'s (Layers: choose)"
        self.panel.set_status(f"{self._what(boxes)} at pixel x={request.x}, y={request.y}: ERF shown{shown}")
        self.layer_shown.emit()

    def _is_shown(self, request: LayerProbeRequest) -> bool:
        """Whether ``request`` is of the selection and the pin drawn now."""
        pins = self.boxes_layer.pins
        here = bool(pins) and (pins[-1].y, pins[-1].x) == (request.y, request.x)
        return here and (request.shows, request.layer) == self.selection

    def _on_layer_failed(self, request: LayerProbeRequest, message: str) -> None:
        if self.controller.requests.is_current(request):
            self.panel.set_status(f"{request.layer}: could not compute its ERF: {message}")
            self.controller.error.emit(message, False)


def _layer_key(name: str, unit: tuple[int, int]) -> str:
    """The box's key: names the layer and its unit in the legend, in the layer colour."""
    return f"{LAYER_PREFIX}{layer_label(name)} unit {unit[0]},{unit[1]}"
