"""The worker requests and results of a labelled dataset (see :mod:`fcnviewer.viewer.protocol`).

- :class:`ListDatasetRequest` (files thread): the dataset's entries.
- :class:`ScoreImageRequest` (network worker, after every other kind): one step of the walk,
  one image predicted and scored against its mask. Stamped with its walk, so that a step of a
  walk restarted or of another dataset is dropped; it does not depend on the image shown.
- :class:`CompareRequest` (network worker, right after the prediction): the shown image's
  prediction against its mask, coloured into a :class:`~fcnviewer.viewer.truth.GroundTruth`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fcnviewer.viewer.protocol import Request

if TYPE_CHECKING:
    from fcnviewer.core.datasets import DatasetEntry, DatasetListing
    from fcnviewer.core.prediction import Prediction
    from fcnviewer.core.truth import ImageScores
    from fcnviewer.viewer.truth import GroundTruth


@dataclass(frozen=True, eq=False)
class ListDatasetRequest(Request):
    """List the labelled folder ``path`` (its ``split``; ``None``: the default)."""

    path: Path = Path()
    split: str | None = None


@dataclass(frozen=True, eq=False)
class DatasetListed:
    """The entries of a request's folder."""

    request: ListDatasetRequest
    listing: DatasetListing


@dataclass(frozen=True, eq=False)
class ScoreImageRequest(Request):
    """Predict entry ``index`` (``entry``) of walk number ``walk`` and score it against its mask."""

    entry: DatasetEntry | None = None
    index: int = 0
    walk: int = 0
    depends_on: ClassVar[tuple[str, ...]] = ("model",)


@dataclass(frozen=True, eq=False)
class ImageScored:
    """A walk step's scores, or ``None`` and why the image was not scored (``note``: "no mask", a bad mask)."""

    request: ScoreImageRequest
    scores: ImageScores | None
    note: str = ""


@dataclass(frozen=True, eq=False)
class CompareRequest(Request):
    """Compare ``prediction`` (of the shown image) with the mask file ``mask``; colour the truth's
    layers with ``styles`` (``GroundTruth.styles()``) in ``palette`` (the model's classes), the true
    classes named ``class_names``."""

    prediction: Prediction | None = None
    mask: Path | None = None
    class_names: tuple[str, ...] = ()
    palette: np.ndarray | None = None
    styles: Mapping[str, tuple[Any, ...]] | None = None
    depends_on: ClassVar[tuple[str, ...]] = ("image", "model")


@dataclass(frozen=True, eq=False)
class Compared:
    """The shown image's truth and its layers, or ``None`` and why it cannot be compared."""

    request: CompareRequest
    truth: GroundTruth | None
    note: str = ""
