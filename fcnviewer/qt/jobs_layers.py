"""The worker's job for the network panel: a layer's or the skip paths' ERF at a pixel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcnviewer.viewer.protocol import LayerProbed, LayerProbeRequest

if TYPE_CHECKING:
    from fcnviewer.qt.worker import Worker


def probe_layer(worker: Worker, request: LayerProbeRequest) -> LayerProbed:
    """The ERF and exact box of the request's layer unit, or of every skip path, at its pixel."""
    from fcnviewer.core.layer_probing import probe_layer, probe_paths

    predictor = worker.loaded_predictor()
    if request.shows == LayerProbeRequest.PATHS:
        shapes = dict(request.stage_shapes)
        found = probe_paths(predictor, request.image, request.y, request.x, request.class_index, shapes)
    else:
        found = probe_layer(predictor, request.image, request.y, request.x, request.layer, boxes=request.boxes)
    return LayerProbed(request, found)
