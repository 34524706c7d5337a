"""Walking a model's streams: input intervals, strides, the layer table and stage geometry.

Index ranges are walked backwards through a stream, one axis at a time (see
:mod:`fcnviewer.core.receptive`). Everything geometric is read from the modules themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from torch import nn

from fcnviewer.core.alignment import StageGeometry
from fcnviewer.core.models.graph import Crop, Op, Scale, Stream

#: Name of the network's final output in the mappings returned here.
FINAL = "final"

#: A unit or pixel index: one int, or an int64 array of them.
Index = int | np.ndarray


@dataclass(frozen=True)
class LayerRF:
    """Receptive field after ``layer``: box ``size`` in pixels, unit ``stride``, and ``center0``,
    the input position of unit 0's centre (for a fused map: the offset of the linear fit)."""

    layer: str
    size: int
    stride: float
    center0: float


# ----------------------------------------------------------------------------- streams


def named_streams(model: nn.Module) -> dict[str, Stream]:
    """``model.streams()`` with ``"out"`` renamed :data:`FINAL`."""
    streams: dict[str, Stream] = model.streams()  # type: ignore[operator]
    if "out" in streams:
        streams[FINAL] = streams.pop("out")
    return streams


def stream_of(model: nn.Module, stage: str) -> Stream:
    """The stream of ``stage`` (a stage name or :data:`FINAL`); ``ValueError`` if there is none."""
    streams = named_streams(model)
    if stage not in streams:
        raise ValueError(f"{type(model).__name__} has no stream {stage!r}; it has {', '.join(streams)}")
    return streams[stage]


def _pair(value: int | Sequence[int], axis: int) -> int:
    return int(value if isinstance(value, int) else value[axis])


def _kspd(module: nn.Module, axis: int) -> tuple[int, int, int, int]:
    """Kernel size, stride, padding (before the first unit) and dilation of ``module`` on ``axis``."""
    if not isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.MaxPool2d | nn.AvgPool2d):
        raise TypeError(f"no receptive-field rule for {type(module).__name__}")
    k = _pair(module.kernel_size, axis)
    s = _pair(module.stride, axis)
    d = _pair(getattr(module, "dilation", 1), axis)
    padding = module.padding
    if padding == "valid":
        p = 0
    elif padding == "same":
        p = d * (k - 1) // 2
    else:
        p = _pair(padding, axis)
    return k, s, p, d


def _op_back(op: Op, a: Index, b: Index, axis: int) -> tuple[Index, Index]:
    """Input index range of ``op`` that output range ``[a, b]`` reads."""
    if isinstance(op, Crop):
        return a + op.offset, b + op.offset
    if isinstance(op, Scale):
        return a, b
    k, s, p, d = _kspd(op, axis)
    if isinstance(op, nn.ConvTranspose2d):
        return -((-(a + p - d * (k - 1))) // s), (b + p) // s
    return a * s - p, b * s - p + d * (k - 1)


def input_interval(stream: Stream, first: Index, last: Index, axis: int) -> tuple[Index, Index]:
    """Input pixels (inclusive range) that output units ``first..last`` of ``stream`` can depend
    on along ``axis`` (0: y, 1: x); not clipped to the image. ``first`` and ``last`` are ints
    (one range, plain Python arithmetic: a click) or int64 arrays (one range per element)."""
    a, b = first, last
    for op in reversed(stream.ops):
        a, b = _op_back(op, a, b, axis)
    if not stream.branches:
        return a, b
    ranges = [input_interval(branch, a, b, axis) for branch in stream.branches]
    lows, highs = [r[0] for r in ranges], [r[1] for r in ranges]
    if isinstance(a, np.ndarray):
        return np.minimum.reduce(lows), np.maximum.reduce(highs)
    return min(lows), max(highs)


def stream_stride(stream: Stream, axis: int) -> Fraction:
    """Input pixels per output unit of ``stream`` along ``axis`` (the same in every branch of a sum)."""
    strides = {stream_stride(branch, axis) for branch in stream.branches} or {Fraction(1)}
    if len(strides) != 1:
        raise ValueError(f"branches of a sum have different strides: {sorted(strides)}")
    stride = strides.pop()
    for op in stream.ops:
        if isinstance(op, nn.ConvTranspose2d):
            stride /= _kspd(op, axis)[1]
        elif isinstance(op, nn.Module):
            stride *= _kspd(op, axis)[1]
    return stride


def _period(stream: Stream, axis: int) -> int:
    """A number of output units after which the boxes repeat, shifted by ``stride * period``."""
    period = math.prod(_kspd(op, axis)[1] for op in stream.ops if isinstance(op, nn.ConvTranspose2d))
    return period * math.prod(_period(branch, axis) for branch in stream.branches)


def _stream_rf(stream: Stream, axis: int = 0) -> tuple[int, Fraction, float]:
    """Largest box width over a period, stride, and offset of the linear fit of the box centres."""
    stride = stream_stride(stream, axis)
    units = np.arange(_period(stream, axis), dtype=np.int64)
    a, b = input_interval(stream, units, units, axis)
    offset = float(np.mean((a + b) / 2 - units * float(stride)))
    return int(np.max(b - a + 1)), stride, offset


# ----------------------------------------------------------------------------- tables


def main_chain(stream: Stream) -> list[Op]:
    """The longest path of operations from the input through ``stream``."""
    below = max((main_chain(branch) for branch in stream.branches), key=len, default=[])
    return [*below, *stream.ops]


def layer_table(model: nn.Module) -> list[LayerRF]:
    """Receptive field after each layer of the main chain, then of every other stage and ``"final"``.

    The main chain is the stream of the coarsest stage (``conv1_1 .. score_fr`` for FCN-VGG),
    tabulated with the standard recurrences ``r += (k-1)*d*j``,
    ``center0 += ((k-1)/2*d - p)*j``, ``j *= s``. Rows for the other streams come from the
    exact interval method. Only the y axis is tabulated (these networks are isotropic).
    """
    names = {id(module): name for name, module in model.named_modules()}
    streams = named_streams(model)
    main_name = model.stage_names[0]  # type: ignore[attr-defined]
    rows: list[LayerRF] = []
    size, jump, center = 1, 1, 0.0
    for op in main_chain(streams[main_name]):
        if isinstance(op, nn.ConvTranspose2d):
            raise ValueError(f"the main chain of {type(model).__name__} contains a transposed convolution")
        if not isinstance(op, nn.Module):
            continue
        k, s, p, d = _kspd(op, 0)
        size += (k - 1) * d * jump
        center += ((k - 1) / 2 * d - p) * jump
        jump *= s
        rows.append(LayerRF(names[id(op)], size, float(jump), center))
    for name, stream in streams.items():
        if name != main_name:
            width, stride, offset = _stream_rf(stream)
            rows.append(LayerRF(name, width, float(stride), offset))
    return rows


def stage_geometry(model: nn.Module) -> dict[str, StageGeometry]:
    """Stride and offset of every stage map in ``model.stage_names``, by the interval method.

    For a plain chain the offset is the centre of unit 0's box; for a fused map it is the
    mean over one period of ``centre(m) - stride * m`` (see the module docstring).
    """
    geometry = {}
    for name in model.stage_names:  # type: ignore[attr-defined]
        _, stride, offset = _stream_rf(stream_of(model, name))
        geometry[name] = StageGeometry(float(stride), offset)
    return geometry


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Every module of ``model`` in eval mode inside the block; each one's own mode restored after."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
