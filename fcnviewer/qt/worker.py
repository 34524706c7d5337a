"""The network runs here: a worker object living on its own ``QThread``; image files are read by
a small reader on another.

Requests are frozen dataclasses (``fcnviewer.viewer.protocol``) numbered on the GUI thread. Each
worker keeps only the newest pending request of each kind (a burst of clicks runs once, for the
last click) and runs the pending kinds in the order of its job registry, one handler function per
kind. A failed job sends the exception object itself back (``errored``); the worker lives on.
``fcnviewer.core``'s network stack (and with it torch) is imported on the worker thread, never
at import time of this module.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from fcnviewer.core.memory import release_free_memory, resident_mb
from fcnviewer.qt import jobs_dataset, jobs_erf, jobs_layers
from fcnviewer.qt.recent_predictions import RecentPredictions
from fcnviewer.viewer.dataset_protocol import CompareRequest, ListDatasetRequest, ScoreImageRequest
from fcnviewer.viewer.layers import ImageLayer
from fcnviewer.viewer.protocol import (
    ImageOpened,
    LayerProbeRequest,
    LoadModelRequest,
    ModelLoaded,
    OpenImageRequest,
    Predicted,
    PredictRequest,
    ProbeRequest,
    RegionProbeRequest,
    Request,
    StitchRequest,
)
from fcnviewer.viewer.viewer_model import ViewerModel

if TYPE_CHECKING:
    from fcnviewer.core.inference import Predictor

#: A job: ``handler(worker, request) -> result``, run on the worker's thread.
Handler = Callable[[Any, Any], object]


class Aborted(Exception):
    """Raised inside a job when the worker is asked to stop."""


class QueueWorker(QObject):
    """Runs requests one at a time, on the thread it lives on, by the handler of their kind.

    Signals (all carry the request): ``started``, ``returned`` (the result object),
    ``errored`` (the exception), ``progress`` (done, total) and ``finished`` (after
    ``returned`` or ``errored``).
    """

    started = Signal(object)
    returned = Signal(object)
    errored = Signal(object, object)
    progress = Signal(object, int, int)
    finished = Signal(object)
    _wake = Signal()

    #: The handler of each request kind taken, in the order pending kinds run.
    jobs: ClassVar[Mapping[type[Request], Handler]] = {}
    #: Name of the thread it runs on.
    thread_name: ClassVar[str] = "fcnviewer-worker"
    #: Idle this long (ms) after a job, it gives the memory freed back to the system (``None``: never),
    release_memory_after_ms: ClassVar[int | None] = None
    #: and at once after a job that left RSS this many MB above what it was after the last release.
    release_memory_above_mb: ClassVar[float | None] = None

    def __init__(self, max_pixels: int | None = None) -> None:
        super().__init__()
        #: Keyword arguments that bound the images read or run (``max_pixels``; default: the core's).
        self.limit: dict[str, int] = {} if max_pixels is None else {"max_pixels": max_pixels}
        self._lock = threading.Lock()
        self._pending: dict[type[Request], Request] = {}
        self._abort = threading.Event()
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._idle = QTimer(self)  # a child: it moves to the worker's thread with it
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(self._release_memory)
        self._released_at_mb = resident_mb()

    def submit(self, request: Request) -> None:
        """Queue ``request``, replacing a pending one of the same kind (any thread); a worker
        that was aborted takes no more work (it may already be deleted with its thread)."""
        if type(request) not in self.jobs:
            raise TypeError(f"{type(self).__name__} takes no {type(request).__name__}")
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

    def check_abort(self) -> None:
        """Stop the running job here if :meth:`abort` was called (jobs call it between steps)."""
        if self._abort.is_set():
            raise Aborted

    @Slot()
    def warm_up(self) -> None:
        """Prepare what the jobs need, on this thread (nothing, here)."""

    @Slot()
    def _drain(self) -> None:
        self._idle.stop()
        while not self._abort.is_set():
            with self._lock:
                request = next((self._pending.pop(kind) for kind in self.jobs if kind in self._pending), None)
            if request is None:
                break
            self._run(request)
            if self._holds_too_much():
                self._release_memory()
        if self.release_memory_after_ms is not None and not self._abort.is_set():
            self._idle.start(self.release_memory_after_ms)

    def _holds_too_much(self) -> bool:
        if self.release_memory_above_mb is None or self._released_at_mb is None:
            return False
        return (resident_mb() or 0.0) - self._released_at_mb > self.release_memory_above_mb

    @Slot()
    def _release_memory(self) -> None:
        """Give the memory the jobs freed back to the system (see :mod:`fcnviewer.core.memory`)."""
        if not self.pending() or self._holds_too_much():  # else work came in: it runs first, this after it
            release_free_memory()
            self._released_at_mb = resident_mb()

    def _run(self, request: Request) -> None:
        self.started.emit(request)
        try:
            result = self._handle(request)
        except Aborted:
            return
        except Exception as exc:  # every failure goes back to the GUI; the worker lives on
            self.errored.emit(request, exc)
        else:
            self.returned.emit(result)
        self.finished.emit(request)

    def _handle(self, request: Request) -> object:
        return self.jobs[type(request)](self, request)


# ---------------------------------------------------------------------- jobs


def load_model(worker: Worker, request: LoadModelRequest) -> ModelLoaded:
    """Load the checkpoint (a pretrained model is downloaded first, its progress sent as the
    request's ``progress``) and make the worker's predictor for it."""
    from fcnviewer.core.devices import available_devices
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.zoo import load_model as load

    loaded = load(
        request.path,
        arch=request.arch,
        progress=lambda done, total: worker.progress.emit(request, done, total),
        cancelled=lambda: request.cancel.is_set() or worker.stopped,
    )
    worker.check_abort()
    predictor = Predictor(loaded, device=request.device, precision=worker.precision, **worker.limit)
    worker.predictor = predictor
    precision = str(predictor.dtype).removeprefix("torch.")
    return ModelLoaded(request, loaded, str(predictor.device), precision, available_devices())


def predict(worker: Worker, request: PredictRequest) -> Predicted:
    """Run the network; with styles, colour the layers showing the prediction here too."""
    predictor = worker.loaded_predictor()

    def progress(done: int, total: int) -> None:
        worker.check_abort()
        worker.progress.emit(request, done, total)

    prediction = worker.recent.predict(predictor, request.image, progress)
    worker.check_abort()
    _ = prediction.entropy  # computed here, not on the GUI thread
    if request.styles is None:
        return Predicted(request, prediction)
    prepared = ViewerModel()
    prepared.set_classes(request.class_names or predictor.info.class_names, predictor.info.palette_array)
    prepared.set_prediction(prediction, styles=request.styles)
    return Predicted(request, prediction, prepared)


def read_image(reader: ImageReader, request: OpenImageRequest) -> ImageOpened:
    """Read the image and colour the layer showing it (no torch needed)."""
    from fcnviewer.core.images import load_image

    image = load_image(request.path, **reader.limit)
    layer = ImageLayer()
    layer.set_image(image)
    return ImageOpened(request, image, layer)


class Worker(QueueWorker):
    """Loads models and runs the network; lives on a worker thread.

    ``max_pixels`` (default: the core's, 100 megapixels) is the largest image it runs the
    network on; ``precision`` is the predictor's (``auto``: the fast one the hardware has).
    """

    #: A new model before predictions, predictions (and their truth) before probes; a dataset walk's step last.
    jobs: ClassVar[Mapping[type[Request], Handler]] = {
        LoadModelRequest: load_model,
        PredictRequest: predict,
        LayerProbeRequest: jobs_layers.probe_layer,  # the layer the user selected: before the stage probe
        CompareRequest: jobs_dataset.compare,
        ProbeRequest: jobs_erf.probe,
        RegionProbeRequest: jobs_erf.probe_region,
        StitchRequest: jobs_erf.stitch,
        ScoreImageRequest: jobs_dataset.score_image,
    }

    #: Activations of hundreds of MB, in sizes that change with each image, are freed after each job:
    #: given back after a second idle, or at once when they kept more than a probe of a 700 px image uses.
    release_memory_after_ms: ClassVar[int | None] = 1000
    release_memory_above_mb: ClassVar[float | None] = 512

    def __init__(self, max_pixels: int | None = None, precision: str = "auto") -> None:
        super().__init__(max_pixels)
        self.precision = precision
        self.predictor: Predictor | None = None
        self.recent = RecentPredictions()  # shared by the window's predictions and the dataset walk's
        self._ready = False

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

    def loaded_predictor(self) -> Predictor:
        """The predictor of the loaded model."""
        if self.predictor is None:
            raise RuntimeError("no model is loaded")
        return self.predictor

    def _handle(self, request: Request) -> object:
        self.warm_up()
        return super()._handle(request)


class ImageReader(QueueWorker):
    """Reads image files, on a thread of its own, so that images open while the network runs.

    ``max_pixels`` (default: the core's) is the largest image it reads.
    """

    jobs: ClassVar[Mapping[type[Request], Handler]] = {
        OpenImageRequest: read_image,
        ListDatasetRequest: jobs_dataset.list_dataset,
    }
    thread_name: ClassVar[str] = "fcnviewer-files"


class WorkerSignals(QObject):
    """A worker's signals re-emitted on the thread that made this object (the GUI thread),
    so that plain Python callbacks connected to them run there too.

    (A signal-to-signal or lambda connection would not do: PySide runs those in the
    emitting thread.)
    """

    started = Signal(object)
    returned = Signal(object)
    errored = Signal(object, object)
    progress = Signal(object, int, int)
    finished = Signal(object)

    def relay(self, worker: QueueWorker) -> None:
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

    @Slot(object, object)
    def _on_errored(self, request: Request, exc: Exception) -> None:
        self.errored.emit(request, exc)

    @Slot(object, int, int)
    def _on_progress(self, request: Request, done: int, total: int) -> None:
        self.progress.emit(request, done, total)

    @Slot(object)
    def _on_finished(self, request: Request) -> None:
        self.finished.emit(request)


class WorkerThread:
    """A worker (default: a network :class:`Worker`) on its own ``QThread`` (superqt-style wiring);
    connect to ``signals`` (GUI thread) rather than to the worker's own signals (emitted on the
    worker thread).

    The thread starts when the event loop next runs (after the window is shown), and then
    (``warm_up``) imports the network stack; requests submitted before wait for it. It runs at the GUI
    thread's priority: a lower one lets any other busy program starve the worker while it
    holds the GIL, and the GUI thread waits for the GIL (a 134 ms stall in the soak at nice
    +10 under a CPU load, 49-68 ms at the same priority).
    """

    def __init__(self, worker: QueueWorker | None = None, *, warm_up: bool = True) -> None:
        self.worker = worker if worker is not None else Worker()
        self.thread = QThread()
        self.thread.setObjectName(self.worker.thread_name)
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
