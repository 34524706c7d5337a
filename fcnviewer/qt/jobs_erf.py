"""The worker's receptive-field jobs: a clicked pixel's and a dragged region's effective receptive
fields (smoothed, averaged over images, with their readouts), and shift-and-stitch.

Each job checks the worker's abort flag after every gradient pass or forward pass, and reports
its progress as the request's ``progress``. A probe also stops there once a newer click or region
waits (its result would be dropped: the probe generation moved on), so SmoothGrad's many passes
never delay the next click.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fcnviewer.viewer.erf_readout import ErfReadout, erf_readout
from fcnviewer.viewer.protocol import (
    ErfOptions,
    Probed,
    ProbeRequest,
    RegionProbed,
    RegionProbeRequest,
    Request,
    Stitched,
    StitchRequest,
)

if TYPE_CHECKING:
    from fcnviewer.core.probing import Probe
    from fcnviewer.core.receptive import Smoothing
    from fcnviewer.qt.worker import Worker

BoxTuple = tuple[int, int, int, int]


class Superseded(Exception):
    """A newer click or region waits: this probe's result would be dropped."""


def _superseded(worker: Worker, request: Request) -> bool:
    """Whether a probe of a later probe generation than ``request``'s waits."""
    probes = (ProbeRequest, RegionProbeRequest)
    return any(isinstance(r, probes) and r.probe_generation > request.probe_generation for r in worker.pending())


def _progress(worker: Worker, request: Request):
    def progress(done: int, total: int) -> None:
        worker.check_abort()
        if isinstance(request, ProbeRequest | RegionProbeRequest) and _superseded(worker, request):
            raise Superseded(f"stopped after {done} of {total} passes: a newer click or region came")
        worker.progress.emit(request, done, total)

    return progress


def _smoothing(options: ErfOptions) -> Smoothing:
    from fcnviewer.core.receptive import Smoothing

    return Smoothing(options.copies, options.noise, options.seed)


def _same_size(worker: Worker, paths: tuple[Path, ...], size: tuple[int, int]) -> list[np.ndarray]:
    """The images of ``paths`` of ``size`` (rows, columns); unreadable ones and others are skipped."""
    from fcnviewer.core.images import ImageError, load_image

    found = []
    for path in paths:
        worker.check_abort()
        try:
            image = load_image(path, **worker.limit)
        except (ImageError, OSError):
            continue
        if image.shape[:2] == size:
            found.append(image)
    return found


def _readouts(worker: Worker, request: Request, found: Probe, boxes: Mapping[str, BoxTuple]) -> dict[str, ErfReadout]:
    """The readout of each field; none when a newer click or region waits (the GUI drops this result:
    a burst of clicks then costs no blurring and sorting for the clicks in between)."""
    if _superseded(worker, request):
        return {}
    return {stage: erf_readout(values, found.origin, boxes.get(stage)) for stage, values in found.fields.items()}


def probe(worker: Worker, request: ProbeRequest) -> Probed:
    """Effective receptive fields (averaged as the request says) and branch contributions of the
    request's pixel, with the fields' readouts."""
    predictor = worker.loaded_predictor()
    others = _same_size(worker, request.erf.images, request.image.shape[:2])
    found = predictor.probe(
        request.image,
        request.y,
        request.x,
        class_index=request.class_index,
        between=worker.check_abort,
        boxes=request.boxes or None,
        smoothing=_smoothing(request.erf),
        others=others,
        progress=_progress(worker, request),
    )
    boxes = dict(zip(request.stages, request.boxes, strict=False))
    return Probed(request, found, _readouts(worker, request, found, boxes), 1 + len(others))


def probe_region(worker: Worker, request: RegionProbeRequest) -> RegionProbed:
    """Effective receptive fields of the request's region (averaged as it says), with readouts."""
    from fcnviewer.core.probing import probe_region as probe_it
    from fcnviewer.core.receptive import Box

    predictor = worker.loaded_predictor()
    others = _same_size(worker, request.erf.images, request.image.shape[:2])
    found = probe_it(
        predictor,
        request.image,
        Box(*request.region),
        request.class_index,
        boxes=list(request.boxes.values()) or None,
        smoothing=_smoothing(request.erf),
        others=others,
        progress=_progress(worker, request),
    )
    return RegionProbed(request, found, _readouts(worker, request, found, request.boxes), 1 + len(others))


def stitch(worker: Worker, request: StitchRequest) -> Stitched:
    """The request's stage by shift-and-stitch, and its labels aligned to the image."""
    import torch

    from fcnviewer.core import postprocess
    from fcnviewer.core.alignment import StageGeometry
    from fcnviewer.core.shift_stitch import shift_and_stitch

    predictor = worker.loaded_predictor()
    inputs = predictor.info.preprocessing.to_tensor(request.image, predictor.device)
    found = shift_and_stitch(
        predictor.model, inputs, request.factor, request.stage, progress=_progress(worker, request)
    )
    geometry = StageGeometry(found.stride, found.offset)
    height, width = request.image.shape[:2]
    classes = found.scores.shape[0]  # band by band: a classifier's 1000 classes never at full size
    band = postprocess.stage_band(torch.from_numpy(found.scores), geometry, width)
    labels = postprocess.top_labels(band, classes, height, width).to(postprocess.labels_dtype(classes))
    return Stitched(request, found.scores, geometry, labels.numpy())
