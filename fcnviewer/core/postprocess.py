"""From a network's score maps to labels, confidence and entropy, in bands of image rows.

Full-size scores are ``classes x H x W`` floats: 21 classes cost little, a convolutionalised
ImageNet classifier's 1000 cost 4 kB a pixel (540 MB for a 451x300 photo). Every function here
reads its scores one band of rows at a time, from a callable ``band(top, rows)`` returning the
``(C, rows, W)`` scores of image rows ``top .. top + rows``: a slice of the network's ``"out"``,
or, for a model whose output IS a coarse stage aligned to the image (``output_stage``), that
stage upsampled band by band (:func:`stage_band`), so that no full-size map is ever held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor

from fcnviewer.core.alignment import StageGeometry, upsample_to_image

#: Most rows per band (the full-size path's historic band).
BAND_ROWS = 256
#: Bytes of float32 scores one band may hold.
BAND_BYTES = 32 * 1024**2

#: ``band(top, rows)``: the ``(C, rows, W)`` scores of image rows ``top .. top + rows``.
Band = Callable[[int, int], Tensor]


def band_rows(classes: int, width: int) -> int:
    """Rows per band: at most :data:`BAND_ROWS`, and ``classes x width x 4`` bytes a row within :data:`BAND_BYTES`."""
    return max(1, min(BAND_ROWS, BAND_BYTES // max(1, classes * width * 4)))


def bands(height: int, rows: int) -> list[tuple[int, int]]:
    """``(top, rows)`` of consecutive bands covering ``height`` rows."""
    return [(top, min(rows, height - top)) for top in range(0, height, rows)]


def shown(scores: Tensor) -> Tensor:
    """:func:`~fcnviewer.core.pixels.shown_scores` of a tensor: a sigmoid head's ``z`` as ``(0, z)``."""
    return torch.cat([torch.zeros_like(scores), scores]) if scores.shape[0] == 1 else scores


def stage_band(scores: Tensor, geometry: StageGeometry, width: int) -> Band:
    """Bands of a ``(C, h, w)`` stage map aligned to an image ``width`` pixels wide."""
    return lambda top, rows: upsample_to_image(scores, geometry, rows, width, top=top)


def labels_dtype(classes: int) -> torch.dtype:
    """The dtype of a label map of ``classes`` classes: uint8, int16 past 256."""
    return torch.uint8 if classes <= 256 else torch.int16


def labels_and_confidence(
    band: Band, classes: int, height: int, width: int, rows_per_band: int | None = None
) -> tuple[Tensor, Tensor]:
    """The top class per pixel and its softmax probability ``exp(max - logsumexp)``, in bands of
    ``rows_per_band`` rows (default :func:`band_rows`).

    ``max`` gives values and indices in one pass (``argmax`` over a leading axis is several times
    slower on the CPU); the ``logsumexp`` is fused. Labels are uint8, int16 past 256 classes.
    """
    dtype = labels_dtype(classes)
    labels = confidence = None
    for top, rows in bands(height, rows_per_band or band_rows(classes, width)):
        scores = shown(band(top, rows))
        if labels is None:
            labels = torch.empty((height, width), dtype=dtype, device=scores.device)
            confidence = torch.empty((height, width), dtype=torch.float32, device=scores.device)
        best, index = scores.max(0)
        labels[top : top + rows] = index
        confidence[top : top + rows] = torch.exp(best - torch.logsumexp(scores, 0))  # type: ignore[index]
    return labels, confidence  # type: ignore[return-value]


def top_labels(band: Band, classes: int, height: int, width: int) -> Tensor:
    """The top class per pixel (int64), band by band."""
    rows = band_rows(classes, width)
    return torch.cat([shown(band(top, n)).max(0).indices for top, n in bands(height, rows)])


def entropy(band: Band, classes: int, height: int, width: int) -> np.ndarray:
    """Entropy of the class distribution in nats, ``(H, W)`` float32, band by band."""
    out = np.empty((height, width), dtype=np.float32)
    for top, rows in bands(height, band_rows(classes, width)):
        logp = torch.log_softmax(shown(band(top, rows)), dim=0)
        out[top : top + rows] = (-(logp.exp() * logp).sum(0)).cpu().numpy()
    return out


def finish(
    outputs: Mapping[str, Tensor],
    geometry: Mapping[str, StageGeometry],
    stage_names: tuple[str, ...],
    output_stage: str | None,
    height: int,
    width: int,
) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """Labels, confidence and each stage's labels, as tensors on the outputs' device.

    The final scores are ``outputs["out"]``, or with ``output_stage`` that stage aligned to the
    image band by band: a classifier's full-size scores are never made.
    """
    final_map = outputs["out" if output_stage is None else output_stage][0]
    if output_stage is None:  # already full size: fixed bands, the same floats whatever the width
        final: Band = lambda top, rows: final_map[:, top : top + rows]  # noqa: E731
        rows_per_band: int | None = BAND_ROWS
    else:
        final, rows_per_band = stage_band(final_map, geometry[output_stage], width), None
    labels, confidence = labels_and_confidence(final, final_map.shape[0], height, width, rows_per_band)
    stage_labels = {}
    for name in stage_names:
        scores = outputs[name][0]
        if name == output_stage:
            stage_labels[name] = labels
        else:
            band = stage_band(scores, geometry[name], width)
            stage_labels[name] = top_labels(band, scores.shape[0], height, width).to(labels.dtype)
    return labels, confidence, stage_labels
