"""The network runs here: a worker object living on its own ``QThread``.

Requests are frozen dataclasses numbered by a :class:`Requests` factory on the GUI thread,
which also keeps generation counters (image, model, probe): a result whose request belongs
to an image, model or click no longer shown is stale and the GUI drops it. Only the newest
pending request of each kind is kept (a burst of clicks runs once, for the last click).
``fcnviewer.core`` (and with it torch) is imported on the worker thread, never at import
time of this module.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from fcnviewer.qt.layers import ImageLayer
from fcnviewer.qt.viewer_model import ViewerModel


@dataclass(frozen=True, eq=False)
class Request:
    """A job for the worker; the generations say which image/model/click it belongs to."""

    request_id: int
    open_generation: int
    image_generation: int
    model_generation: int
    probe_generation: int
    #: Which generations must still be current for the result to be used.
    depends_on: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, eq=False)
class LoadModelRequest(Request):
    """Load a checkpoint (``None``: the bundled default) onto ``device``."""

    path: str | None = None
    arch: str | None = None
    device: str = "auto"
    depends_on: ClassVar[tuple[str, ...]] = ("model",)


@dataclass(frozen=True, eq=False)
class OpenImageRequest(Request):
    """Read image ``index`` of ``images``; ``step`` (+1/-1) when stepping through them, from ``origin``."""

    images: tuple[Path, ...] = ()
    index: int = 0
    step: int = 0
    origin: int = 0
    depends_on: ClassVar[tuple[str, ...]] = ("open",)

    @property
    def path(self) -> Path:
        """The file to read."""
        return self.images[self.index]


@dataclass(frozen=True, eq=False)
class PredictRequest(Request):
    """Run the network on ``image``; with ``styles`` (``ViewerModel.styles()``), colour its layers too."""

    image: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 3), np.uint8))
    styles: Mapping[str, tuple[Any, ...]] | None = None
    depends_on: ClassVar[tuple[str, ...]] = ("image", "model")


@dataclass(frozen=True, eq=False)
class ProbeRequest(Request):
    """Effective receptive fields (every stage) and branch contributions at pixel ``(y, x)``."""

    image: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 3), np.uint8))
    y: int = 0
    x: int = 0
    class_index: int | None = None
    depends_on: ClassVar[tuple[str, ...]] = ("image", "model", "probe")


#: The order pending kinds run in: a new model before predictions, predictions before probes.
KINDS: tuple[type[Request], ...] = (LoadModelRequest, OpenImageRequest, PredictRequest, ProbeRequest)


@dataclass(frozen=True, eq=False)
class ModelLoaded:
    """The loaded network (``fcnviewer.core.checkpoints.LoadedModel``), the device and precision it runs in."""

    request: LoadModelRequest
    loaded: Any
    device: str
    precision: str


@dataclass(frozen=True, eq=False)
class ImageOpened:
    """The ``(H, W, 3)`` uint8 image read, and an ``ImageLayer`` holding it (coloured here)."""

    request: OpenImageRequest
    image: np.ndarray
    layer: ImageLayer


@dataclass(frozen=True, eq=False)
class Predicted:
    """The ``fcnviewer.core.inference.Prediction`` of a request's image and, when the request had
    styles, a :class:`ViewerModel` showing it (its layers coloured here, not on the GUI thread)."""

    request: PredictRequest
    prediction: Any
    prepared: ViewerModel | None = None


@dataclass(frozen=True, eq=False)
class Probed:
    """ERF maps by stage (``"final"`` and stage names) of the image window starting at ``origin``
    (row, column; zero outside it), their class, and branch contributions."""

    request: ProbeRequest
    fields: dict[str, np.ndarray]
    class_index: int
    contributions: dict[str, float]
    note: str = ""
    origin: tuple[int, int] = (0, 0)


class Aborted(Exception):
    """Raised inside a job when the worker is asked to stop."""


class Requests:
    """Numbers requests and keeps the generation counters (GUI thread only)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.generations = {"open": 0, "image": 0, "model": 0, "probe": 0}

    def advance(self, what: str) -> None:
        """A new image, model or probe is being shown: results for the old one are stale."""
        self.generations[what] += 1

    def make(self, kind: type[Request], **kwargs: Any) -> Request:
        """A ``kind`` request stamped with a fresh id and the current generations."""
        g = self.generations
        return kind(next(self._ids), g["open"], g["image"], g["model"], g["probe"], **kwargs)

    def is_current(self, request: Request) -> bool:
        """Whether ``request`` still belongs to what is shown."""
        stamped = {
            "open": request.open_generation,
            "image": request.image_generation,
            "model": request.model_generation,
            "probe": request.probe_generation,
        }
        return all(stamped[what] == self.generations[what] for what in request.depends_on)


class Worker(QObject):
    """Reads images, loads models and runs the network; lives on a worker thread.

    Signals (all carry the request): ``started``, ``returned`` (the result object),
    ``errored`` (a message naming the file and problem), ``progress`` (done, total) and
    ``finished`` (after ``returned`` or ``errored``). ``max_pixels`` (default: the core's,
    100 megapixels) is the largest image it reads or runs the network on; ``precision`` is
    the predictor's (``auto``: the fast one the hardware has).
    """

    started = Signal(object)
    returned = Signal(object)
    errored = Signal(object, str)
    progress = Signal(object, int, int)
    finished = Signal(object)
    _wake = Signal()

    def __init__(self, max_pixels: int | None = None, precision: str = "auto") -> None:
        super().__init__()
        self._limit = {} if max_pixels is None else {"max_pixels": max_pixels}
        self._precision = precision
        self._lock = threading.Lock()
        self._pending: dict[type[Request], Request] = {}
        self._abort = threading.Event()
        self._predictor: Any = None
        self._ready = False
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    def submit(self, request: Request) -> None:
        """Queue ``request``, replacing a pending one of the same kind (any thread); a worker
        that was aborted takes no more work (it may already be deleted with its thread)."""
        if self.stopped:
            return
        with self._lock:
            self._pending[type(request)] = request
        self._wake.emit()

    def pending(self) -> list[Request]:
        """Requests waiting to run."""
        with self._lock:
            return list(self._pending.values())

    @property
    def stopped(self) -> bool:
        """Whether :meth:`abort` was called."""
        return self._abort.is_set()

    def abort(self) -> None:
        """Drop pending work and stop the running job at its next check."""
        with self._lock:
            self._pending.clear()
        self._abort.set()

    @Slot()
    def warm_up(self) -> None:
        """Import the network stack now (on this thread), so the first job starts sooner."""
        if self._ready:
            return
        import torch

        import fcnviewer.core.inference  # noqa: F401

        # Leave a core to the GUI thread so it stays responsive while the network runs.
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
        self._ready = True

    @Slot()
    def _drain(self) -> None:
        while not self._abort.is_set():
            with self._lock:
                request = next((self._pending.pop(kind) for kind in KINDS if kind in self._pending), None)
            if request is None:
                return
            self._run(request)

    def _run(self, request: Request) -> None:
        self.started.emit(request)
        try:
            result = self._handle(request)
        except Aborted:
            return
        except Exception as exc:  # every failure goes back to the GUI; the worker lives on
            self.errored.emit(request, _message(exc))
        else:
            self.returned.emit(result)
        self.finished.emit(request)

    def _check_abort(self) -> None:
        if self._abort.is_set():
            raise Aborted

    def _handle(self, request: Request) -> Any:
        if isinstance(request, OpenImageRequest):
            return self._open_image(request)  # no torch needed
        self.warm_up()
        if isinstance(request, LoadModelRequest):
            return self._load_model(request)
        if self._predictor is None:
            raise RuntimeError("no model is loaded")
        if isinstance(request, PredictRequest):
            return self._predict(request)
        if isinstance(request, ProbeRequest):
            return self._probe(request)
        raise TypeError(f"unknown request {type(request).__name__}")

    def _load_model(self, request: LoadModelRequest) -> ModelLoaded:
        from fcnviewer.core.checkpoints import load_checkpoint
        from fcnviewer.core.inference import Predictor
        from fcnviewer.core.resources import default_checkpoint_path

        loaded = load_checkpoint(request.path or default_checkpoint_path(), arch=request.arch)
        self._check_abort()
        self._predictor = Predictor(loaded, device=request.device, precision=self._precision, **self._limit)
        precision = str(self._predictor.dtype).removeprefix("torch.")
        return ModelLoaded(request, loaded, str(self._predictor.device), precision)

    def _open_image(self, request: OpenImageRequest) -> ImageOpened:
        from fcnviewer.core.images import load_image

        image = load_image(request.path, **self._limit)
        layer = ImageLayer()
        layer.set_image(image)
        return ImageOpened(request, image, layer)

    def _predict(self, request: PredictRequest) -> Predicted:
        def progress(done: int, total: int) -> None:
            self._check_abort()
            self.progress.emit(request, done, total)

        prediction = self._predictor.predict(request.image, progress=progress)
        self._check_abort()
        _ = prediction.entropy  # computed here, not on the GUI thread
        if request.styles is None:
            return Predicted(request, prediction)
        info = self._predictor.info
        prepared = ViewerModel()
        prepared.set_classes(info.class_names, info.palette_array)
        prepared.set_prediction(prediction, styles=request.styles)
        return Predicted(request, prediction, prepared)

    def _probe(self, request: ProbeRequest) -> Probed:
        from fcnviewer.core.receptive import branch_contributions, effective_receptive_fields

        predictor = self._predictor
        y0, y1, x0, x1 = probe_window(predictor.model, request.y, request.x, request.image.shape[:2])
        crop = request.image[y0:y1, x0:x1]
        y, x = request.y - y0, request.x - x0
        inputs = predictor.info.preprocessing.to_tensor(crop, predictor.device)  # float32, as predictor.model
        fields = effective_receptive_fields(predictor.model, inputs, y, x, class_index=request.class_index)
        self._check_abort()
        class_index = next(iter(fields.values())).class_index
        note = ""
        try:
            contributions = branch_contributions(predictor.model, inputs, y, x, class_index)
        except (ValueError, KeyError) as exc:
            contributions, note = {}, f"no branch contributions for this network ({exc})"
        values = {k: v.values for k, v in fields.items()}
        return Probed(request, values, class_index, contributions, note, origin=(y0, x0))


#: Stride of the coarsest FCN-VGG stage: shifting the input by a multiple of it shifts every map exactly.
VGG_PERIOD = 32


def probe_window(model: Any, y: int, x: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Rows ``y0:y1`` and columns ``x0:x1`` of the image that decide pixel ``(y, x)`` at every stage.

    For FCN-VGG the union of the pixel's receptive-field boxes, widened to start on a multiple
    of 32: the network then computes the same numbers on that crop as on the whole image (so
    the effective RF of a 4096x4096 image costs what a crop of about 600x600 does). Networks
    that resize to the input's size (FCN-ResNet) get the whole image.
    """
    from fcnviewer.core.models import FCNVGG
    from fcnviewer.core.receptive import pixel_boxes

    height, width = size
    if not isinstance(model, FCNVGG):
        return 0, height, 0, width
    boxes = pixel_boxes(model, y, x, size).values()
    top, left = min(b.y0 for b in boxes) - VGG_PERIOD, min(b.x0 for b in boxes) - VGG_PERIOD
    bottom, right = max(b.y1 for b in boxes) + VGG_PERIOD + 1, max(b.x1 for b in boxes) + VGG_PERIOD + 1
    y0, x0 = max(0, top // VGG_PERIOD * VGG_PERIOD), max(0, left // VGG_PERIOD * VGG_PERIOD)
    return y0, min(height, bottom), x0, min(width, right)


def _message(exc: BaseException) -> str:
    """A one-line message; unexpected error types are named, with where they happened."""
    if type(exc).__name__ in ("CheckpointError", "ImageError", "ExportError"):
        return str(exc)
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" (at {os.path.basename(where.filename)}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"


class WorkerSignals(QObject):
    """The worker's signals re-emitted on the thread that made this object (the GUI thread),
    so that plain Python callbacks connected to them run there too.

    (A signal-to-signal or lambda connection would not do: PySide runs those in the
    emitting thread.)
    """

    started = Signal(object)
    returned = Signal(object)
    errored = Signal(object, str)
    progress = Signal(object, int, int)
    finished = Signal(object)

    def relay(self, worker: Worker) -> None:
        """Re-emit ``worker``'s signals here, queued."""
        queued = Qt.ConnectionType.QueuedConnection
        worker.started.connect(self._on_started, queued)
        worker.returned.connect(self._on_returned, queued)
        worker.errored.connect(self._on_errored, queued)
        worker.progress.connect(self._on_progress, queued)
        worker.finished.connect(self._on_finished, queued)

    @Slot(object)
    def _on_started(self, request: Request) -> None:
        self.started.emit(request)

    @Slot(object)
    def _on_returned(self, result: object) -> None:
        self.returned.emit(result)

    @Slot(object, str)
    def _on_errored(self, request: Request, message: str) -> None:
        self.errored.emit(request, message)

    @Slot(object, int, int)
    def _on_progress(self, request: Request, done: int, total: int) -> None:
        self.progress.emit(request, done, total)

    @Slot(object)
    def _on_finished(self, request: Request) -> None:
        self.finished.emit(request)


class WorkerThread:
    """A :class:`Worker` on its own ``QThread`` (superqt-style wiring); connect to ``signals``
    (GUI thread) rather than to the worker's own signals (emitted on the worker thread).

    The thread starts when the event loop next runs (after the window is shown), and then
    imports the network stack; requests submitted before wait for it. It runs at the GUI
    thread's priority: a lower one lets any other busy program starve the worker while it
    holds the GIL, and the GUI thread waits for the GIL (a 134 ms stall in the soak at nice
    +10 under a CPU load, 49-68 ms at the same priority).
    """

    def __init__(self, *, warm_up: bool = True, max_pixels: int | None = None, precision: str = "auto") -> None:
        self.thread = QThread()
        self.thread.setObjectName("fcnviewer-worker")
        self.worker = Worker(max_pixels, precision)
        self.signals = WorkerSignals()
        self.signals.relay(self.worker)
        self.worker.moveToThread(self.thread)
        if warm_up:
            self.thread.started.connect(self.worker.warm_up)
        self.thread.finished.connect(self.worker.deleteLater)
        QTimer.singleShot(0, self._start)

    def _start(self) -> None:
        if not self.worker.stopped:
            self.thread.start()

    def stop(self, timeout_ms: int = 1000) -> bool:
        """Abort the work, end the thread; whether it ended within ``timeout_ms``.

        A thread still inside one long operation (an import, a forward pass) is kept referenced
        until the process ends, so that it is never destroyed while it runs.
        """
        self.worker.abort()
        self.thread.quit()
        if self.thread.wait(timeout_ms):
            return True
        _STOPPING.append(self)
        return False


#: Worker threads that did not end within their stop timeout (see :meth:`WorkerThread.stop`).
_STOPPING: list[WorkerThread] = []


@atexit.register
def _finish_stopping() -> None:
    """At interpreter exit, wait for those threads: destroying a running ``QThread`` aborts the process."""
    for stopping in _STOPPING:
        stopping.thread.wait()
