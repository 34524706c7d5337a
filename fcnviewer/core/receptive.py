"""Receptive fields of a segmentation network: theoretical, exact and effective.

Everything geometric is read from the modules listed by ``model.streams()`` (kernel size,
stride, padding, dilation), never from a hand-written table. Index ranges are walked
backwards through a stream, one axis at a time; a conv/pool ``(k, s, p, d)`` maps output
units ``[a, b]`` to input ``[a*s - p, b*s - p + d*(k - 1)]``, a transposed convolution to
``[ceil((a + p - d*(k - 1)) / s), floor((b + p) / s)]``, ``Crop(o)`` to ``[a + o, b + o]``, a
scaling to itself, and a sum of branches to the bounding interval of theirs.

Boxes are never clipped to the image: they may extend past its borders (FCN-VGG's
``conv1_1`` pads by 100, so coordinates can be far negative).

In FCN-VGG the coarse map reaches a fused map through a stride-2 transposed convolution,
so the box centres of a fused map wobble with a period of a few units instead of lying on a
line. Their best linear fit (the mean over one period) is what :func:`stage_geometry`
reports as the offset; it matches the network's own upsampling exactly (e.g. ``-11.5`` for
FCN-16s's ``"16"`` map, where unit 0's box alone is centred on ``-3.5``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from itertools import takewhile

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

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


@dataclass(frozen=True)
class Box:
    """Inclusive input-pixel rectangle ``[x0, x1] x [y0, y1]``; may extend past the image."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        """Number of columns."""
        return self.x1 - self.x0 + 1

    @property
    def height(self) -> int:
        """Number of rows."""
        return self.y1 - self.y0 + 1

    def as_list(self) -> list[int]:
        """``[x0, y0, x1, y1]``."""
        return [self.x0, self.y0, self.x1, self.y1]


@dataclass(frozen=True, eq=False)
class EffectiveRF:
    """|d logit / d input| summed over colour channels, ``(H, W)`` float32.

    ``unit`` is the (row, column) in the stage map whose logit was differentiated (the
    clicked pixel itself for ``"final"``), ``class_index`` the class of that logit.
    """

    stage: str
    class_index: int
    unit: tuple[int, int]
    values: np.ndarray


# ----------------------------------------------------------------------------- streams


def _streams(model: nn.Module) -> dict[str, Stream]:
    streams: dict[str, Stream] = model.streams()  # type: ignore[operator]
    if "out" in streams:
        streams[FINAL] = streams.pop("out")
    return streams


def _stream(model: nn.Module, stage: str) -> Stream:
    streams = _streams(model)
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


def unit_box(stream: Stream, rows: tuple[int, int], cols: tuple[int, int]) -> Box:
    """Input box of the units ``rows[0]..rows[1]`` x ``cols[0]..cols[1]`` of ``stream``'s output."""
    y0, y1 = input_interval(stream, int(rows[0]), int(rows[1]), 0)
    x0, x1 = input_interval(stream, int(cols[0]), int(cols[1]), 1)
    return Box(int(x0), int(y0), int(x1), int(y1))


def _stride(stream: Stream, axis: int) -> Fraction:
    strides = {_stride(branch, axis) for branch in stream.branches} or {Fraction(1)}
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
    stride = _stride(stream, axis)
    units = np.arange(_period(stream, axis), dtype=np.int64)
    a, b = input_interval(stream, units, units, axis)
    offset = float(np.mean((a + b) / 2 - units * float(stride)))
    return int(np.max(b - a + 1)), stride, offset


# ----------------------------------------------------------------------------- tables


def _main_chain(stream: Stream) -> list[Op]:
    """The longest path of operations from the input through ``stream``."""
    below = max((_main_chain(branch) for branch in stream.branches), key=len, default=[])
    return [*below, *stream.ops]


def layer_table(model: nn.Module) -> list[LayerRF]:
    """Receptive field after each layer of the main chain, then of every other stage and ``"final"``.

    The main chain is the stream of the coarsest stage (``conv1_1 .. score_fr`` for FCN-VGG),
    tabulated with the standard recurrences ``r += (k-1)*d*j``,
    ``center0 += ((k-1)/2*d - p)*j``, ``j *= s``. Rows for the other streams come from the
    exact interval method. Only the y axis is tabulated (these networks are isotropic).
    """
    names = {id(module): name for name, module in model.named_modules()}
    streams = _streams(model)
    main_name = model.stage_names[0]  # type: ignore[attr-defined]
    rows: list[LayerRF] = []
    size, jump, center = 1, 1, 0.0
    for op in _main_chain(streams[main_name]):
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
        _, stride, offset = _stream_rf(_stream(model, name))
        geometry[name] = StageGeometry(float(stride), offset)
    return geometry


# ----------------------------------------------------------------------------- pixels


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def stage_map_shapes(model: nn.Module, image_size: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """``(h, w)`` of each stage map for an ``image_size`` input.

    Found by running the model's own ``forward`` on the meta device (shapes only, no
    arithmetic, no memory), so ``ceil_mode``, crops and resizes are exactly the network's.
    """
    meta = {name: torch.empty_like(t, device="meta") for name, t in (*model.named_parameters(), *model.named_buffers())}
    dtype = next(model.parameters()).dtype  # float32, or the half precision a predictor runs it in
    with _evaluating(model), torch.no_grad():
        out = functional_call(model, meta, (torch.empty(1, 3, *image_size, device="meta", dtype=dtype),))
    return {name: tuple(out[name].shape[-2:]) for name in model.stage_names}  # type: ignore[attr-defined,misc]


def _resized_units(pixel: int, size: int, n: int) -> tuple[int, int]:
    """Units of an ``n``-long map that bilinear resizing to ``size`` (``align_corners=False``) reads at ``pixel``."""
    u = max((pixel + 0.5) * n / size - 0.5, 0.0)
    first = min(math.floor(u), n - 1)
    last = min(first + 1, n - 1) if u > first else first
    return first, last


def pixel_boxes(
    model: nn.Module,
    y: int,
    x: int,
    image_size: tuple[int, int],
    stage_shapes: dict[str, tuple[int, int]] | None = None,
    geometry: dict[str, StageGeometry] | None = None,
) -> dict[str, Box]:
    """Input boxes behind image pixel ``(y, x)``: one per stage, then ``"final"``.

    A stage's box is the union of the boxes of the units that its image-aligned display
    (:func:`fcnviewer.core.alignment.upsample_to_image`) reads at ``(y, x)``; ``"final"`` is
    the box of output pixel ``(y, x)``. Networks without an ``"out"`` stream (FCN-ResNet)
    resize their first stage bilinearly, and their ``"final"`` box follows that resize.
    Stage shapes and geometry are computed with :func:`stage_map_shapes` and
    :func:`stage_geometry` when not given (a viewer has them from the prediction). Not clipped.
    """
    shapes = stage_shapes if stage_shapes is not None else stage_map_shapes(model, image_size)
    geometry = geometry if geometry is not None else stage_geometry(model)
    streams = _streams(model)
    boxes = {}
    for name, g in geometry.items():
        h, w = shapes[name]
        boxes[name] = unit_box(streams[name], g.units_read(y, h), g.units_read(x, w))
    if FINAL in streams:
        boxes[FINAL] = unit_box(streams[FINAL], (y, y), (x, x))
    else:
        first = model.stage_names[0]  # type: ignore[attr-defined]
        (h, w), (height, width) = shapes[first], image_size
        rows, cols = _resized_units(y, height, h), _resized_units(x, width, w)
        boxes[FINAL] = unit_box(streams[first], rows, cols)
    return boxes


def units_seeing(
    model: nn.Module, stage: str, y: int, x: int, stage_shape: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Inclusive unit ranges ``(y0, y1, x0, x1)`` of ``stage``'s map whose box contains input
    pixel ``(y, x)``, or ``None`` when no unit sees it. ``stage`` may also be ``"final"``."""
    stream = _stream(model, stage)
    ranges: list[int] = []
    for axis, (pixel, n) in enumerate(zip((y, x), stage_shape, strict=True)):
        units = np.arange(n)
        a, b = input_interval(stream, units, units, axis)
        seeing = units[(a <= pixel) & (pixel <= b)]
        if seeing.size == 0:
            return None
        ranges += [int(seeing[0]), int(seeing[-1])]
    return ranges[0], ranges[1], ranges[2], ranges[3]


# ----------------------------------------------------------------------------- gradients


def _nearest_unit(geometry: StageGeometry, pixel: int, n: int) -> int:
    return int(np.clip(np.rint((pixel - geometry.offset) / geometry.stride), 0, n - 1))


def effective_receptive_fields(
    model: nn.Module,
    inputs: Tensor,
    y: int,
    x: int,
    stages: Iterable[str] | None = None,
    class_index: int | None = None,
) -> dict[str, EffectiveRF]:
    """Effective receptive fields (Luo et al. 2016) behind image pixel ``(y, x)``.

    ``inputs`` is the preprocessed ``(1, 3, H, W)`` input; one forward pass (in eval mode,
    on ``inputs``' device) serves all ``stages`` (default: every stage, then ``"final"``).
    For a stage, the logit differentiated is that of the unit nearest to ``(y, x)`` by
    :func:`stage_geometry`. The class is ``class_index``, else the final prediction at
    ``(y, x)``, the same for every stage.
    """
    names = list(stages) if stages is not None else [*model.stage_names, FINAL]  # type: ignore[attr-defined]
    geometry = stage_geometry(model)
    leaf = inputs.detach().clone().requires_grad_(True)
    with _evaluating(model), torch.enable_grad():
        out = model(leaf)
        maps = {FINAL: out["out"], **{name: out[name] for name in geometry}}
        c = int(out["out"][0, :, y, x].argmax()) if class_index is None else class_index
        fields = {}
        for i, name in enumerate(names):
            if name not in maps:
                raise ValueError(f"unknown stage {name!r}; expected one of {', '.join(maps)}")
            h, w = maps[name].shape[-2:]
            if name == FINAL:
                unit = (y, x)
            else:
                unit = (_nearest_unit(geometry[name], y, h), _nearest_unit(geometry[name], x, w))
            logit = maps[name][0, c, unit[0], unit[1]]
            (grad,) = torch.autograd.grad(logit, leaf, retain_graph=i < len(names) - 1)
            values = grad[0].abs().sum(0).detach().to("cpu", torch.float32).numpy()
            fields[name] = EffectiveRF(name, c, unit, values)
    return fields


def effective_receptive_field(
    model: nn.Module, inputs: Tensor, y: int, x: int, stage: str = FINAL, class_index: int | None = None
) -> EffectiveRF:
    """:func:`effective_receptive_fields` for one stage (``"final"`` by default)."""
    return effective_receptive_fields(model, inputs, y, x, (stage,), class_index)[stage]


# ----------------------------------------------------------------------------- branches


def _leaves(stream: Stream) -> list[Stream]:
    """The plain chains summed into ``stream``, coarse first; checks that all above them is linear."""
    if not stream.branches:
        return [stream]
    for op in stream.ops:
        linear = isinstance(op, Crop | Scale) or (isinstance(op, nn.Conv2d | nn.ConvTranspose2d) and op.bias is None)
        if not linear:
            raise ValueError(f"{type(op).__name__} after a skip sum is not bias-free linear")
    return [leaf for branch in stream.branches for leaf in _leaves(branch)]


def branch_contributions(
    model: nn.Module, inputs: Tensor, y: int, x: int, class_index: int | None = None
) -> dict[str, float]:
    """Each skip branch's share of the final logit at pixel ``(y, x)``; the shares sum to it.

    Everything after the skip sums is linear (bias-free transposed convolutions, crops,
    sums), so the logit splits exactly into the branches pushed through it alone. One
    forward pass of a batch with one copy of ``inputs`` per branch computes them: in copy
    ``i`` the last module of every other branch outputs zeros. Keys: ``"stride32"`` (the
    main chain, named by its stride), then the layer each skip taps (``"pool4"``,
    ``"pool3"``). The class is ``class_index``, else the prediction at ``(y, x)``.
    Note the at-once FCN-8s scales the pool4 / pool3 inputs by 0.01 / 0.0001 inside these branches.
    """
    leaves = _leaves(_stream(model, FINAL))
    main_stream = _stream(model, model.stage_names[0])  # type: ignore[attr-defined]
    main = _main_chain(main_stream)
    module_names = {id(module): name for name, module in model.named_modules()}
    names, masks = [], {}
    for i, leaf in enumerate(leaves):
        ops = list(leaf.ops)
        shared = sum(1 for _ in takewhile(lambda pair: pair[0] is pair[1], zip(ops, main, strict=False)))
        names.append(
            f"stride{int(_stride(main_stream, 0))}" if shared == len(main) else module_names[id(ops[shared - 1])]
        )
        last = [op for op in ops if isinstance(op, nn.Module)][-1]
        keep = torch.zeros(len(leaves), 1, 1, 1, device=inputs.device, dtype=inputs.dtype)
        masks[last] = masks.get(last, keep)
        masks[last][i] = 1
    hooks = [module.register_forward_hook(lambda _m, _i, o, k=keep: o * k) for module, keep in masks.items()]
    try:
        with _evaluating(model), torch.no_grad():
            out = model(inputs.expand(len(leaves), -1, -1, -1))["out"][:, :, y, x]
    finally:
        for hook in hooks:
            hook.remove()
    c = int(out.sum(0).argmax()) if class_index is None else class_index
    return {name: float(value) for name, value in zip(names, out[:, c], strict=True)}
