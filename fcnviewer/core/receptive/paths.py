"""The skip paths of a network whose output is a sum of branches: each path's own box and ERF.

FCN-16s/8s add a pool4 (and pool3) path to the stride-32 path; everything after the sums is
linear, so the final logit splits exactly into one share per path
(:func:`~fcnviewer.core.receptive.branch_contributions`). A path here is one branch of that sum
followed by every operation after the sums, as one chain from the input to the output: its box
is what that share can depend on, its ERF ``|d share / d input|``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import takewhile

import numpy as np
import torch
from torch import Tensor, nn

from fcnviewer.core.models.graph import RESIZED, Crop, Op, Scale, Stream, Upsample
from fcnviewer.core.receptive.boxes import Box, resized_units, unit_box
from fcnviewer.core.receptive.table import (
    FINAL,
    evaluating,
    main_chain,
    main_stream_name,
    named_streams,
    stage_geometry,
    stream_of,
    stream_stride,
)


@dataclass(frozen=True, eq=False)
class SkipPath:
    """One branch of the output's sum: its ``name`` (``"stride32"``, ``"pool4"``, ``"pool3"``, or the
    model's label), the ``stream`` from the input to the output through it, and the ``last`` module
    of the branch (zeroing its output removes the path)."""

    name: str
    stream: Stream
    last: nn.Module


def _leaves(stream: Stream, above: tuple[Op, ...] = ()) -> list[tuple[Stream, tuple[Op, ...]]]:
    """The streams summed into ``stream``, coarse first, each with the operations after it (all
    linear: checked)."""
    if not stream.branches or stream.combine != "sum":
        return [(stream, above)]
    for op in stream.ops:
        linear = isinstance(op, Crop | Scale | Upsample) or (
            isinstance(op, nn.Conv2d | nn.ConvTranspose2d) and op.bias is None
        )
        if not linear:
            raise ValueError(f"{type(op).__name__} after a skip sum is not bias-free linear")
    return [leaf for branch in stream.branches for leaf in _leaves(branch, stream.ops + above)]


def _summed_stream(model: nn.Module) -> Stream:
    """The stream of the output (or of the map resized to it), if it is a sum of branches."""
    streams = named_streams(model)
    stream = streams.get(FINAL, streams.get(RESIZED))
    if stream is None or (stream.branches and stream.combine != "sum"):
        raise ValueError(f"the output of {model.arch} is not a sum of branches")  # type: ignore[attr-defined]
    return stream


def skip_paths(model: nn.Module) -> list[SkipPath]:
    """The paths of the output's sum, coarse first (``ValueError`` where the output is no such sum:
    DeepLabV3's concatenated ASPP, U-Net's concatenated skips).

    A path is named by its label where the model gives one (LRASPP's ``"low"``, ``"high"``), the
    main chain by its stride (``"stride32"``), another by the layer it taps (``"pool4"``)."""
    main_stream = stream_of(model, main_stream_name(model))
    main = main_chain(main_stream)
    module_names = {id(module): name for name, module in model.named_modules()}
    paths = []
    for leaf, above in _leaves(_summed_stream(model)):
        ops = list(leaf.ops)
        shared = sum(1 for _ in takewhile(lambda pair: pair[0] is pair[1], zip(ops, main, strict=False)))
        if leaf.label:
            name = leaf.label
        elif shared == len(main):
            name = f"stride{int(stream_stride(main_stream, 0))}"
        else:
            name = module_names[id(ops[shared - 1])]
        last = [op for op in ops if isinstance(op, nn.Module)][-1]
        paths.append(SkipPath(name, Stream(leaf.branches, leaf.ops + above, leaf.combine), last))
    return paths


@contextmanager
def isolating(paths: Sequence[SkipPath], batch: Tensor) -> Iterator[None]:
    """Inside the block, copy ``i`` of a ``batch`` of ``len(paths)`` inputs runs through path ``i``
    alone: the last module of every other path outputs zeros there."""
    masks: dict[nn.Module, Tensor] = {}
    for i, path in enumerate(paths):
        keep = masks.setdefault(path.last, torch.zeros(len(paths), 1, 1, 1, device=batch.device, dtype=batch.dtype))
        keep[i] = 1
    hooks = [module.register_forward_hook(lambda _m, _i, o, k=keep: o * k) for module, keep in masks.items()]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()


def path_fields(
    model: nn.Module, inputs: Tensor, y: int, x: int, class_index: int
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Each path's share of ``class_index``'s final logit at pixel ``(y, x)`` and its ERF
    ``|d share / d input|`` summed over input channels (``(H, W)`` float32), by path name.

    One forward pass of a batch with one copy of ``inputs`` per path (in copy ``i`` the last module
    of every other path outputs zeros) and one backward pass: the copies are independent in eval
    mode, so copy ``i``'s input gradient is path ``i``'s ERF. A sigmoid head's one logit serves
    every class."""
    paths = skip_paths(model)
    leaf = inputs.detach().expand(len(paths), -1, -1, -1).clone().requires_grad_(True)
    with isolating(paths, leaf), evaluating(model), torch.enable_grad():
        out = model(leaf)["out"]
        shares = out[:, class_index if out.shape[1] > 1 else 0, y, x]
        (grad,) = torch.autograd.grad(shares.sum(), leaf)
    values = grad.abs().sum(1).detach().to("cpu", torch.float32).numpy()
    names = [path.name for path in paths]
    return dict(zip(names, shares.tolist(), strict=True)), dict(zip(names, values, strict=True))


def path_boxes(
    model: nn.Module, y: int, x: int, image_size: tuple[int, int], stage_shapes: dict[str, tuple[int, int]]
) -> dict[str, Box]:
    """The input box of each path's share of the output at image pixel ``(y, x)``, by path name.

    Where the output is the map resized to the image (LRASPP), the units the resize reads there, as
    for :func:`~fcnviewer.core.receptive.pixel_boxes`' ``"final"``; ``stage_shapes`` gives the
    finest stage's size (the viewer has it from the prediction). Not clipped."""
    paths = skip_paths(model)
    if FINAL in named_streams(model):
        rows, cols = (y, y), (x, x)
    else:
        geometry = stage_geometry(model)
        (h, w), (height, width) = stage_shapes[min(geometry, key=lambda n: geometry[n].stride)], image_size
        rows, cols = resized_units(y, height, h), resized_units(x, width, w)
    return {path.name: unit_box(path.stream, rows, cols) for path in paths}
