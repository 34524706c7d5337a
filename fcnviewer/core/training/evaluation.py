"""The paper's metrics of a network over a dataset, for its output and each stage map."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from fcnviewer.core.alignment import upsample_to_image
from fcnviewer.core.distributed import Context
from fcnviewer.core.preprocessing import Preprocessing
from fcnviewer.core.receptive import stage_geometry
from fcnviewer.core.training.metrics import ConfusionMatrix

if TYPE_CHECKING:
    from fcnviewer.core.inference import Predictor

#: An image ``(H, W, 3)`` uint8 -> its predicted labels ``(H, W)`` (array or tensor), under
#: ``"final"`` for the output and under each stage map's name.
Labeller = Callable[[np.ndarray], dict[str, Any]]


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
    per_image: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` over ``dataset`` (items ``(image uint8 (H, W, 3), labels (H, W))``).

    Returns ``{"final": scores, "stages": {name: scores}, "confusion": {"final": matrix,
    name: matrix}, "skipped": [...]}`` (see :func:`evaluate_labels`) where ``scores`` are
    :func:`fcnviewer.core.training.metrics.scores` of the final output and of each stage map,
    upsampled onto the image's pixels with :func:`fcnviewer.core.alignment.upsample_to_image` at
    its geometry from
    :func:`fcnviewer.core.receptive.stage_geometry`, then arg-maxed. Each score is of one
    confusion matrix accumulated over the whole set, as in the paper.

    With ``per_image`` the result also holds ``"images"``: for each item, in the dataset's
    order, ``{"index": i, "final": {"mean_iu", "pixel_acc"}, "stages": {name: {...}}}`` from
    that image's own confusion matrices (classes absent from its labels and its prediction
    left out of its mean).

    With a distributed ``context`` each process takes its :meth:`~fcnviewer.core.distributed.Context.shard`
    of the images, the confusion matrices are summed over the processes (integers: the
    scores are exactly one process's) and every process gets every image's entry;
    ``progress`` then counts this process's share.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval().to(device)
    names = tuple(getattr(model, "stage_names", ())) if stages else ()
    geometry: dict[str, Any] = {}
    if names:
        geometry = stage_geometry(model)
        names = tuple(n for n in names if n in geometry)

    def label(image: np.ndarray) -> dict[str, Any]:
        outputs = model(preprocessing.to_tensor(image, device))
        height, width = image.shape[:2]
        labels = {"final": outputs["out"][0].argmax(0)}
        for name in names:
            labels[name] = upsample_to_image(outputs[name][0].float(), geometry[name], height, width).argmax(0)
        return labels

    try:
        return evaluate_labels(
            label, dataset, num_classes or int(model.num_classes), names, progress, context, per_image
        )
    finally:
        model.train(was_training)


@torch.inference_mode()
def evaluate_predictor(
    predictor: Predictor,
    dataset: Any,
    *,
    progress: bool = False,
    context: Context | None = None,
    per_image: bool = False,
) -> dict[str, Any]:
    """:func:`evaluate` with the labels that ``predictor`` gives (its ``labels`` and each stage
    map's), so the scores are those of the masks ``fcnviewer predict`` writes with the same
    predictor settings, pixel for pixel."""

    def label(image: np.ndarray) -> dict[str, Any]:
        return predictor.predict(image).labels_by_stage()

    names = tuple(predictor.model.stage_names)
    return evaluate_labels(label, dataset, predictor.info.spec.num_classes, names, progress, context, per_image)


def evaluate_labels(
    label: Labeller,
    dataset: Any,
    num_classes: int,
    names: tuple[str, ...],
    progress: bool = False,
    context: Context | None = None,
    per_image: bool = False,
) -> dict[str, Any]:
    """The result of :func:`evaluate` for the labels ``label`` gives each image of ``dataset``
    (its output's under ``"final"``, each stage map's under its name in ``names``).

    An item whose labels are a sentence instead (why its mask cannot be compared) is left out and
    listed under ``"skipped"`` as ``{"index": i, "reason": sentence}``, in the dataset's order."""
    from fcnviewer.core.truth import image_scores  # core.truth imports this package (its metrics)

    context = context or Context()
    matrices = {key: ConfusionMatrix(num_classes) for key in ("final", *names)}
    images: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for i in _indices(context.shard(range(len(dataset))), progress):
        image, labels = dataset[i]
        if isinstance(labels, str):
            skipped.append({"index": i, "reason": labels})
            continue
        own = image_scores(label(np.asarray(image)), labels, num_classes)
        for key, matrix in matrices.items():
            matrix.matrix += own.confusion[key]
        if per_image:
            images.append({"index": i, "final": own.brief("final"), "stages": {n: own.brief(n) for n in names}})
    for matrix in matrices.values():
        matrix.matrix = context.all_reduce_sum(torch.from_numpy(matrix.matrix)).numpy()
    result = {
        "final": matrices["final"].scores(),
        "stages": {n: matrices[n].scores() for n in names},
        "confusion": {k: m.matrix.copy() for k, m in matrices.items()},
        "skipped": _gathered(context, skipped),
    }
    if per_image:
        result["images"] = _gathered(context, images)
    return result


def _gathered(context: Context, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every process's ``entries``, in the dataset's order."""
    return sorted(itertools.chain(*context.gather(entries)), key=lambda entry: entry["index"])


def _indices(share: list[int], progress: bool) -> Iterator[int]:
    """The image indices to evaluate, behind a tqdm bar on stderr with ``progress``."""
    if not progress:
        return iter(share)
    from tqdm import tqdm

    return iter(tqdm(share, desc="eval", unit="img", dynamic_ncols=True, file=sys.stderr))
