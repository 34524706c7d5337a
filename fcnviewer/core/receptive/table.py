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
from fcnviewer.core.models.graph import RESIZED, Crop, GlobalPool, Op, Scale, Stream, Upsample

#: Name of the network's final output in the mappings returned here.
FINAL = "final"

#: A unit or pixel index: one int, or an int64 array of them.
Index = int | np.ndarray


@dataclass(frozen=True)
class LayerRF:
    """Receptive field after ``layer``: box ``size`` in pixels, unit ``stride``, and ``center0``,
    the input position of unit 0's centre (for a fused map: the offset of the linear fit).

    ``whole_image``: a global-pooling branch (ASPP's image pooling, a squeeze-and-excitation
    gate) reaches this layer, so it sees the whole image; ``size`` is then the local box only.
    """

    layer: str
    size: int
    stride: float
    center0: float
    whole_image: bool = False


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


def level_names(model: nn.Module) -> tuple[str, ...]:
    """Streams that are neither a stage map nor the output: levels shown for receptive fields only
    (U-Net's decoder levels)."""
    stages = set(model.stage_names)  # type: ignore[attr-defined]
    return tuple(n for n in named_streams(model) if n not in stages and n not in (FINAL, RESIZED))


def _op_back(op: Op, a: Index, b: Index, axis: int) -> tuple[Index, Index]:
    """Input index range of ``op`` that output range ``[a, b]`` reads."""
    if isinstance(op, Crop):
        return a + op.offset, b + op.offset
    if isinstance(op, Scale):
        return a, b
    if isinstance(op, Upsample):
        f = op.factor
        if op.align_corners:  # u = i (n - 1) / (f n - 1) lies in [i/f - (f-1)/f, i/f]
            return (a - f + 1) // f, -((-b) // f)
        return (2 * a + 1 - f) // (2 * f), -((-(2 * b + 1 - f)) // (2 * f))  # u = (i + 1/2) / f - 1/2
    if isinstance(op, GlobalPool):
        raise ValueError("a global pooling has no local receptive field")
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
    ranges = [input_interval(branch, a, b, axis) for branch in _local(stream)]
    lows, highs = [r[0] for r in ranges], [r[1] for r in ranges]
    if isinstance(a, np.ndarray):
        return np.minimum.reduce(lows), np.maximum.reduce(highs)
    return min(lows), max(highs)


def stream_stride(stream: Stream, axis: int) -> Fraction:
    """Input pixels per output unit of ``stream`` along ``axis`` (the same in every branch of a sum)."""
    strides = {stream_stride(branch, axis) for branch in _local(stream)} or {Fraction(1)}
    if len(strides) != 1:
        raise ValueError(f"branches of a sum have different strides: {sorted(strides)}")
    stride = strides.pop()
    for op in stream.ops:
        if isinstance(op, nn.ConvTranspose2d):
            stride /= _kspd(op, axis)[1]
        elif isinstance(op, Upsample):
            stride /= op.factor
        elif isinstance(op, nn.Module):
            stride *= _kspd(op, axis)[1]
    return stride


def _local(stream: Stream) -> list[Stream]:
    """The branches of ``stream`` that have a local box (not those through a global pooling)."""
    if stream.is_global:
        raise ValueError("a stream through a global pooling has no local receptive field")
    branches = [branch for branch in stream.branches if not branch.is_global]
    if stream.branches and not branches:
        raise ValueError("every branch goes through a global pooling: no local receptive field")
    return branches


def _period(stream: Stream, axis: int) -> int:
    """A number of output units after which the boxes repeat, shifted by ``stride * period``."""
    factors = [
        op.factor if isinstance(op, Upsample) else _kspd(op, axis)[1]
        for op in stream.ops
        if isinstance(op, nn.ConvTranspose2d | Upsample)
    ]
    return math.prod(factors) * math.prod(_period(branch, axis) for branch in _local(stream))


def stream_rf(stream: Stream, axis: int = 0) -> tuple[int, Fraction, float]:
    """Largest box width over a period, stride, and offset of the linear fit of the box centres
    (the local box, where a global pooling makes the stream see the whole image besides)."""
    stride = stream_stride(stream, axis)
    units = np.arange(_period(stream, axis), dtype=np.int64)
    a, b = input_interval(stream, units, units, axis)
    offset = float(np.mean((a + b) / 2 - units * float(stride)))
    return int(np.max(b - a + 1)), stride, offset


# ----------------------------------------------------------------------------- tables


def _main_path(stream: Stream) -> list[tuple[Op, bool]]:
    """The path of :func:`main_chain`, each operation with whether the whole image reaches it."""
    paths = [_main_path(branch) for branch in _local(stream)]
    below = max(paths, key=lambda path: (len(path), _path_width(path)), default=[])
    return [*below, *((op, stream.sees_whole_image) for op in stream.ops)]


def _path_width(path: list[tuple[Op, bool]]) -> int:
    a, b = input_interval(Stream.chain(op for op, _ in path), 0, 0, 0)
    return int(b - a + 1)


def main_chain(stream: Stream) -> list[Op]:
    """The longest path of operations from the input through ``stream`` (of equally long ones, the
    widest; never through a global pooling)."""
    return [op for op, _ in _main_path(stream)]


def main_stream_name(model: nn.Module) -> str:
    """The stream whose main chain :func:`layer_table` tabulates: the coarsest stage, else the output."""
    stages = model.stage_names  # type: ignore[attr-defined]
    return stages[0] if stages else FINAL


def layer_table(model: nn.Module) -> list[LayerRF]:
    """Receptive field after each layer of the main chain, then of every other stream and ``"final"``.

    The main chain is that of :func:`main_stream_name` (``conv1_1 .. score_fr`` for FCN-VGG);
    each of its layers gets the receptive field of the chain up to it, by the exact interval
    method (for chains of convolutions and pools the same as the standard recurrences
    ``r += (k-1)*d*j``, ``center0 += ((k-1)/2*d - p)*j``, ``j *= s``). Rows for the other
    streams come from the same method. Only the y axis is tabulated (these networks are isotropic).
    """
    names = {id(module): name for name, module in model.named_modules()}
    streams = named_streams(model)
    main_name = main_stream_name(model)
    rows: list[LayerRF] = []
    path = _main_path(streams[main_name])
    for i, (op, whole) in enumerate(path):
        if isinstance(op, nn.Module):
            width, stride, offset = stream_rf(Stream.chain(op for op, _ in path[: i + 1]))
            rows.append(LayerRF(names[id(op)], width, float(stride), offset, whole))
    for name, stream in streams.items():
        if name != main_name:
            width, stride, offset = stream_rf(stream)
            rows.append(LayerRF(name, width, float(stride), offset, stream.sees_whole_image))
    return rows


def stage_geometry(model: nn.Module) -> dict[str, StageGeometry]:
    """Stride and offset of every stage map in ``model.stage_names``, by the interval method.

    For a plain chain the offset is the centre of unit 0's box; for a fused map it is the
    mean over one period of ``centre(m) - stride * m`` (see the module docstring).
    """
    geometry = {}
    for name in model.stage_names:  # type: ignore[attr-defined]
        _, stride, offset = stream_rf(stream_of(model, name))
        geometry[name] = StageGeometry(float(stride), offset)
    return geometry


def sees_whole_image(model: nn.Module) -> bool:
    """Whether some stream of ``model`` goes through a global pooling (its output sees the whole image)."""
    return any(stream.sees_whole_image for stream in named_streams(model).values())


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
