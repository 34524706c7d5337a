"""Receptive fields of a segmentation network: theoretical, exact and effective.

Everything geometric is read from the modules listed by ``model.streams()`` (kernel size,
stride, padding, dilation), never from a hand-written table. Index ranges are walked
backwards through a stream, one axis at a time; a conv/pool ``(k, s, p, d)`` maps output
units ``[a, b]`` to input ``[a*s - p, b*s - p + d*(k - 1)]``, a transposed convolution to
``[ceil((a + p - d*(k - 1)) / s), floor((b + p) / s)]``, ``Crop(o)`` to ``[a + o, b + o]``, a
scaling to itself, and a sum of branches to the bounding interval of theirs.

A global pooling (ASPP's image pooling, a squeeze-and-excitation gate, LRASPP's scale branch)
makes every unit after it see the whole image: its branch is left out of the box (which is then
the box of the local paths), and tables and boxes say ``whole_image``. Bilinear upsampling by a
factor ``f`` maps ``[a, b]`` to the units its interpolation reads, concatenations and products
of branches to the bounding interval, as sums.

Boxes are never clipped to the image: they may extend past its borders (FCN-VGG's
``conv1_1`` pads by 100, so coordinates can be far negative).

In FCN-VGG the coarse map reaches a fused map through a stride-2 transposed convolution,
so the box centres of a fused map wobble with a period of a few units instead of lying on a
line. Their best linear fit (the mean over one period) is what :func:`stage_geometry`
reports as the offset; it matches the network's own upsampling exactly (e.g. ``-11.5`` for
FCN-16s's ``"16"`` map, where unit 0's box alone is centred on ``-3.5``).
"""

from __future__ import annotations

from fcnviewer.core.receptive.boxes import Box, pixel_boxes, stage_map_shapes, unit_box, units_seeing
from fcnviewer.core.receptive.erf import (
    EffectiveRF,
    branch_contributions,
    effective_receptive_field,
    effective_receptive_fields,
    input_gradients,
    pixel_fields,
)
from fcnviewer.core.receptive.mass import ErfStats, erf_stats, mass_box, mass_levels
from fcnviewer.core.receptive.table import (
    FINAL,
    Index,
    LayerRF,
    input_interval,
    layer_table,
    level_names,
    sees_whole_image,
    stage_geometry,
)
from fcnviewer.core.receptive.targets import (
    Smoothing,
    Target,
    averaged_fields,
    gradient_map,
    layer_names,
    layer_target,
    noisy_inputs,
    region_target,
    smoothed_gradient_map,
)

__all__ = [
    "FINAL",
    "Box",
    "EffectiveRF",
    "ErfStats",
    "Index",
    "LayerRF",
    "Smoothing",
    "Target",
    "averaged_fields",
    "branch_contributions",
    "effective_receptive_field",
    "effective_receptive_fields",
    "erf_stats",
    "gradient_map",
    "input_gradients",
    "input_interval",
    "layer_names",
    "layer_table",
    "layer_target",
    "level_names",
    "mass_box",
    "mass_levels",
    "noisy_inputs",
    "pixel_boxes",
    "pixel_fields",
    "region_target",
    "sees_whole_image",
    "smoothed_gradient_map",
    "stage_geometry",
    "stage_map_shapes",
    "unit_box",
    "units_seeing",
]
