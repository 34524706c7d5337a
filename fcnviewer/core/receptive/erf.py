"""Gradients behind a pixel: effective receptive fields, and each skip branch's share of a logit."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from fcnviewer.core.alignment import StageGeometry, aligned_scores_at
from fcnviewer.core.models.graph import Stream
from fcnviewer.core.receptive.paths import SkipPath, skip_paths
from fcnviewer.core.receptive.table import (
    FINAL,
    evaluating,
    level_names,
    named_streams,
    stage_geometry,
    stream_rf,
)


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


# ----------------------------------------------------------------------------- gradients


def input_gradients(
    model: nn.Module, inputs: Tensor, scalars: Callable[[Tensor], dict[str, Tensor]]
) -> dict[str, np.ndarray]:
    """``|d s / d inputs|`` summed over input channels, ``(H, W)`` float32, for each scalar ``s`` of
    ``scalars(leaf)`` (by name; ``leaf`` is a copy of ``inputs`` that requires grad), all from the
    one graph ``scalars`` builds (eval mode, ``inputs``' device). Only the input's gradient is
    computed: ``torch.autograd.grad`` skips the weights' (their backward kernels never run)."""
    leaf = inputs.detach().clone().requires_grad_(True)
    fields = {}
    with evaluating(model), torch.enable_grad():
        found = scalars(leaf)
        for i, (name, scalar) in enumerate(found.items()):
            (grad,) = torch.autograd.grad(scalar, leaf, retain_graph=i < len(found) - 1)
            fields[name] = grad[0].abs().sum(0).detach().to("cpu", torch.float32).numpy()
    return fields


def effective_receptive_fields(
    model: nn.Module,
    inputs: Tensor,
    y: int,
    x: int,
    stages: Iterable[str] | None = None,
    class_index: int | None = None,
) -> dict[str, EffectiveRF]:
    """Effective receptive fields (Luo et al. 2016) behind image pixel ``(y, x)``.

    ``inputs`` is the preprocessed ``(1, channels, H, W)`` input; one forward pass (in eval
    mode, on ``inputs``' device) serves all ``stages`` (default: every stage, every level, then
    ``"final"``). For a stage, the logit differentiated is that of the unit nearest to ``(y, x)``
    by :func:`stage_geometry`. The class is ``class_index``, else the final prediction at
    ``(y, x)``, the same for every stage; a sigmoid head's one logit serves both its classes. A
    level (U-Net's decoder levels: features, not scores) differentiates the sum of its channels
    at its unit nearest to ``(y, x)``.
    """
    return pixel_fields(model, inputs, y, x, stages=stages, class_index=class_index)[0]


def pixel_fields(
    model: nn.Module,
    inputs: Tensor,
    y: int,
    x: int,
    *,
    paths: Sequence[SkipPath] = (),
    class_index: int | None = None,
    stages: Iterable[str] | None = None,
) -> tuple[dict[str, EffectiveRF], dict[str, float]]:
    """:func:`effective_receptive_fields`, and each of ``paths``' share of the final logit of their
    class at ``(y, x)`` (:func:`branch_contributions`, ``paths`` from
    :func:`~fcnviewer.core.receptive.paths.skip_paths`) from the same forward pass, at the cost of
    a backward pass through the layers after the branches only."""
    levels = level_names(model)
    names = list(stages) if stages is not None else [*model.stage_names, *levels, FINAL]  # type: ignore[attr-defined]
    geometry = stage_geometry(model)
    streams = named_streams(model)
    for name in levels:
        _, stride, offset = stream_rf(streams[name])
        geometry[name] = StageGeometry(float(stride), offset)
    output_stage = getattr(model, "output_stage", None)
    units: dict[str, tuple[int, int]] = {}
    shares: dict[str, float] = {}

    def logits(leaf: Tensor) -> dict[str, Tensor]:
        nonlocal class_index
        with _captured(model, {n: streams[n] for n in levels}) as features, _branch_outputs(paths) as branches:
            out = model.stage_maps(leaf) if output_stage else model(leaf)  # type: ignore[operator]
        maps = {**{name: out[name] for name in model.stage_names}, **features}  # type: ignore[attr-defined]
        final = final_scores(out, output_stage, geometry, y, x)
        class_index = _predicted_class(final) if class_index is None else class_index
        if paths:
            shares.update(_shares(paths, branches, final[class_index if len(final) > 1 else 0]))
        found = {}
        for name in names:
            if name == FINAL:
                units[name], scores = (y, x), final
            elif name in maps:
                h, w = maps[name].shape[-2:]
                units[name] = (geometry[name].nearest_unit(y, h), geometry[name].nearest_unit(x, w))
                scores = maps[name][0, :, units[name][0], units[name][1]]
            else:
                raise ValueError(f"unknown stage {name!r}; expected one of {', '.join([*maps, FINAL])}")
            found[name] = scores.sum() if name in features else scores[class_index if len(scores) > 1 else 0]
        return found

    values = input_gradients(model, inputs, logits)
    assert class_index is not None  # set by the forward pass
    return {name: EffectiveRF(name, class_index, units[name], values[name]) for name in names}, shares


def final_scores(
    out: dict[str, Tensor], output_stage: str | None, geometry: dict[str, StageGeometry], y: int, x: int
) -> Tensor:
    """``(C,)`` final scores at pixel ``(y, x)``: ``out["out"]`` there, or for a model whose output is
    a coarse stage (``output_stage``) that stage read bilinearly as the viewer aligns it
    (:func:`~fcnviewer.core.alignment.aligned_scores_at`), so no full-size map is made."""
    if output_stage is None:
        return out["out"][0, :, y, x]
    return aligned_scores_at(out[output_stage][0], geometry[output_stage], y, x)


def _predicted_class(scores: Tensor) -> int:
    """The class shown for ``(C,)`` logits: the argmax, or for a sigmoid head's one logit, 1 if positive."""
    return int(scores.argmax()) if len(scores) > 1 else int(scores[0] > 0)


@contextmanager
def _captured(model: nn.Module, levels: dict[str, Stream]) -> Iterator[dict[str, Tensor]]:
    """Inside the block, the output of the last module of each level's stream, by level name."""
    found: dict[str, Tensor] = {}
    hooks = []
    for name, stream in levels.items():
        last = [op for op in stream.ops if isinstance(op, nn.Module)][-1]
        hooks.append(last.register_forward_hook(lambda _m, _i, o, n=name: found.__setitem__(n, o)))
    try:
        yield found
    finally:
        for hook in hooks:
            hook.remove()


@contextmanager
def _branch_outputs(paths: Sequence[SkipPath]) -> Iterator[list[list[Tensor]]]:
    """Inside the block, every output of each path's last module, by path (a module may run twice)."""
    found: list[list[Tensor]] = [[] for _ in paths]
    hooks = [
        path.last.register_forward_hook(lambda _m, _i, o, outputs=outputs: outputs.append(o))
        for path, outputs in zip(paths, found, strict=True)
    ]
    try:
        yield found
    finally:
        for hook in hooks:
            hook.remove()


def _shares(paths: Sequence[SkipPath], outputs: list[list[Tensor]], logit: Tensor) -> dict[str, float]:
    """Each path's share of ``logit``, a bias-free linear function of the paths' ``outputs``: the
    product of its outputs with the logit's gradient there (the graph is kept)."""
    flat = [o for found in outputs for o in found]
    grads = torch.autograd.grad(logit, flat, retain_graph=True, allow_unused=True)
    products = iter([float((g * o.detach()).sum()) if g is not None else 0.0 for o, g in zip(flat, grads, strict=True)])
    shares = {path.name: 0.0 for path in paths}
    for path, found in zip(paths, outputs, strict=True):
        shares[path.name] += sum(next(products) for _ in found)
    return shares


def effective_receptive_field(
    model: nn.Module, inputs: Tensor, y: int, x: int, stage: str = FINAL, class_index: int | None = None
) -> EffectiveRF:
    """:func:`effective_receptive_fields` for one stage (``"final"`` by default)."""
    return effective_receptive_fields(model, inputs, y, x, (stage,), class_index)[stage]


# ----------------------------------------------------------------------------- branches


def branch_contributions(
    model: nn.Module, inputs: Tensor, y: int, x: int, class_index: int | None = None
) -> dict[str, float]:
    """Each skip branch's share of the final logit at pixel ``(y, x)``; the shares sum to it.

    Everything after the skip sums is linear (bias-free transposed convolutions, crops,
    sums), so the logit splits exactly into the branches pushed through it alone: the share of
    a branch is the product of its last module's output with the logit's gradient there (one
    forward pass, and a backward pass through the layers after the branches). Keys:
    ``"stride32"`` (the main chain, named by its stride), then the layer each skip taps
    (``"pool4"``, ``"pool3"``). The class is ``class_index``, else the prediction at ``(y, x)``.
    Note the at-once FCN-8s scales the pool4 / pool3 inputs by 0.01 / 0.0001 inside these branches.
    A branch the model names (LRASPP's ``"low"`` and ``"high"`` classifiers, whose sum is resized
    to the output, a linear map) goes by its name. Networks whose output is not such a sum
    (DeepLabV3's concatenated ASPP, U-Net's concatenated skips) raise ``ValueError``.
    """
    return pixel_fields(model, inputs, y, x, stages=(), class_index=class_index, paths=skip_paths(model))[1]
