"""Soak: 1,000 rapid clicks and 200 image switches through the real window and worker.

Every request issued must end exactly once: answered (its result was used), dropped (its result
came back stale) or coalesced (a newer request of its kind replaced it before it ran); what is
shown at the end belongs to the last image and the last click; the GUI thread never stalls;
memory and threads stay bounded. ``test_soak.py`` runs this file in a process of its own;
``pytest -s tests/qt/soak_session.py`` runs it alone and prints the figures.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import QApplication

from tests.qt.conftest import Heartbeat, make_image

CLICKS = 1000
SWITCHES = 200
SIZES = [(64, 64), (96, 128), (80, 112), (128, 96), (72, 88)]
#: No gap between two heartbeats (wall clock) exceeds this. The GUI thread's own CPU time between
#: beats is printed beside it, and what else kept it: a core, the GIL, the disk, the hypervisor.
MAX_STALL_S = 0.050
#: Clicks posted at most between two turns of the event loop. Each costs the GUI 5-20 ms (boxes, report)
#: on a busy machine, so bursts of several would measure the test's own posting, not a stall of the window.
BURST = 1
MAX_RSS_GROWTH_MB = 150


def rss_mb() -> float:
    """Resident set size of this process, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class GilProbe(threading.Thread):
    """A Python thread that wakes every millisecond and records how late it woke: when the GUI
    thread stalls and this one is late too, the whole process waited (for the GIL or the machine)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.wakes: list[tuple[float, float]] = []  # (time, lateness)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            asked = time.perf_counter()
            time.sleep(0.001)
            now = time.perf_counter()
            self.wakes.append((now, now - asked - 0.001))

    def stop(self) -> None:
        self._done.set()
        self.join()

    def latest_within(self, start: float, end: float) -> float:
        """The longest lateness of a wake between ``start`` and ``end``."""
        return max((late for t, late in self.wakes if start <= t <= end + 0.01), default=0.0)


def running_qthreads() -> int:
    """QThread wrappers known to Python that are running."""
    return sum(1 for o in gc.get_objects() if type(o) is QThread and o.isRunning())


@pytest.mark.slow
def test_soak_clicks_and_image_switches(qtbot, settings, checkpoint: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.qt.main_window import MainWindow
    from fcnviewer.viewer.protocol import OpenImageRequest, PredictRequest, ProbeRequest

    t_start = time.perf_counter()
    load = os.getloadavg()[0]
    paths = [make_image(tmp_path / f"img{i}.png", h, w, seed=10 + i) for i, (h, w) in enumerate(SIZES)]
    pixels = {p: np.asarray(Image.open(p).convert("RGB")) for p in paths}
    QApplication.processEvents()
    threads_before, qthreads_before = threading.active_count(), running_qthreads()

    win = MainWindow(settings, device="cpu")
    qtbot.addWidget(win)
    win.resize(1000, 650)
    win.show()
    with qtbot.waitSignal(win.prediction_shown, timeout=60000):
        win.load_model(checkpoint)
        win.open_paths([paths[0]])

    # ---- book-keeping: every request issued, and how each one ended
    issued: dict[int, object] = {}  # id -> request, in issue order
    started: Counter[int] = Counter()
    finished: Counter[int] = Counter()
    answered: list[object] = []  # requests whose results the window used, in order
    dropped: list[object] = []  # requests whose results came back stale
    errored: list[tuple[object, BaseException]] = []
    for thread in (win.worker_thread, win.files_thread):
        worker = thread.worker
        real_submit = worker.submit

        def submit(request, _real=real_submit) -> None:  # type: ignore[no-untyped-def]
            issued[request.request_id] = request
            _real(request)

        worker.submit = submit  # type: ignore[method-assign]
        signals = thread.signals
        signals.started.connect(lambda r: started.update([r.request_id]))
        signals.finished.connect(lambda r: finished.update([r.request_id]))
        signals.errored.connect(lambda r, m: errored.append((r, m)))
        # Classify each result before the window sees it (the window advances generations as it shows one).
        signals.returned.disconnect(win.controller._on_job_returned)

        def classify(result) -> None:  # type: ignore[no-untyped-def]
            (answered if win.requests.is_current(result.request) else dropped).append(result.request)
            t = time.perf_counter()
            win.controller._on_job_returned(result)
            handled.append((time.perf_counter() - t, type(result).__name__))

        signals.returned.connect(classify)

    handled: list[tuple[float, str]] = []  # how long the window took to show each result
    click_cost: list[float] = []  # GUI time of one click (pin, boxes, report, request)
    clicks: list[tuple[int, int]] = []
    win.canvas.clicked.connect(lambda y, x, _keep: clicks.append((y, x)))

    heartbeat = Heartbeat()

    rng = np.random.default_rng(1234)
    viewport = win.canvas.viewport()
    accepted = ignored = 0  # clicks that asked the worker for a probe / that came before any prediction
    rss_warm = peak = 0.0
    opened: list[Path] = []

    def click_burst(n: int) -> None:
        nonlocal accepted, ignored
        height, width = win.model.image.shape[:2]
        for _ in range(n):
            y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
            before = len(issued)
            t = time.perf_counter()
            qtbot.mouseClick(
                viewport, Qt.MouseButton.LeftButton, pos=win.canvas.scene_point(y + 0.5, x + 0.5).toPoint()
            )
            click_cost.append(time.perf_counter() - t)
            if len(issued) > before:
                accepted += 1
            else:
                ignored += 1

    collections: list[tuple[float, int]] = []  # (seconds, generation) of each automatic collection
    gc_started = [0.0]

    measuring = [True]

    def on_gc(phase: str, info: dict) -> None:  # type: ignore[type-arg]
        if not measuring[0]:
            return
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            collections.append((time.perf_counter() - gc_started[0], info["generation"]))

    gc.callbacks.append(on_gc)
    probe = GilProbe()
    probe.start()
    heartbeat.start()
    soak_start = time.perf_counter()
    for round_ in range(SWITCHES):
        if round_ == 20:  # warmed up: caches, allocator pools and layers exist by now
            heartbeat.stop()  # a full collection is the test's own pause, not the GUI's
            measuring[0] = False
            gc.collect()
            # What earlier tests left on the heap is not the window's: keep it out of the collector's
            # full passes (it would otherwise be walked again and again during the soak).
            gc.freeze()
            rss_warm = peak = rss_mb()
            measuring[0] = True
            heartbeat.start()
        path = paths[(round_ + 1) % len(paths)]
        win.open_paths([path])
        opened.append(path)
        target = (round_ + 1) * CLICKS // SWITCHES
        if round_ < SWITCHES - 1 and win.model.prediction is not None:
            # Straight away, before the new image arrives: clicks on the old one, stale soon.
            click_burst(min(BURST, target - accepted))
        else:  # the last clicks go to the last image
            qtbot.waitUntil(lambda p=path: win.image_path == p and win.model.prediction is not None, timeout=30000)
        QApplication.processEvents()
        while accepted < target:
            if win.model.prediction is None:
                qtbot.wait(1)  # nothing to click on until the new image's prediction is shown
                continue
            click_burst(min(int(rng.integers(1, BURST + 1)), target - accepted))
            QApplication.processEvents()
        if round_ >= 20:
            peak = max(peak, rss_mb())
    soak_seconds = time.perf_counter() - soak_start

    # ---- let everything settle: the newest request of each kind has finished, nothing waits
    newest = {
        kind: max(i for i, r in issued.items() if type(r) is kind)
        for kind in (OpenImageRequest, PredictRequest, ProbeRequest)
    }

    def settled() -> bool:
        return (
            all(finished[i] for i in newest.values())
            and not win.worker_thread.worker.pending()
            and not win.files_thread.worker.pending()
            and all(finished[i] == started[i] for i in issued)
        )

    try:
        qtbot.waitUntil(settled, timeout=30000)
    except Exception:
        print(
            "not settled:",
            {k.__name__: (i, started[i], finished[i]) for k, i in newest.items()},
            win.worker_thread.worker.pending(),
            win.files_thread.worker.pending(),
            [i for i in issued if finished[i] != started[i]],
            f"soak {soak_seconds:.1f} s",
            errored[:3],
        )
        raise
    QApplication.processEvents()
    heartbeat.stop()
    probe.stop()
    gc.callbacks.remove(on_gc)
    gc.unfreeze()
    gaps = heartbeat.gaps
    longest, busiest = max(gaps), max(heartbeat.cpu_gaps)
    worst = max(range(len(gaps)), key=gaps.__getitem__)
    worst_cpu, worst_queue = heartbeat.cpu_gaps[worst], heartbeat.queue_waits[worst]
    events, worst_end = heartbeat.events[worst], heartbeat.times[worst]
    probe_late = probe.latest_within(worst_end - longest, worst_end)
    longest_gc = max(collections, default=(0.0, -1))
    peak = max(peak, rss_mb())
    gc.collect()
    rss_end = rss_mb()
    growth = rss_end - rss_warm

    # ---- (a) every request ended exactly once
    soak_ids = [i for i, r in issued.items() if isinstance(r, (OpenImageRequest, PredictRequest, ProbeRequest))]
    answered_ids = Counter(r.request_id for r in answered)
    dropped_ids = Counter(r.request_id for r in dropped)
    coalesced = [i for i in soak_ids if not started[i]]
    probes = [i for i in soak_ids if isinstance(issued[i], ProbeRequest)]
    kinds = Counter(type(issued[i]).__name__ for i in soak_ids)
    figures = (
        f"requests {len(soak_ids)} (probes {len(probes)}, opens {kinds['OpenImageRequest']}, "
        f"predictions {kinds['PredictRequest']}); answered {len(answered_ids)}, "
        f"superseded {len(dropped_ids) + len(coalesced)} "
        f"(stale results dropped {len(dropped_ids)}, coalesced {len(coalesced)}), "
        f"errored {len(errored)}; clicks {len(clicks)} (probing {accepted}, before a prediction {ignored}); "
        f"RSS warm {rss_warm:.0f} MB, peak {peak:.0f} MB, end {rss_end:.0f} MB, growth {growth:+.0f} MB; "
        f"longest GUI stall {longest * 1000:.1f} ms wall clock ({len(gaps)} beats, "
        f"{sum(g > MAX_STALL_S for g in gaps)} gaps over {MAX_STALL_S * 1000:.0f} ms; the GUI thread's own work "
        f"at most {busiest * 1000:.1f} ms between two beats; in the longest gap {worst_cpu * 1000:.1f} ms of its "
        f"own work, {worst_queue * 1000:.1f} ms waiting for a core, {events.sleeps} sleeps, "
        f"{events.preempted} preemptions, {events.major_faults} major and {events.minor_faults} minor page faults, "
        f"{events.steal_s * 1000:.0f} ms stolen by the hypervisor, at {worst_end - soak_start:.1f} s into the soak, "
        f"while a Python thread beside it woke up to {probe_late * 1000:.1f} ms late "
        f"and the process's threads did: {heartbeat.longest_gap_report()}; "
        f"the heartbeat's own bookkeeping (outside the gaps) at most {max(heartbeat.bookkeeping) * 1000:.1f} ms, "
        f"{sum(heartbeat.bookkeeping) / len(heartbeat.bookkeeping) * 1000:.2f} ms a beat; "
        f"load average {load:.1f} "
        f"on {os.cpu_count()} cores at the start); "
        f"one click costs the GUI "
        f"{np.median(click_cost) * 1000:.1f} ms (median), {max(click_cost) * 1000:.1f} ms (max); showing a result "
        f"{max(d for d, _ in handled) * 1000:.1f} ms (max); longest garbage collection "
        f"{longest_gc[0] * 1000:.1f} ms (generation {longest_gc[1]}, {len(collections)} collections); "
        f"soak {soak_seconds:.1f} s"
    )
    print("\nsoak:", figures)
    assert accepted == CLICKS and len(opened) == SWITCHES, figures
    assert len(clicks) == accepted + ignored, f"mouse clicks lost: {figures}"
    assert len(probes) == CLICKS, figures
    assert not errored, f"{errored[:3]}; {figures}"
    for i in soak_ids:
        outcomes = answered_ids[i] + dropped_ids[i] + (0 if started[i] else 1)
        assert outcomes == 1, f"request {i} ({type(issued[i]).__name__}) ended {outcomes} times; {figures}"
        assert started[i] <= 1 and finished[i] == started[i], f"request {i}: {started[i]} starts"
    for i in coalesced:  # only a newer request of the same kind replaces one
        assert any(j > i and type(issued[j]) is type(issued[i]) for j in soak_ids), f"request {i} vanished; {figures}"
    for kind, i in newest.items():
        assert answered_ids[i] == 1, f"the last {kind.__name__} ({i}) was not answered; {figures}"

    # ---- (b) what is shown belongs to the last image and the last click
    last_path, last_click = opened[-1], clicks[-1]
    assert win.image_path == last_path
    np.testing.assert_array_equal(win.model.image, pixels[last_path])
    last_predict = next(r for r in reversed(answered) if isinstance(r, PredictRequest))
    assert last_predict.request_id == newest[PredictRequest] and last_predict.image is win.model.image
    assert win.model.prediction.size == pixels[last_path].shape[:2]
    assert win.model.mask_layer.labels.shape == pixels[last_path].shape[:2]
    last_probe = next(r for r in reversed(answered) if isinstance(r, ProbeRequest))
    assert last_probe.request_id == newest[ProbeRequest] and (last_probe.y, last_probe.x) == last_click
    assert last_probe.image is win.model.image
    assert [(p.y, p.x) for p in win.model.boxes_layer.pins] == [last_click]
    assert win.model.erf_layer.has_data and win.model.erf_layer.data.shape == pixels[last_path].shape[:2]
    (report,) = win.reports
    assert (report.y, report.x) == last_click and report.contributions, figures

    # ---- (c) responsiveness, (d) memory
    assert longest < MAX_STALL_S, f"the GUI thread stalled {longest * 1000:.1f} ms; {figures}"
    assert growth < MAX_RSS_GROWTH_MB, f"RSS grew {growth:.0f} MB after warm-up; {figures}"

    # ---- threads back to the baseline after closing
    close_start = time.perf_counter()
    win.close()
    for thread in (win.worker_thread, win.files_thread):
        assert thread.thread.wait(10000), "a worker thread did not end"
    close_seconds = time.perf_counter() - close_start
    QApplication.processEvents()
    threads_after, qthreads_after = threading.active_count(), running_qthreads()
    print(
        f"soak: threads {threads_before} -> {threads_after}, running QThreads {qthreads_before} -> {qthreads_after}, "
        f"close {close_seconds:.2f} s, whole test {time.perf_counter() - t_start:.1f} s"
    )
    assert threads_after <= threads_before, f"Python threads {threads_before} -> {threads_after}"
    assert qthreads_after <= qthreads_before, f"running QThreads {qthreads_before} -> {qthreads_after}"
