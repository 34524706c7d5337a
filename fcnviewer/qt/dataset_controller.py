"""A labelled dataset in the window: its listing, the walk that scores every image, and the truth of
the image shown. A collaborator of the :class:`~fcnviewer.qt.controller.Controller`, whose threads,
generations and image opening it uses.

The walk is one :class:`ScoreImageRequest` at a time on the network worker, which runs it after
every other kind: the next step is sent when the last one's result arrives, so a row opened or a
pixel clicked meanwhile waits for one image at most. Cancel stops sending; a new dataset or
model starts a new walk, and a step of an earlier one is dropped (its ``walk`` stamp, or its
model generation).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from fcnviewer.qt.controller import Controller
from fcnviewer.viewer.dataset_protocol import (
    Compared,
    CompareRequest,
    DatasetListed,
    ImageScored,
    ListDatasetRequest,
    ScoreImageRequest,
)
from fcnviewer.viewer.dataset_table import DatasetTable
from fcnviewer.viewer.truth import GroundTruth, shown_class_names

#: Shortest time (ms) between two summaries sent while the walk runs (each redraws a table and a picture).
SUMMARY_INTERVAL_MS = 300


class DatasetController(QObject):
    """The open dataset, its walk and the shown image's truth.

    Signals: ``listing_changed`` (a dataset was opened; its rows are empty), ``row_changed(index)``,
    ``walk_changed(done, total, walking)``, ``summary_changed(summary)`` (throttled) and
    ``truth_changed`` (the shown image's truth came, or went).
    """

    listing_changed = Signal()
    row_changed = Signal(int)
    walk_changed = Signal(int, int, bool)
    summary_changed = Signal(object)
    truth_changed = Signal()

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.table = DatasetTable()
        self.truth = GroundTruth()
        self.walk = 0
        self.walking = False
        self._position = 0  # where the walk goes on (after a row opened, from there)
        self._in_flight = False
        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(SUMMARY_INTERVAL_MS)
        self._summary_timer.timeout.connect(self._send_summary)
        controller.handle(DatasetListed, ListDatasetRequest, self._on_listed, self._on_list_failed)
        controller.handle(ImageScored, ScoreImageRequest, self._on_scored, self._on_score_failed)
        controller.handle(Compared, CompareRequest, self._on_compared, self._on_compare_failed)
        controller.model_loaded.connect(self._on_model_loaded)
        controller.image_shown.connect(self._on_image_shown)
        controller.prediction_shown.connect(self._on_prediction_shown)

    # ------------------------------------------------------------------ opening

    def open(self, path: str | Path, split: str | None = None) -> None:
        """List the labelled folder ``path`` (on the files thread), then show its first image and walk it."""
        request = self.controller.requests.make(ListDatasetRequest, path=Path(path), split=split)
        self.controller.files_thread.worker.submit(request)

    def open_row(self, index: int) -> None:
        """Show image ``index`` of the dataset (and its truth); the walk goes on from there."""
        images = [row.entry.image for row in self.table.rows]
        self._position = index
        self.controller.open_image(images, index)

    def _on_listed(self, result: DatasetListed) -> None:
        listing = result.listing
        self.table = DatasetTable(listing)
        self.walk += 1
        self._in_flight, self._position = False, 0
        self.controller.opened.emit(str(listing.root))
        self.listing_changed.emit()
        self._check_classes()
        self._show_class_names()
        self.open_row(0)
        self.start_walk()

    def _on_list_failed(self, _request: ListDatasetRequest, message: str) -> None:
        self.controller.error.emit(message, True)  # the dataset shown (if any) stays

    def _show_class_names(self) -> None:
        """Name the classes shown as the dataset does where the model only numbers them."""
        listing, loaded = self.table.listing, self.controller.loaded
        if listing is None or loaded is None:
            return
        names = shown_class_names(loaded.info.class_names, listing.class_names)
        if names != self.controller.model.class_names:
            self.controller.model.set_classes(names, loaded.info.palette_array)

    def truth_names(self) -> tuple[str, ...]:
        """The names of the true classes: the dataset's where it gives them, else those shown."""
        listing = self.table.listing
        return listing.class_names if listing and listing.class_names else self.controller.model.class_names

    def _check_classes(self) -> None:
        listing, loaded = self.table.listing, self.controller.loaded
        if listing is None or loaded is None or listing.class_names is None:
            return
        if len(listing.class_names) != len(loaded.info.class_names):
            self.controller.error.emit(
                f"{listing.root} names {len(listing.class_names)} classes but the network predicts "
                f"{len(loaded.info.class_names)}: its masks are compared by label value",
                False,
            )

    # ------------------------------------------------------------------ the walk

    def start_walk(self) -> None:
        """Walk the rows not walked yet (from the last row opened on), one image at a time."""
        self.walking = self.table.listing is not None
        self._step()

    def cancel_walk(self) -> None:
        """Send no more steps (the one running still fills its row)."""
        self.walking = False
        self._emit_walk()

    def _step(self) -> None:
        if not self.walking or self._in_flight or self.controller.loaded is None:
            self._emit_walk()
            return
        index = self.table.next_to_walk(self._position)
        if index is None:
            self.walking = False
        else:
            entry = self.table.rows[index].entry
            self.controller.submit(ScoreImageRequest, entry=entry, index=index, walk=self.walk)
            self._in_flight, self._position = True, index
        self._emit_walk()

    def _emit_walk(self) -> None:
        self.walk_changed.emit(self.table.walked, len(self.table), self.walking)

    def _on_scored(self, result: ImageScored) -> None:
        self._take_step(result.request, lambda: self.table.set_row(result.request.index, result.scores, result.note))

    def _on_score_failed(self, request: ScoreImageRequest, message: str) -> None:
        if self.controller.requests.is_current(request):
            self._take_step(request, lambda: self.table.set_row(request.index, None, message))

    def _take_step(self, request: ScoreImageRequest, fill: Callable[[], None]) -> None:
        if request.walk != self.walk:
            return  # a step of an earlier walk (another dataset)
        self._in_flight = False
        fill()
        self.row_changed.emit(request.index)
        if not self._summary_timer.isActive():
            self._summary_timer.start()
        self._step()

    def _send_summary(self) -> None:
        self.summary_changed.emit(self.table.summary())

    def _on_model_loaded(self) -> None:
        if self.table.listing is None:
            return
        self.walk += 1
        self._in_flight = False
        self.table.reset()
        self.listing_changed.emit()
        self._check_classes()
        self._show_class_names()
        self.start_walk()

    # ------------------------------------------------------------------ the shown image's truth

    def shown_row(self) -> int | None:
        """The dataset row of the image shown, if it is one."""
        return self.table.index_of(self.controller.image_path) if self.controller.image_path else None

    def _on_image_shown(self) -> None:
        if self.table.listing is not None:  # without a dataset there is no truth to clear
            self.truth.clear()
            self.truth_changed.emit()

    def _on_prediction_shown(self) -> None:
        row = self.shown_row()
        loaded, prediction = self.controller.loaded, self.controller.model.prediction
        mask = self.table.rows[row].entry.mask if row is not None else None
        if mask is None or loaded is None or prediction is None:
            return
        self.controller.submit(
            CompareRequest,
            prediction=prediction,
            mask=mask,
            class_names=self.truth_names(),
            palette=loaded.info.palette_array,
            styles=self.truth.styles(),
        )

    def _on_compared(self, result: Compared) -> None:
        if result.truth is None:
            self.controller.status.emit(result.note, 8000)
            return
        self.truth.take(result.truth)
        self.truth_changed.emit()

    def _on_compare_failed(self, request: CompareRequest, message: str) -> None:
        if self.controller.requests.is_current(request):
            self.controller.error.emit(message, False)
