"""The paper's metrics of a network over a dataset, for its output and each stage map."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from fcnviewer.core.alignment import upsample_to_image
from fcnviewer.core.distributed import Context
from fcnviewer.core.preprocessing import Preprocessing
from fcnviewer.core.receptive import stage_geometry
from fcnviewer.core.training.metrics import ConfusionMatrix


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    dataset: Any,
    preprocessing: Preprocessing,
    device: torch.device | str = "cpu",
    *,
    num_classes: int | None = None,
    stages: bool = True,
    progress: bool = False,
    context: Context | None = None,
) -> dict[str, Any]:
    """Metrics of ``model`` over ``dataset`` (items ``(image uint8 (H, W, 3), labels (H, W))``).

    Returns ``{"final": scores, "stages": {name: scores}, "confusion": {"final": matrix,
    name: matrix}}`` where ``scores`` are :func:`fcnviewer.core.training.metrics.scores` of the
    final output and of each stage map, upsampled onto the image's pixels with
    :func:`fcnviewer.core.alignment.upsample_to_image` at its geometry from
    :func:`fcnviewer.core.receptive.stage_geometry`, then arg-maxed.

    With a distributed ``context`` each process takes its :meth:`~fcnviewer.core.distributed.Context.shard`
    of the images and the confusion matrices are summed over the processes (integers: the
    scores are exactly one process's); ``progress`` then counts this process's share.
    """
    context = context or Context()
    device = torch.device(device)
    was_training = model.training
    model.eval().to(device)
    num_classes = num_classes or int(model.num_classes)
    names = tuple(getattr(model, "stage_names", ())) if stages else ()
    geometry: dict[str, Any] = {}
    if names:
        geometry = stage_geometry(model)
        names = tuple(n for n in names if n in geometry)
    matrices = {"final": ConfusionMatrix(num_classes), **{n: ConfusionMatrix(num_classes) for n in names}}
    try:
        for i in _indices(context.shard(range(len(dataset))), progress):
            image, labels = dataset[i]
            x = preprocessing.to_tensor(np.asarray(image), device)
            y = torch.from_numpy(np.asarray(labels).astype(np.int64)).to(device)
            outputs = model(x)
            height, width = y.shape
            matrices["final"].update(y, outputs["out"][0].argmax(0))
            for name in names:
                scores_up = upsample_to_image(outputs[name][0].float(), geometry[name], height, width)
                matrices[name].update(y, scores_up.argmax(0))
    finally:
        model.train(was_training)
    for matrix in matrices.values():
        matrix.matrix = context.all_reduce_sum(torch.from_numpy(matrix.matrix)).numpy()
    return {
        "final": matrices["final"].scores(),
        "stages": {n: matrices[n].scores() for n in names},
        "confusion": {k: m.matrix.copy() for k, m in matrices.items()},
    }


def _indices(share: list[int], progress: bool) -> Iterator[int]:
    """The image indices to evaluate, behind a tqdm bar on stderr with ``progress``."""
    if not progress:
        return iter(share)
    from tqdm import tqdm

    return iter(tqdm(share, desc="eval", unit="img", dynamic_ncols=True, file=sys.stderr))
