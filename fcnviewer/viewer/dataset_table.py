"""A labelled dataset's scores as the walk fills them in (plain Python, no Qt): one row per image,
and the summed confusion matrices of the final output and each stage.

The summary's numbers come from :func:`fcnviewer.core.training.metrics.scores` (imported when
first asked, once the worker has loaded the network stack), so they are ``eval``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fcnviewer.core.datasets import DatasetEntry, DatasetListing
    from fcnviewer.core.truth import ImageScores

#: A row's note while its image waits for the walk.
WAITING = ""


@dataclass
class ImageRow:
    """One image: its entry, its scores once walked (``None`` before, or when not scored) and a note
    ("no mask", why its mask cannot be compared, why it could not be read)."""

    entry: DatasetEntry
    scores: ImageScores | None = None
    note: str = WAITING
    walked: bool = False

    def value(self, what: str, stage: str) -> float:
        """``mean_iu`` or ``pixel_acc`` of ``stage`` (``"final"`` or a stage name); ``nan`` when none."""
        if self.scores is None:
            return math.nan
        return getattr(self.scores, what).get(stage, math.nan)


@dataclass(frozen=True)
class DatasetSummary:
    """Scores over the images walked: per stage (``"final"`` first) the class IU list and mean IU,
    the summed confusion matrices, and how many images were scored of how many listed."""

    class_iu: dict[str, list[float]]
    mean_iu: dict[str, float]
    confusion: dict[str, np.ndarray]
    scored: int
    total: int


class DatasetTable:
    """The rows of a listing and the running totals of the rows scored."""

    def __init__(self, listing: DatasetListing | None = None) -> None:
        self.listing = listing
        self.rows = [ImageRow(entry) for entry in listing.entries] if listing is not None else []
        self._confusion: dict[str, np.ndarray] = {}  # "final", then the stages, once a row is scored

    def __len__(self) -> int:
        return len(self.rows)

    def reset(self) -> None:
        """Forget every score (a new model walks again)."""
        self.rows = [ImageRow(row.entry) for row in self.rows]
        self._confusion = {}

    def set_row(self, index: int, scores: ImageScores | None, note: str = "") -> None:
        """Row ``index`` walked: its scores (added to the totals) or why it has none."""
        row = self.rows[index]
        if row.scores is not None:
            return  # walked already (a resumed walk may send one twice)
        row.scores, row.note, row.walked = scores, note, True
        if scores is None:
            return
        for stage, matrix in scores.confusion.items():
            if stage in self._confusion:
                self._confusion[stage] = self._confusion[stage] + matrix
            else:
                self._confusion[stage] = matrix.copy()

    @property
    def stages(self) -> tuple[str, ...]:
        """``"final"``, then the stages, once a row is scored (none before)."""
        return tuple(self._confusion)

    def next_to_walk(self, start: int = 0) -> int | None:
        """The first row from ``start`` on (then from the top) not walked yet, or ``None``."""
        order = [*range(start, len(self.rows)), *range(0, start)]
        return next((i for i in order if not self.rows[i].walked), None)

    @property
    def walked(self) -> int:
        """How many rows were walked (scored or not)."""
        return sum(row.walked for row in self.rows)

    def index_of(self, image: Any) -> int | None:
        """The row of image file ``image``, if it is one of the listing's."""
        return next((i for i, row in enumerate(self.rows) if row.entry.image == image), None)

    def summary(self) -> DatasetSummary:
        """Scores of the summed confusion matrices."""
        from fcnviewer.core.training.metrics import scores

        found = {stage: scores(matrix) for stage, matrix in self._confusion.items()}
        return DatasetSummary(
            class_iu={stage: s["class_iu"] for stage, s in found.items()},
            mean_iu={stage: s["mean_iu"] for stage, s in found.items()},
            confusion={stage: matrix.copy() for stage, matrix in self._confusion.items()},
            scored=sum(row.scores is not None for row in self.rows),
            total=len(self.rows),
        )
