"""Qt test fixtures: offscreen platform, temp settings, tiny random checkpoints, sample images."""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import astuple, dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication


class Heartbeat:
    """A QTimer on the GUI thread that records, between two beats, the wall-clock gap, the GUI
    thread's own CPU time, the time it spent runnable but waiting for a core (Linux
    schedstat, :func:`thread_times`; 0 elsewhere), and what else happened to it meanwhile
    (:class:`ThreadEvents`): a long gap is a stall the user would see. For the longest gap it
    also keeps what every thread of the process did meanwhile (:func:`thread_times`), to name
    the thread that ran while the GUI thread waited.

    A gap runs from the end of one beat's own bookkeeping to the start of the next: reading
    ``/proc`` releases the GIL, and winning it back from a busy worker can take a switch
    interval (5 ms) per read, which is the probe's cost, not the window's. ``bookkeeping``
    records it."""

    def __init__(self, interval_ms: int = 5) -> None:
        self.longest_gap_threads: dict[str, tuple[float, float]] = {}  # name -> (CPU s, waiting for a core s)
        self._last_threads: dict[int, tuple[float, float]] = {}
        self._names: dict[int, str] = {}
        self.gaps: list[float] = []
        self._longest = 0.0
        self.cpu_gaps: list[float] = []
        self.queue_waits: list[float] = []
        self.events: list[ThreadEvents] = []
        self.times: list[float] = []
        self.bookkeeping: list[float] = []  # seconds each beat spent measuring
        self._tid = threading.get_native_id()  # the GUI thread's, which runs the timer
        self._last = self._last_cpu = 0.0
        self._last_events = ThreadEvents.now()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._beat)

    def start(self) -> None:
        """Start (or restart) measuring from now."""
        self._last_events = ThreadEvents.now()
        self._last_threads = thread_times()
        self._last, self._last_cpu = time.perf_counter(), time.thread_time()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _beat(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        events, threads = ThreadEvents.now(), thread_times()
        gap, before = now - self._last, self._last_threads
        if gap > self._longest:
            self._longest = gap
            self.longest_gap_threads = {}
            for tid, (run, wait) in threads.items():
                run_before, wait_before = before.get(tid, (0.0, 0.0))
                self.longest_gap_threads[f"{self._name(tid)} ({tid})"] = (run - run_before, wait - wait_before)
        self.gaps.append(gap)
        self.cpu_gaps.append(cpu - self._last_cpu)
        self.queue_waits.append(threads.get(self._tid, (0.0, 0.0))[1] - before.get(self._tid, (0.0, 0.0))[1])
        self.events.append(events - self._last_events)
        self.times.append(now)
        self._last_events, self._last_threads = events, threads
        self._last, self._last_cpu = time.perf_counter(), time.thread_time()
        self.bookkeeping.append(self._last - now)

    def _name(self, tid: int) -> str:
        if tid not in self._names:
            self._names[tid] = thread_name(tid)
        return self._names[tid]

    def longest_gap_report(self, at_least_s: float = 0.001) -> str:
        """The threads that ran or waited for a core at least ``at_least_s`` in the longest gap."""
        busy = sorted(self.longest_gap_threads.items(), key=lambda item: -sum(item[1]))
        lines = [
            f"{name} ran {run * 1000:.1f} ms, waited {wait * 1000:.1f} ms for a core"
            for name, (run, wait) in busy
            if max(run, wait) >= at_least_s
        ]
        return ", ".join(lines) or "no thread ran"


@dataclass(frozen=True)
class ThreadEvents:
    """Counters of the calling thread (``getrusage(RUSAGE_THREAD)``) and the machine's stolen time."""

    sleeps: int = 0  # voluntary context switches: the thread blocked (GIL, lock, I/O)
    preempted: int = 0  # involuntary context switches
    major_faults: int = 0  # page faults that read from disk
    minor_faults: int = 0
    steal_s: float = 0.0  # time the hypervisor ran something else on this machine's cores

    @classmethod
    def now(cls) -> ThreadEvents:
        usage = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
        return cls(usage.ru_nvcsw, usage.ru_nivcsw, usage.ru_majflt, usage.ru_minflt, _steal())

    def __sub__(self, other: ThreadEvents) -> ThreadEvents:
        return ThreadEvents(*(a - b for a, b in zip(astuple(self), astuple(other), strict=True)))


def thread_times() -> dict[int, tuple[float, float]]:
    """Seconds each thread of this process has run and waited for a core (Linux schedstat; {} elsewhere)."""
    times: dict[int, tuple[float, float]] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return times
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/schedstat", encoding="ascii") as handle:
                run, wait = handle.read().split()[:2]
        except (OSError, ValueError):
            continue
        times[int(tid)] = (int(run) / 1e9, int(wait) / 1e9)
    return times


def thread_name(tid: int) -> str:
    """The name of this process's thread ``tid`` (Linux; "?" if unknown)."""
    try:
        with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


def _steal() -> float:
    """Seconds of all cores stolen by the hypervisor since boot (/proc/stat; 0 if unknown)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def make_checkpoint(path: Path, arch: str = "fcn8s", num_classes: int = 4, seed: int = 0) -> Path:
    """A tiny random FCN (width 1/16) whose score layers are not zero, saved to ``path``."""
    import torch

    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint
    from fcnviewer.core.models import ArchSpec, build_model

    spec = ArchSpec(arch, num_classes=num_classes, width=1 / 16)
    torch.manual_seed(seed)
    model = build_model(spec)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("score"):
                param.normal_(0, 0.5)
    return save_checkpoint(path, model, ModelInfo.default_for(spec))


def make_image(path: Path, height: int = 96, width: int = 128, seed: int = 0) -> Path:
    """A random RGB image with a bright rectangle, saved to ``path``."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    image[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = (220, 40, 40)
    Image.fromarray(image).save(path)
    return path


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny FCN-8s with 4 classes."""
    return make_checkpoint(tmp_path_factory.mktemp("models") / "tiny8s.safetensors")


@pytest.fixture(scope="session")
def checkpoint32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny FCN-32s with 3 classes."""
    return make_checkpoint(tmp_path_factory.mktemp("models") / "tiny32s.pth", arch="fcn32s", num_classes=3, seed=1)


@pytest.fixture
def image_path(tmp_path: Path) -> Path:
    """A 96x128 test image."""
    return make_image(tmp_path / "scene.png")


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """Settings in a temp file, never the user's."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings: QSettings) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A shown main window with temp settings, on the CPU in float32 (results comparable with the
    core's to float tolerance on any CPU); closed (worker stopped) afterwards."""
    from fcnviewer.qt.main_window import MainWindow

    win = MainWindow(settings, device="cpu", precision="float32")
    qtbot.addWidget(win)
    win.resize(1100, 700)
    win.show()
    yield win
    win.close()
    for thread in (win.worker_thread, win.files_thread):
        assert thread.thread.wait(60000), "a worker thread did not end"


@pytest.fixture
def loaded_window(qtbot, window, checkpoint: Path, image_path: Path):  # type: ignore[no-untyped-def]
    """The window with the tiny FCN-8s loaded and its prediction of the test image shown."""
    with qtbot.waitSignal(window.prediction_shown, timeout=30000):
        window.load_model(checkpoint)
        window.open_paths([image_path])
    return window


@pytest.fixture(autouse=True)
def _no_leaked_windows(qapp: QApplication) -> Iterator[None]:
    """Close error dialogs a test left open; fail when a test leaves another window open."""
    before = set(QApplication.topLevelWidgets())
    yield
    for widget in QApplication.topLevelWidgets():
        if widget.isVisible() and widget.objectName() in ("error-dialog", "notice-dialog"):
            widget.close()
    QApplication.processEvents()
    leaked = [w for w in QApplication.topLevelWidgets() if w not in before and w.isVisible()]
    assert not leaked, f"windows left open: {leaked}"
