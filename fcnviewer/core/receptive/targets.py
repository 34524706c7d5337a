"""Readable effective receptive fields: of one layer's unit, of a region of the output, smoothed.

A *target* is a scalar the network computes from its input: the channel sum of the unit of a
layer nearest to a pixel (:func:`layer_target`), or one class's final logit summed over a region
(:func:`region_target`). :func:`gradient_map` is ``|d target / d input|`` summed over input
channels; :func:`smoothed_gradient_map` averages it over noisy copies of the image (SmoothGrad,
Smilkov et al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fcnviewer.core.alignment import StageGeometry
from fcnviewer.core.models.graph import RESIZED, Stream
from fcnviewer.core.preprocessing import Preprocessing
from fcnviewer.core.receptive.boxes import Box, pixel_boxes, unit_box
from fcnviewer.core.receptive.erf import input_gradients
from fcnviewer.core.receptive.network import ops_in_order
from fcnviewer.core.receptive.table import (
    FINAL,
    layer_table,
    level_names,
    named_streams,
    stage_geometry,
    stream_rf,
)


@dataclass
class Target:
    """``scalar(inputs)``: the differentiated value for a ``(1, channels, H, W)`` input.

    ``unit`` (row, column in the layer's map) and ``box`` (its theoretical receptive field, or the
    union of a region's) are set by the first call (a unit depends on the map's size).
    """

    layer: str
    size: int
    stride: float
    scalar: Callable[[Tensor], Tensor]
    unit: tuple[int, int] | None = None
    box: Box | None = None


class _Reached(Exception):
    """Raised by a forward hook once the layer's unit is captured: the rest of the network is not run."""


def _layer_streams(model: nn.Module) -> dict[str, tuple[Stream, nn.Module | None]]:
    """Each module of :func:`~fcnviewer.core.receptive.network.network_table` (the main chain's
    first; the stream up to it, and the module to hook), every stage map and ``"final"`` (no module:
    read from the output), then every level (its stream's last module hooked)."""
    names = {id(module): name for name, module in model.named_modules()}
    streams = named_streams(model)
    layers: dict[str, tuple[Stream, nn.Module | None]] = {
        names[id(op)]: (upto, op) for op, upto, _ in ops_in_order(model, streams) if isinstance(op, nn.Module)
    }
    for name in (*model.stage_names, FINAL):  # type: ignore[attr-defined]
        if name in streams:
            layers.setdefault(name, (streams[name], None))
    for name in level_names(model):
        layers.setdefault(name, (streams[name], [op for op in streams[name].ops if isinstance(op, nn.Module)][-1]))
    return layers


def layer_names(model: nn.Module) -> tuple[str, ...]:
    """The names :func:`layer_target` accepts: the network's modules (the main chain's first), the
    stage maps, ``"final"``, the levels."""
    return tuple(_layer_streams(model))


def _layer_geometry(model: nn.Module, layer: str) -> tuple[Stream, nn.Module | None, int, Fraction, float]:
    """``layer``'s stream, the module to hook, its box size, stride and unit offset (a stage's by its
    geometry); ``ValueError`` names the accepted layers for an unknown one."""
    layers = _layer_streams(model)
    if layer not in layers:
        raise ValueError(f"no layer {layer!r} in {type(model).__name__}; the layers are {', '.join(layers)}")
    stream, module = layers[layer]
    size, stride, offset = stream_rf(stream)
    if layer in model.stage_names:  # type: ignore[attr-defined]
        offset = stage_geometry(model)[layer].offset
    return stream, module, size, stride, offset


def layer_unit_box(model: nn.Module, layer: str, y: int, x: int) -> tuple[tuple[int, int], Box]:
    """The unit of ``layer`` :func:`layer_target` differentiates at image pixel ``(y, x)`` and its box,
    without running the network: the nearest unit is not clipped to the layer's map (whose size only a
    forward pass knows), so near the image's far edges the target's own unit may differ."""
    stream, _, _, stride, offset = _layer_geometry(model, layer)
    if layer == FINAL:
        row, col = y, x
    else:
        row, col = (StageGeometry(float(stride), offset).nearest_unit(p) for p in (y, x))
    return (row, col), unit_box(stream, (row, row), (col, col))


def layer_target(model: nn.Module, layer: str, y: int, x: int) -> Target:
    """The channel sum of the unit of ``layer`` whose receptive-field centre is nearest to image pixel
    ``(y, x)`` (for a fused stage map, by its linear fit; ``"final"``: the pixel itself).

    A layer of the main chain is read by a forward hook, which stops the forward pass there.
    ``ValueError`` names the accepted layers for an unknown one.
    """
    stream, module, size, stride, offset = _layer_geometry(model, layer)
    target = Target(layer, size, float(stride), lambda inputs: inputs)

    def unit_sum(feature: Tensor) -> Tensor:
        h, w = feature.shape[-2:]
        if layer == FINAL:
            row, col = y, x
        else:
            unit = StageGeometry(float(stride), offset)
            row, col = unit.nearest_unit(y, h), unit.nearest_unit(x, w)
        target.unit, target.box = (row, col), unit_box(stream, (row, row), (col, col))
        return feature[0, :, row, col].sum()

    def scalar(inputs: Tensor) -> Tensor:
        if module is None:
            return unit_sum(model(inputs)["out" if layer == FINAL else layer])
        found: list[Tensor] = []

        def capture(_module: nn.Module, _inputs: object, output: Tensor) -> None:
            found.append(unit_sum(output).clone())  # before an in-place activation changes it
            raise _Reached

        hook = module.register_forward_hook(capture)
        try:
            model(inputs)
        except _Reached:
            pass
        finally:
            hook.remove()
        return found[0]

    target.scalar = scalar
    return target


def region_target(model: nn.Module, region: Box, class_index: int) -> Target:
    """Class ``class_index``'s final logit summed over the inclusive ``region`` of the output
    (a one-logit sigmoid head: its logit, whichever class). The box, set by the first call, is the
    union of the final boxes of the region's corners (:func:`~fcnviewer.core.receptive.pixel_boxes`;
    boxes grow monotonically with the pixel, so it is the box of the whole region)."""
    rows = {row.layer: row for row in layer_table(model)}
    final = rows.get(FINAL, rows.get(RESIZED))
    size, stride = (final.size, final.stride) if final is not None else (0, 1.0)
    target = Target(FINAL, size, stride, lambda inputs: inputs)

    def scalar(inputs: Tensor) -> Tensor:
        image_size = (int(inputs.shape[-2]), int(inputs.shape[-1]))
        corners = ((region.y0, region.x0), (region.y1, region.x1))
        target.box = Box.union(pixel_boxes(model, y, x, image_size)[FINAL] for y, x in corners)
        logits = model(inputs)["out"][0]
        c = class_index if logits.shape[0] > 1 else 0
        return logits[c, region.y0 : region.y1 + 1, region.x0 : region.x1 + 1].sum()

    target.scalar = scalar
    return target


def gradient_map(model: nn.Module, target: Target, inputs: Tensor) -> np.ndarray:
    """``|d target / d inputs|`` summed over input channels: ``(H, W)`` float32, unnormalised."""
    return input_gradients(model, inputs, lambda leaf: {target.layer: target.scalar(leaf)})[target.layer]


@dataclass(frozen=True)
class Smoothing:
    """SmoothGrad's settings: the mean over ``copies`` noisy copies of the image, noise of standard
    deviation ``noise`` in pixel units, drawn from ``seed`` (one copy of noise 0: the plain map)."""

    copies: int = 1
    noise: float = 0.0
    seed: int = 0


def noisy_inputs(
    image: np.ndarray,
    preprocessing: Preprocessing,
    smoothing: Smoothing,
    device: torch.device | str = "cpu",
    window: tuple[int, int, int, int] | None = None,
) -> Iterator[Tensor]:
    """SmoothGrad's ``smoothing.copies`` noisy network inputs of ``image``, one at a time.

    Each copy adds Gaussian noise of standard deviation ``smoothing.noise`` in pixel units (0..255,
    before preprocessing, not clipped) to every RGB value, drawn from a generator seeded with
    ``smoothing.seed`` on the CPU (the same noise on every device). ``window`` ``(y0, y1, x0, x1)``
    cuts each copy to those rows and columns after drawing the whole image's noise, so a window's
    copies are the whole image's, cropped; where it passes the image's borders it is zero (the
    network's own padding, no noise). Noise 0 gives the clean input.
    """
    copies, sigma = smoothing.copies, smoothing.noise
    if copies < 1 or sigma < 0:
        raise ValueError(f"SmoothGrad needs at least one copy and a noise of 0 or more, not {copies} and {sigma}")
    height, width = image.shape[:2]
    y0, y1, x0, x1 = window if window is not None else (0, height, 0, width)
    top, bottom, left, right = max(0, y0), min(height, y1), max(0, x0), min(width, x1)
    clean = preprocessing.to_tensor(image[top:bottom, left:right], device=device)
    frame = (left - x0, x1 - right, top - y0, y1 - bottom)
    generator = torch.Generator().manual_seed(smoothing.seed)
    for _ in range(copies):
        copy = clean
        if sigma:
            noise = torch.randn((1, 3, height, width), generator=generator)[..., top:bottom, left:right] * sigma
            copy = clean + preprocessing.pixel_change(noise.to(device))
        yield F.pad(copy, frame) if any(frame) else copy


def averaged_fields(
    fields_of: Callable[[Tensor], dict[str, np.ndarray]],
    images: Sequence[np.ndarray],
    preprocessing: Preprocessing,
    smoothing: Smoothing,
    device: torch.device | str = "cpu",
    window: tuple[int, int, int, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """The mean of ``fields_of(inputs)`` over ``images`` (all of one size) and over the
    :func:`noisy_inputs` of each (the same seed for each image, every copy cut to ``window``): with
    one image, SmoothGrad. The mean is of the absolute maps, so one copy of noise 0 is the plain map.
    ``progress(done, total)`` is called after each copy (it may raise to stop)."""
    total: dict[str, np.ndarray] = {}
    passes = len(images) * smoothing.copies
    done = 0
    for image in images:
        for inputs in noisy_inputs(image, preprocessing, smoothing, device, window):
            for name, values in fields_of(inputs).items():
                total[name] = total[name] + values if name in total else values.copy()
            done += 1
            if progress is not None:
                progress(done, passes)
    return {name: values / np.float32(passes) for name, values in total.items()}


def smoothed_gradient_map(
    model: nn.Module,
    target: Target,
    image: np.ndarray,
    preprocessing: Preprocessing,
    copies: int,
    sigma: float,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """SmoothGrad: :func:`averaged_fields` of :func:`gradient_map` over ``copies`` noisy copies of ``image``."""
    smoothing = Smoothing(copies, sigma, seed)
    fields_of = lambda inputs: {"": gradient_map(model, target, inputs)}  # noqa: E731
    return averaged_fields(fields_of, [image], preprocessing, smoothing, device)[""]
