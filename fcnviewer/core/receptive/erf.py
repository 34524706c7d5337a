"""Gradients behind a pixel: effective receptive fields, and each skip branch's share of a logit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from fcnviewer.core.alignment import StageGeometry
from fcnviewer.core.models.graph import Stream
from fcnviewer.core.receptive.paths import isolating, skip_paths
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
    levels = level_names(model)
    names = list(stages) if stages is not None else [*model.stage_names, *levels, FINAL]  # type: ignore[attr-defined]
    geometry = stage_geometry(model)
    streams = named_streams(model)
    for name in levels:
        _, stride, offset = stream_rf(streams[name])
        geometry[name] = StageGeometry(float(stride), offset)
    leaf = inputs.detach().clone().requires_grad_(True)
    output_stage = getattr(model, "output_stage", None)
    with evaluating(model), torch.enable_grad(), _captured(model, {n: streams[n] for n in levels}) as features:
        out = model.stage_maps(leaf) if output_stage else model(leaf)  # type: ignore[operator]
        maps = {**{name: out[name] for name in model.stage_names}, **features}  # type: ignore[attr-defined]
        final = _final_scores(out, output_stage, geometry, y, x)
        c = _predicted_class(final) if class_index is None else class_index
        fields = {}
        for i, name in enumerate(names):
            if name == FINAL:
                unit, scores = (y, x), final
            elif name in maps:
                h, w = maps[name].shape[-2:]
                unit = (geometry[name].nearest_unit(y, h), geometry[name].nearest_unit(x, w))
                scores = maps[name][0, :, unit[0], unit[1]]
            else:
                raise ValueError(f"unknown stage {name!r}; expected one of {', '.join([*maps, FINAL])}")
            logit = scores.sum() if name in features else scores[c if len(scores) > 1 else 0]
            (grad,) = torch.autograd.grad(logit, leaf, retain_graph=i < len(names) - 1)
            values = grad[0].abs().sum(0).detach().to("cpu", torch.float32).numpy()
            fields[name] = EffectiveRF(name, c, unit, values)
    return fields


def _final_scores(
    out: dict[str, Tensor], output_stage: str | None, geometry: dict[str, StageGeometry], y: int, x: int
) -> Tensor:
    """``(C,)`` final scores at pixel ``(y, x)``: ``out["out"]`` there, or for a model whose output is
    a coarse stage (``output_stage``) that stage read bilinearly as the viewer aligns it
    (:func:`~fcnviewer.core.alignment.aligned_scores_at`), so no full-size map is made."""
    if output_stage is None:
        return out["out"][0, :, y, x]
    scores, stage = out[output_stage][0], geometry[output_stage]
    (y0, y1, wy), (x0, x1, wx) = (
        (int(lo[0]), int(hi[0]), float(w[0]))
        for lo, hi, w in (stage.source_indices(np.array([p]), n) for p, n in zip((y, x), scores.shape[1:], strict=True))
    )
    top = scores[:, y0, x0] * (1 - wx) + scores[:, y0, x1] * wx
    bottom = scores[:, y1, x0] * (1 - wx) + scores[:, y1, x1] * wx
    return top * (1 - wy) + bottom * wy


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
    sums), so the logit splits exactly into the branches pushed through it alone. One
    forward pass of a batch with one copy of ``inputs`` per branch computes them: in copy
    ``i`` the last module of every other branch outputs zeros. Keys: ``"stride32"`` (the
    main chain, named by its stride), then the layer each skip taps (``"pool4"``,
    ``"pool3"``). The class is ``class_index``, else the prediction at ``(y, x)``.
    Note the at-once FCN-8s scales the pool4 / pool3 inputs by 0.01 / 0.0001 inside these branches.
    A branch the model names (LRASPP's ``"low"`` and ``"high"`` classifiers, whose sum is resized
    to the output, a linear map) goes by its name. Networks whose output is not such a sum
    (DeepLabV3's concatenated ASPP, U-Net's concatenated skips) raise ``ValueError``.
    """
    paths = skip_paths(model)
    batch = inputs.expand(len(paths), -1, -1, -1)
    with isolating(paths, batch), evaluating(model), torch.no_grad():
        out = model(batch)["out"][:, :, y, x]
    c = _predicted_class(out.sum(0)) if class_index is None else class_index
    c = c if out.shape[1] > 1 else 0
    return {path.name: float(value) for path, value in zip(paths, out[:, c], strict=True)}
