"""The worker jobs of a labelled dataset: list it (files thread), score one image of the walk and
compare the shown image with its truth (network worker). Registered in ``fcnviewer.qt.worker``;
the metrics (and with them torch) are imported here, on the worker threads, never by the GUI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcnviewer.viewer import dataset_protocol as protocol
from fcnviewer.viewer.truth import GroundTruth

if TYPE_CHECKING:
    from fcnviewer.qt.worker import ImageReader, Worker


def list_dataset(reader: ImageReader, request: protocol.ListDatasetRequest) -> protocol.DatasetListed:
    """The folder's entries (a folder in neither layout raises its ``DatasetError``)."""
    from fcnviewer.core.datasets import list_dataset as listing

    return protocol.DatasetListed(request, listing(request.path, request.split))


def score_image(worker: Worker, request: protocol.ScoreImageRequest) -> protocol.ImageScored:
    """Read the entry's image and mask, predict (unless the window just did: the image shown), and score
    the final output and every stage."""
    from fcnviewer.core.images import load_image
    from fcnviewer.core.truth import entry_truth, image_scores

    predictor = worker.loaded_predictor()
    entry = request.entry
    assert entry is not None
    image = load_image(entry.image, **worker.limit)
    num_classes = len(predictor.info.class_names)
    truth, note = entry_truth(entry, image.shape[:2], num_classes)
    if truth is None:
        return protocol.ImageScored(request, None, note)
    prediction = worker.recent.predict(predictor, image, lambda _done, _total: worker.check_abort())
    worker.check_abort()
    return protocol.ImageScored(request, image_scores(prediction.labels_by_stage(), truth, num_classes))


def compare(worker: Worker, request: protocol.CompareRequest) -> protocol.Compared:
    """The shown prediction against its mask, with the truth's layers coloured here."""
    from fcnviewer.core.training.metrics import fast_hist, scores
    from fcnviewer.core.truth import read_truth

    prediction, mask = request.prediction, request.mask
    assert prediction is not None and mask is not None and request.palette is not None
    num_classes = len(request.palette)  # the model's classes (the names may be the dataset's)
    truth, note = read_truth(mask, prediction.size, num_classes)
    if truth is None:
        return protocol.Compared(request, None, note)
    shown = GroundTruth()
    ius = scores(fast_hist(truth, prediction.labels, num_classes))["class_iu"]
    shown.show(truth, prediction, request.palette, request.class_names, ius, styles=dict(request.styles or {}))
    return protocol.Compared(request, shown)
