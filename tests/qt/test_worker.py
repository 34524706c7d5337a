"""The worker thread: signals, stale results, errors, newest-wins coalescing."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from fcnviewer.core.errors import UserError
from fcnviewer.qt.worker import ImageReader, Worker, WorkerThread
from fcnviewer.viewer.protocol import (
    LoadModelRequest,
    ModelLoaded,
    OpenImageRequest,
    Predicted,
    PredictRequest,
    Probed,
    ProbeRequest,
    Requests,
    error_message,
)
from tests.qt.conftest import thread_name, thread_times

IMAGE = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)


@pytest.fixture
def worker_thread(qtbot) -> Iterator[WorkerThread]:  # type: ignore[no-untyped-def]
    thread = WorkerThread(warm_up=False)
    yield thread
    assert thread.stop(2000)


@pytest.fixture
def ready(qtbot, worker_thread: WorkerThread, checkpoint: Path) -> WorkerThread:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(worker_thread.signals.finished, timeout=20000):  # the last signal of a job
        worker_thread.worker.submit(Requests().make(LoadModelRequest, path=str(checkpoint), device="cpu"))
    return worker_thread


def test_signals_come_in_order_with_the_request(qtbot, worker_thread: WorkerThread, checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    worker, signals = worker_thread.worker, worker_thread.signals
    request = Requests().make(LoadModelRequest, path=str(checkpoint), device="cpu")
    results: list[object] = []
    signals.returned.connect(results.append)
    with qtbot.waitSignals([signals.started, signals.returned, signals.finished], order="strict", timeout=20000):
        worker.submit(request)
    (result,) = results
    assert isinstance(result, ModelLoaded) and result.request is request and result.device == "cpu"
    assert result.loaded.info.spec.arch == "fcn8s"


def test_predict_and_probe(qtbot, ready: WorkerThread) -> None:  # type: ignore[no-untyped-def]
    worker, signals, requests = ready.worker, ready.signals, Requests()
    with qtbot.waitSignal(signals.returned, timeout=20000) as blocker:
        worker.submit(requests.make(PredictRequest, image=IMAGE))
    predicted = blocker.args[0]
    assert isinstance(predicted, Predicted) and predicted.prediction.labels.shape == (64, 80)
    with qtbot.waitSignal(signals.returned, timeout=20000) as blocker:
        worker.submit(requests.make(ProbeRequest, image=IMAGE, y=30, x=40))
    assert isinstance(blocker.args[0], Probed)
    probed = blocker.args[0].probe
    assert set(probed.fields) == {"32", "16", "8", "final"} and probed.fields["final"].shape == (64, 80)
    assert set(probed.contributions) == {"stride32", "pool4", "pool3"}
    logit = predicted.prediction.logits[probed.class_index, 30, 40]
    assert sum(probed.contributions.values()) == pytest.approx(float(logit), rel=1e-3, abs=1e-3)


def test_errors_are_reported_and_the_worker_lives_on(qtbot, ready: WorkerThread, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker, signals, requests = ready.worker, ready.signals, Requests()
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    errors: list[BaseException] = []
    signals.errored.connect(lambda _request, exc: errors.append(exc))
    with qtbot.waitSignals([signals.started, signals.errored, signals.finished], order="strict", timeout=20000):
        worker.submit(requests.make(LoadModelRequest, path=str(broken), device="cpu"))
    (error,) = errors  # the exception object itself, a user error: its message is the whole story
    assert isinstance(error, UserError) and error_message(error) == str(error)
    assert error_message(error).startswith(f"{broken}: ")
    with qtbot.waitSignal(signals.errored, timeout=20000) as blocker:
        worker.submit(requests.make(PredictRequest, image=np.zeros((5, 5), np.uint8)))  # not RGB
    bug = blocker.args[1]
    assert isinstance(bug, ValueError) and not isinstance(bug, UserError)
    assert error_message(bug).startswith("ValueError: ") and "(at " in error_message(bug)
    with qtbot.waitSignal(signals.returned, timeout=20000) as blocker:  # the previous model still works
        worker.submit(requests.make(PredictRequest, image=IMAGE))
    assert isinstance(blocker.args[0], Predicted)


def test_newest_pending_request_of_a_kind_wins(qtbot, ready: WorkerThread) -> None:  # type: ignore[no-untyped-def]
    worker, requests = ready.worker, Requests()
    results: list[Predicted | Probed] = []
    ready.signals.returned.connect(results.append)
    clicks = [requests.make(ProbeRequest, image=IMAGE, y=10 + i, x=10 + i) for i in range(6)]
    predict = requests.make(PredictRequest, image=IMAGE)
    # Hold the worker inside the first click, so that the rest arrive while it is busy.
    busy, release = threading.Event(), threading.Event()

    def hold(request: object) -> None:  # runs on the worker thread
        if request is clicks[0]:
            busy.set()
            release.wait(20)

    worker.started.connect(hold, Qt.ConnectionType.DirectConnection)
    worker.submit(clicks[0])
    assert busy.wait(20)
    for click in clicks[1:]:
        worker.submit(click)
    worker.submit(predict)
    pending = worker.pending()
    release.set()
    assert sorted(map(id, pending)) == sorted(map(id, (clicks[-1], predict)))  # only the newest click waits
    qtbot.waitUntil(lambda: len(results) == 3, timeout=20000)
    # the running click finishes, then the waiting kinds run in their order: predictions first
    assert [id(r.request) for r in results] == [id(clicks[0]), id(predict), id(clicks[-1])]


def test_each_worker_takes_its_own_kinds_only(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    requests = Requests()
    with pytest.raises(TypeError):
        Worker().submit(requests.make(OpenImageRequest, images=(tmp_path / "a.png",)))
    with pytest.raises(TypeError):
        ImageReader().submit(requests.make(PredictRequest, image=IMAGE))
    Image.fromarray(IMAGE).save(tmp_path / "a.png")
    reader = WorkerThread(ImageReader(), warm_up=False)
    try:
        with qtbot.waitSignal(reader.signals.returned, timeout=20000) as blocker:
            reader.worker.submit(requests.make(OpenImageRequest, images=(tmp_path / "a.png",)))
        opened = blocker.args[0]
        assert (opened.image == IMAGE).all() and opened.layer.rgba.shape == (64, 80, 4)
        assert reader.thread.objectName() == "fcnviewer-files"
    finally:
        assert reader.stop(2000)


def test_requests_know_which_results_are_stale() -> None:
    requests = Requests()
    predict = requests.make(PredictRequest, image=IMAGE)
    probe = requests.make(ProbeRequest, image=IMAGE)
    load = requests.make(LoadModelRequest)
    assert all(requests.is_current(r) for r in (predict, probe, load))
    requests.advance("probe")
    assert requests.is_current(predict) and not requests.is_current(probe) and requests.is_current(load)
    requests.advance("image")
    assert not requests.is_current(predict) and requests.is_current(load)
    requests.advance("model")
    assert not requests.is_current(load)
    ids = [requests.make(PredictRequest).request_id for _ in range(3)]
    assert ids == sorted(set(ids))


def test_stop_while_running_ends_the_thread_quickly(qtbot, ready: WorkerThread) -> None:  # type: ignore[no-untyped-def]
    import time

    worker = ready.worker
    big = np.random.default_rng(2).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    with qtbot.waitSignal(ready.signals.started, timeout=20000):
        for _ in range(3):
            worker.submit(Requests().make(PredictRequest, image=big))
    start = time.perf_counter()
    assert ready.stop(1000)
    assert time.perf_counter() - start < 1.0


def test_probe_on_a_window_equals_the_whole_image(qtbot, ready: WorkerThread, checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.receptive import branch_contributions, effective_receptive_fields
    from fcnviewer.core.windows import probe_window

    image = np.random.default_rng(3).integers(0, 255, (672, 736, 3), dtype=np.uint8)
    y, x = 340, 400
    with qtbot.waitSignal(ready.signals.returned, timeout=60000) as blocker:
        ready.worker.submit(Requests().make(ProbeRequest, image=image, y=y, x=x))
    probed = blocker.args[0].probe
    y0, x0 = probed.origin
    h, w = probed.fields["final"].shape
    assert ((y0 + 100) % 32, (x0 + 100) % 32) == (0, 0)  # aligned in the image as conv1_1 pads it
    assert h * w < image.shape[0] * image.shape[1] / 1.5  # a real window
    window = probe_window(ready.worker.predictor.model, y, x, image.shape[:2])
    assert window.corner == (y0, x0) and (window.y1 - y0, window.x1 - x0) == (h, w)

    loaded = load_checkpoint(checkpoint)
    inputs = loaded.info.preprocessing.to_tensor(image)
    full = effective_receptive_fields(loaded.model, inputs, y, x, class_index=probed.class_index)
    for stage, field in full.items():
        pasted = np.zeros_like(field.values)
        pasted[y0 : y0 + h, x0 : x0 + w] = probed.fields[stage]
        scale = float(field.values.max())
        np.testing.assert_allclose(pasted, field.values, atol=1e-4 * scale, err_msg=stage)
    whole = branch_contributions(loaded.model, inputs, y, x, probed.class_index)
    assert probed.contributions == pytest.approx(whole, rel=1e-4, abs=1e-5)


def test_a_stopped_worker_takes_no_more_work(qtbot) -> None:  # type: ignore[no-untyped-def]
    from shiboken6 import isValid

    thread = WorkerThread(warm_up=False)
    qtbot.waitUntil(thread.thread.isRunning, timeout=2000)
    assert thread.stop(2000)
    qtbot.waitUntil(lambda: not isValid(thread.worker), timeout=2000)  # deleted with its thread
    thread.worker.submit(Requests().make(PredictRequest, image=IMAGE))  # a late request: dropped, no error
    assert thread.worker.pending() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_worker_threads_keep_the_gui_threads_priority(ready: WorkerThread) -> None:
    """A worker below the GUI thread's priority holds the GIL while it waits for a core."""
    workers = [tid for tid in thread_times() if thread_name(tid).startswith("fcnviewer-worke")]
    gui = threading.get_native_id()
    assert workers and gui not in workers
    assert all(os.getpriority(os.PRIO_PROCESS, tid) == os.getpriority(os.PRIO_PROCESS, gui) for tid in workers)
