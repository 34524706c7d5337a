"""Layer models: plain Python objects (numpy only, no Qt) that validate their properties and emit changes.

As in napari, the canvas and the control widgets subscribe to a layer's events; the layer
never knows them. Raster layers colour their data once into a C-contiguous ``(h, w, 4)``
uint8 RGBA array (``rgba``) when the data or a colouring property changes, so that showing,
hiding, reordering and fading a layer costs nothing. A new kind of layer: its model here, its
controls class in ``fcnviewer.qt.layer_controls`` and one line in that module's registry.
"""

from fcnviewer.viewer.layers.base import Layer, RasterLayer
from fcnviewer.viewer.layers.boxes import STAGE_COLORS, BoxesLayer, Pin, clip_box, stage_label
from fcnviewer.viewer.layers.heatmaps import ErfLayer, HeatmapLayer, ScoreLayer, UncertaintyLayer
from fcnviewer.viewer.layers.labels import ChangeLayer, ImageLayer, LabelLayer, skip_stages
from fcnviewer.viewer.layers.layer_list import LayerList

__all__ = [
    "STAGE_COLORS",
    "BoxesLayer",
    "ChangeLayer",
    "ErfLayer",
    "HeatmapLayer",
    "ImageLayer",
    "LabelLayer",
    "Layer",
    "LayerList",
    "Pin",
    "RasterLayer",
    "ScoreLayer",
    "UncertaintyLayer",
    "clip_box",
    "skip_stages",
    "stage_label",
]
