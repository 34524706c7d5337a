"""Shift-and-stitch (Long et al. 2015, §3.2): a denser stage map from shifted copies of the input.

A stage map of stride ``s`` has one unit every ``s`` input pixels. Running the network on the
input shifted up and left by ``a * s / f`` rows and ``b * s / f`` columns, for every
``0 <= a, b < f``, and interleaving the ``f * f`` maps (unit ``i`` of shift ``a`` goes to row
``f * i + a``) gives a map of stride ``s / f`` with the same offset: row ``r`` of the result is
centred on input row ``offset + r * s / f``. The shifted copies are cropped (not padded), so every
map is cut to the size of the smallest before interleaving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from fcnviewer.core.receptive.table import evaluating, stage_geometry


@dataclass(frozen=True, eq=False)
class StitchedMap:
    """The interleaved ``(C, f*h, f*w)`` float32 scores of ``stage`` at ``stride`` (``s / f``) and ``offset``."""

    stage: str
    factor: int
    stride: float
    offset: float
    scores: np.ndarray


def checked_stage(model: nn.Module, factor: int, stage: str | None = None) -> str:
    """``stage`` (default: the coarsest stage map), after checking that ``model`` has it and that
    ``factor`` divides its stride; ``ValueError`` otherwise."""
    geometry = stage_geometry(model)
    stage = stage if stage is not None else model.stage_names[0]  # type: ignore[attr-defined]
    if stage not in geometry:
        raise ValueError(f"{type(model).__name__} has no stage map {stage!r}; it has {', '.join(geometry)}")
    stride = geometry[stage].stride
    if factor < 1 or stride % factor:
        raise ValueError(f"a shift-and-stitch factor must divide the stage's stride {stride:g}, and {factor} does not")
    return stage


def shift_and_stitch(
    model: nn.Module,
    inputs: Tensor,
    factor: int,
    stage: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StitchedMap:
    """The dense map of ``stage`` (default: the coarsest) of the ``(1, channels, H, W)`` ``inputs``
    from ``factor * factor`` forward passes; ``factor`` must divide the stage's stride.
    ``progress(done, total)`` is called after each pass (it may raise to stop).
    ``ValueError`` for a stage the model lacks or a factor that does not divide its stride."""
    stage = checked_stage(model, factor, stage)
    geometry = stage_geometry(model)
    stride = geometry[stage].stride
    step = int(stride) // factor
    maps = {}
    with evaluating(model), torch.no_grad():
        for a in range(factor):
            for b in range(factor):
                maps[a, b] = model(inputs[..., a * step :, b * step :])[stage][0]
                if progress is not None:
                    progress(len(maps), factor * factor)
    height = min(m.shape[-2] for m in maps.values())
    width = min(m.shape[-1] for m in maps.values())
    channels = next(iter(maps.values())).shape[0]
    dense = inputs.new_zeros((channels, factor, factor, height, width), dtype=torch.float32)
    for (a, b), scores in maps.items():
        dense[:, a, b] = scores[:, :height, :width].float()
    stitched = dense.permute(0, 3, 1, 4, 2).reshape(channels, height * factor, width * factor)
    return StitchedMap(stage, factor, stride / factor, geometry[stage].offset, stitched.cpu().numpy())
