"""The window's controller: what goes to the worker threads, and what is shown of what comes back.

It stamps requests with the generations (``fcnviewer.viewer.protocol.Requests``), drops results
of an image, model or click no longer shown, dispatches results and errors by kind, and keeps
the pins' inspector reports. It draws nothing itself: the window connects its signals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, Signal

from fcnviewer.core.names import DEVICES
from fcnviewer.core.resources import is_bundled
from fcnviewer.qt.dense_crops import dense_crop
from fcnviewer.qt.worker import ImageReader, Worker, WorkerThread
from fcnviewer.viewer.domain import domain_note, model_summary, needs_domain_note, training_domain
from fcnviewer.viewer.files import split_checkpoints, with_siblings
from fcnviewer.viewer.inspector import PixelReport, pixel_report, with_contributions
from fcnviewer.viewer.layers import Pin
from fcnviewer.viewer.protocol import (
    ErfOptions,
    ImageOpened,
    LoadModelRequest,
    ModelLoaded,
    OpenImageRequest,
    Predicted,
    PredictRequest,
    Probed,
    ProbeRequest,
    Request,
    Requests,
    error_message,
)
from fcnviewer.viewer.viewer_model import ViewerModel

if TYPE_CHECKING:
    from fcnviewer.core.checkpoints import LoadedModel

R = TypeVar("R", bound=Request)
Box = tuple[int, int, int, int]


class Controller(QObject):
    """Requests, results and pins of one :class:`ViewerModel`. Network work goes to one
    :class:`WorkerThread`, image files are read on another.

    Signals: ``image_shown``, ``prediction_shown``, ``probe_shown``, ``model_loaded`` (each after
    the model shows it); ``error(message, dialog)``, ``status(message, milliseconds)``,
    ``busy_changed(busy)``, ``device_changed(device)``, ``reports_changed(reports)``,
    ``opened(path)`` (a file or folder to remember), ``download_progress(name, done, total)``
    and ``download_ended()`` (a pretrained model's download, see :meth:`cancel_download`), and
    ``notice(message)`` (something the user should read once: a model trained on synthetic
    scenes shown an image of theirs).
    """

    image_shown = Signal()
    prediction_shown = Signal()
    probe_shown = Signal()
    model_loaded = Signal()
    error = Signal(str, bool)
    status = Signal(str, int)
    busy_changed = Signal(bool)
    device_changed = Signal(str)
    reports_changed = Signal(object)
    opened = Signal(str)
    download_progress = Signal(str, int, int)
    download_ended = Signal()
    notice = Signal(str)

    def __init__(
        self, model: ViewerModel, *, device: str = "auto", max_pixels: int | None = None, precision: str = "auto"
    ) -> None:
        super().__init__()
        self.model = model
        self.requests = Requests()
        self.device = self.loaded_device = device
        self.available_devices: tuple[str, ...] = DEVICES  # until the worker says which this machine has
        self.loaded: LoadedModel | None = None
        self.model_text = "no model"
        self.checkpoint: str | None = None
        self.arch: str | None = None
        self._loading: LoadModelRequest | None = None
        self.image_path: Path | None = None
        self.images: list[Path] = []
        self.image_index = -1
        self.reports: list[PixelReport] = []
        self.last_probed: Probed | None = None  # the latest click's probe shown
        self.closed = False
        self.domain_noted = False  # the domain note is given once a session
        #: Whether an image is known to be of the model's own kind (an open dataset's says so).
        self.of_model_domain: Callable[[Path], bool] = lambda _image: False
        self.fallback = False  # the bundled model replaces a checkpoint that failed with no model loaded
        self._running: set[int] = set()
        self._show: dict[type, Callable[[Any], None]] = {
            ModelLoaded: self._on_model_changed,
            ImageOpened: self._on_image_changed,
            Predicted: self._on_prediction_changed,
            Probed: self._on_probe_changed,
        }
        self._fail: dict[type[Request], Callable[[Any, str], None]] = {
            LoadModelRequest: self._on_load_failed,
            OpenImageRequest: self._on_open_failed,
            PredictRequest: self._on_job_failed,
            ProbeRequest: self._on_probe_failed,
        }
        self.worker_thread = WorkerThread(Worker(max_pixels, precision))
        self.files_thread = WorkerThread(ImageReader(max_pixels), warm_up=False)  # images open while the network runs
        for thread in (self.worker_thread, self.files_thread):
            thread.signals.started.connect(self._on_job_started)
            thread.signals.finished.connect(self._on_job_finished)
            thread.signals.returned.connect(self._on_job_returned)
            thread.signals.errored.connect(self._on_job_errored)
            thread.signals.progress.connect(self._on_job_progress)

    # ------------------------------------------------------------------ requests

    def handle(
        self, result: type, request: type[Request], show: Callable[[Any], None], fail: Callable[[Any, str], None]
    ) -> None:
        """Show current ``result`` s with ``show`` and failures of ``request`` s with ``fail`` (a job kind
        that a collaborator of the window adds)."""
        self._show[result], self._fail[request] = show, fail

    def submit(self, kind: type[R], **kwargs: Any) -> R:
        """Stamp and send a request to the network worker."""
        request = self.requests.make(kind, **kwargs)
        self.worker_thread.worker.submit(request)
        return request

    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Open images, folders of images and checkpoints (by suffix)."""
        checkpoints, others = split_checkpoints(paths)
        for checkpoint in checkpoints[-1:]:
            self.load_model(checkpoint)
        if not others:
            return
        images, index = with_siblings(others)
        if not images:
            self.error.emit(f"{others[0]}: no images found there", True)
            return
        for path in others:
            if not is_bundled(path):  # the samples are not the user's recent files
                self.opened.emit(str(path))
        # Of a list or folder an unreadable first image gives way to the next; one image chosen is
        # reported (and what is shown stays), even when its folder's images came with it.
        single = len(others) == 1 and Path(others[0]).is_file()
        self.open_image(images, index, step=1 if len(images) > 1 and not single else 0)

    def open_image(self, images: Sequence[Path], index: int, *, step: int = 0, origin: int | None = None) -> None:
        """Read image ``index`` of ``images`` (on the files thread) and show it; an unreadable one is
        reported and what is shown stays, or with ``step`` the next one in that direction is tried."""
        self.requests.advance("open")  # an image asked for earlier no longer shows up
        origin = index if origin is None else origin
        request = self.requests.make(OpenImageRequest, images=tuple(images), index=index, step=step, origin=origin)
        self.files_thread.worker.submit(request)

    def step_image(self, step: int) -> None:
        """Show the next (``step`` = 1) or previous (-1) image of the opened list, skipping unreadable ones."""
        if len(self.images) > 1:
            following = (self.image_index + step) % len(self.images)
            self.open_image(self.images, following, step=step, origin=self.image_index)

    def load_model(self, path: str | Path | None, *, arch: str | None = None) -> None:
        """Load a checkpoint (``None``: the bundled model) on the worker; what is shown stays until it is ready.

        Results of the model shown until now are stale from here on (a failed load keeps it).
        """
        self.requests.advance("model")
        if self._loading is not None:
            self._loading.cancel.set()  # a download of the model asked for before stops
        text = None if path is None else str(path)
        self._loading = self.submit(LoadModelRequest, path=text, arch=arch, device=self.device)

    def cancel_download(self) -> None:
        """Stop the running download of a pretrained model; the model shown stays."""
        if self._loading is not None:
            self._loading.cancel.set()

    def set_device(self, device: str) -> None:
        """Run the network on ``device`` from now on (the model is reloaded there)."""
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}")
        self._show_device(device)
        if self.loaded is not None:
            self.load_model(self.checkpoint, arch=self.arch)

    def model_summary(self) -> str:
        """What the loaded model is and was trained on (Model > Model Info)."""
        if self.loaded is None:
            return "No model is loaded: open a checkpoint (Model > Open Checkpoint…) or use the bundled model."
        info = self.loaded.info
        return model_summary(self.loaded.name, info.spec.arch, info.class_names, info.training)

    def _show_device(self, device: str) -> None:
        self.device = device
        self.device_changed.emit(device)

    def _predict(self) -> None:
        if self.loaded is not None and self.model.image is not None:
            model = self.model
            self.submit(PredictRequest, image=model.image, styles=model.styles(), class_names=model.class_names)

    def close(self) -> None:
        """Drop results still on their way, stop the threads (not waiting long for a busy one)."""
        self.closed = True
        self.files_thread.stop(timeout_ms=200)
        self.worker_thread.stop(timeout_ms=1000)

    # ------------------------------------------------------------------ jobs

    def _on_job_started(self, request: Request) -> None:
        self._running.add(request.request_id)
        self.busy_changed.emit(True)

    def _on_job_finished(self, request: Request) -> None:
        self._running.discard(request.request_id)
        if isinstance(request, LoadModelRequest):
            self.download_ended.emit()
        if not self._running and not self.worker_thread.worker.pending() and not self.files_thread.worker.pending():
            self.busy_changed.emit(False)

    def _on_job_progress(self, request: Request, done: int, total: int) -> None:
        if isinstance(request, LoadModelRequest):
            if not request.cancel.is_set():
                self.download_progress.emit(str(request.path), done, total)
        elif self.requests.is_current(request):
            self.status.emit(request.progress_text.format(done=done, total=total), 2000)

    def _on_job_returned(self, result: ModelLoaded | ImageOpened | Predicted | Probed) -> None:
        if self.closed or not self.requests.is_current(result.request):
            return  # belongs to an image, model or click no longer shown (or to a closed window)
        self._show[type(result)](result)

    def _on_job_errored(self, request: Request, exc: Exception) -> None:
        if self.closed:
            return  # a job that ended as the window closed: nobody is left to tell
        self._fail[type(request)](request, error_message(exc))

    def _on_load_failed(self, request: LoadModelRequest, message: str) -> None:
        self._show_device(self.loaded_device)  # the model stays where it was
        cancelled = request.cancel.is_set()  # a cancel the user asked for needs no dialog
        if self.loaded is None and request.path is not None:  # no model to fall back on: the bundled one
            self.error.emit(f"{message}. The bundled model is loaded instead.", not cancelled)
            self.fallback = True
            self.load_model(None)
            return
        self.error.emit(message, not cancelled)
        if self.loaded is not None and self.model.prediction is None:
            self._predict()  # the previous model stays: predict what is shown with it

    def _on_open_failed(self, request: OpenImageRequest, message: str) -> None:
        if self.requests.is_current(request):
            self.error.emit(message, not request.step)
            following = (request.index + request.step) % len(request.images)
            if request.step and following != request.origin:
                self.open_image(request.images, following, step=request.step, origin=request.origin)

    def _on_job_failed(self, request: Request, message: str) -> None:
        if self.requests.is_current(request):
            self.error.emit(message, True)

    def _on_probe_failed(self, request: ProbeRequest, message: str) -> None:
        if self.requests.is_current(request):
            self._fill_contributions(request.y, request.x, {}, 0, f"could not compute: {message}")
            self.error.emit(message, True)

    # ------------------------------------------------------------------ results

    def _on_model_changed(self, result: ModelLoaded) -> None:
        request, loaded = result.request, result.loaded
        self.loaded, self.checkpoint, self.arch = loaded, request.path, request.arch
        self.loaded_device = request.device
        self.available_devices = result.devices
        self.requests.advance("probe")
        self.model.set_classes(loaded.info.class_names, loaded.info.palette_array)
        domain = training_domain(loaded.info.training, loaded.info.spec.arch)
        self.model_text = f"{loaded.name} · {loaded.info.spec.arch} · {domain} · {result.device} {result.precision}"
        if request.path is not None and loaded.path == Path(request.path):  # a file, not a pretrained model's name
            self.opened.emit(request.path)
        if self.fallback:
            self.fallback = False
            self.model_text = f"{self.model_text} (instead of the checkpoint that failed)"
        self.model.clear_prediction()
        self._set_reports([])
        self.model_loaded.emit()
        self._predict()

    def _on_image_changed(self, result: ImageOpened) -> None:
        request = result.request
        self.images, self.image_index, self.image_path = list(request.images), request.index, request.path
        self.requests.advance("image")
        self.requests.advance("probe")
        self._set_reports([])
        self.model.set_image(result.image, prepared=result.layer)
        self.image_shown.emit()
        self._predict()

    def _on_prediction_changed(self, result: Predicted) -> None:
        prediction = result.prediction
        self.model.set_prediction(prediction, prepared=result.prepared)
        self._set_reports([])
        note = f" ({'; '.join(prediction.notes)})" if prediction.notes else ""
        self.status.emit(f"predicted in {prediction.seconds:.2f} s on {prediction.device}{note}", 5000)
        self.prediction_shown.emit()
        self._note_domain()

    def _note_domain(self) -> None:
        """Say once that a model trained on synthetic scenes means nothing on the user's own images."""
        assert self.loaded is not None
        info = self.loaded.info
        own = self.image_path is not None and self.of_model_domain(self.image_path)
        if not self.domain_noted and not own and needs_domain_note(info.training, self.image_path):
            self.domain_noted = True
            self.notice.emit(domain_note(info.class_names))

    def _on_probe_changed(self, result: Probed) -> None:
        request, found = result.request, result.probe
        self.last_probed = result
        self.model.erf_layer.set_fields(found.fields, found.origin, result.readouts)
        self._fill_contributions(request.y, request.x, found.contributions, found.class_index, found.note)
        self.probe_shown.emit()

    # ------------------------------------------------------------------ pins

    def pin_pixel(self, y: int, x: int, *, keep: bool = False) -> dict[str, Box]:
        """Draw the theoretical receptive-field boxes of pixel ``(y, x)`` now and ask the worker for
        its effective receptive field and branch contributions; returns the boxes by stage."""
        prediction = self.model.prediction
        if prediction is None or self.loaded is None:
            self.status.emit(self._why_no_prediction(), 5000)
            return {}
        from fcnviewer.core.receptive import pixel_boxes  # torch is loaded by now (there is a model)

        shapes = {name: stage.scores.shape[-2:] for name, stage in prediction.stages.items()}
        geometry = {name: stage.geometry for name, stage in prediction.stages.items()}
        found = pixel_boxes(self.loaded.model, y, x, prediction.size, shapes, geometry)
        boxes: dict[str, Box] = {k: tuple(b.as_list()) for k, b in found.items()}  # type: ignore[misc]
        whole = frozenset(k for k, b in found.items() if b.whole_image)
        crop, no_crop = dense_crop(self.loaded.model, y, x, prediction)
        shown = {**boxes, **crop}
        if no_crop:
            self.status.emit(no_crop, 8000)
        self.model.boxes_layer.pin(Pin(y, x, shown, whole), keep=keep)
        report = pixel_report(prediction, y, x, shown, whole)
        self._set_reports([*self.reports, report] if keep else [report])
        if not keep:
            self.requests.advance("probe")
        self.submit(
            ProbeRequest,
            image=self.model.image,
            y=y,
            x=x,
            class_index=int(prediction.labels[y, x]),
            boxes=tuple(boxes.values()),
            stages=tuple(boxes),
            erf=self.erf_options(),
        )
        return boxes

    def erf_options(self) -> ErfOptions:
        """How effective receptive fields are averaged now: the ERF layer's SmoothGrad settings, and
        the images after the shown one in the opened list (as many as the layer says, in all)."""
        layer = self.model.erf_layer
        following = self.images[self.image_index + 1 :] + self.images[: max(self.image_index, 0)]
        return ErfOptions(layer.copies, layer.noise, 0, tuple(following[: layer.images - 1]))

    def _why_no_prediction(self) -> str:
        """What a click before any prediction is told: wait only if a result is on its way."""
        working = bool(self._running or self.worker_thread.worker.pending())
        if self.loaded is None and not working:
            return "no model is loaded: open a checkpoint (Model > Open Checkpoint…) or use Model > Use Bundled Model"
        if working:
            return "the network is still working: click again when the masks show"
        return "no prediction for this image (see the last message): open another image or model"

    def clear_pins(self) -> None:
        """Remove every pin, its boxes and effective receptive field."""
        self.requests.advance("probe")
        self.model.boxes_layer.clear()
        self.model.erf_layer.clear()
        self._set_reports([])

    def _fill_contributions(self, y: int, x: int, contributions: dict[str, float], class_index: int, note: str) -> None:
        waiting = bool(self.worker_thread.worker.pending())
        self._set_reports(with_contributions(self.reports, y, x, contributions, class_index, note, waiting=waiting))

    def _set_reports(self, reports: list[PixelReport]) -> None:
        self.reports = reports
        self.reports_changed.emit(reports)
