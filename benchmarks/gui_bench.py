"""GUI timings of the viewer, offscreen: ``QT_QPA_PLATFORM=offscreen python benchmarks/gui_bench.py [--quick]``.

Prints one JSON line. Measured on the real :class:`fcnviewer.qt.main_window.MainWindow`:

- ``stall``: the longest gap between ticks of a 5 ms heartbeat ``QTimer`` on the GUI thread
  while the network runs on a 2048x2048 image (the worker thread does the work);
- ``open_2048_to_overlays_s`` / ``open_512_to_overlays_s``: ``open_paths([image])`` to the
  ``prediction_shown`` signal plus a repaint (the 512x512 one with the bundled model);
- ``toggle_layer_s`` / ``opacity_s``: the setter + ``QApplication.processEvents()`` + a
  synchronous repaint of the canvas, on the 2048x2048 view (median of several);
- ``click_to_boxes_s``: ``pin_pixel`` (what a click does) to the RF boxes drawn (repaint);
  ``click_to_erf_shown_s``: to the effective RF arriving from the worker (``probe_shown``).

``--region`` instead times the readable ERFs (#20): ``region_to_erf_shown_s``, a Ctrl+drag's release
(the view box's ``region_dragged``) to the region's ERF (every stage) drawn, with the bundled model at
512x512 and a full-width FCN-8s (random weights) at 500x500, beside a click's (``click_to_erf_shown_s``,
the same work for one pixel plus its branch contributions); ``smoothgrad_per_copy_s``, what each
further noisy copy of SmoothGrad adds to it (the time with ``copies`` copies minus one copy's, over
``copies - 1``); ``_cpu_s``: the same in the process's CPU time (all threads), which a machine
busy with other work inflates less than the wall clock.

``--startup`` instead prints how long ``import fcnviewer.qt.main_window`` + ``MainWindow()`` +
``show()`` + the first paint take in this fresh process (``run.py`` measures from the launch).
Without the bundled model, a random width-1/8 FCN-8s checkpoint stands in (``note`` says so).
Any failure is reported as ``{"error": ...}``, never a crash.
"""

from __future__ import annotations

import time

STARTED = time.time()
STARTED_PERF = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def startup() -> dict[str, Any]:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    t0 = time.perf_counter()
    from fcnviewer.qt.main_window import MainWindow

    imported = time.perf_counter() - t0
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_dir = tempfile.mkdtemp(prefix="fcnviewer-bench-")
    t1 = time.perf_counter()
    window = MainWindow(QSettings(str(Path(settings_dir) / "settings.ini"), QSettings.Format.IniFormat), device="cpu")
    constructed = time.perf_counter() - t1
    window.show()
    app.processEvents()
    window.repaint()
    shown_at = time.time()
    result = {
        "import_main_window_s": round(imported, 3),
        "construct_window_s": round(constructed, 3),
        "shown_after_start_s": round(time.perf_counter() - STARTED_PERF, 3),
        "shown_at_epoch": shown_at,
    }
    window.close()
    app.processEvents()
    return result


class Heartbeat:
    """A 5 ms QTimer on the GUI thread; records the longest gap between its ticks."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last = 0.0

    def start(self) -> None:
        self.gaps = []
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> dict[str, Any]:
        self.timer.stop()
        gaps = sorted(self.gaps)
        return {
            "longest_stall_ms": round(1000 * gaps[-1], 1) if gaps else None,
            "p99_gap_ms": round(1000 * gaps[int(0.99 * (len(gaps) - 1))], 1) if gaps else None,
            "ticks": len(gaps),
            "heartbeat_ms": self.timer.interval(),
        }

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now


def wait_for(app: Any, signal: Any, timeout_s: float, errors: list[str]) -> float | None:
    """Process events until ``signal`` fires (seconds waited) or ``timeout_s`` or an error shows (None)."""
    fired: list[float] = []
    t0 = time.perf_counter()

    def on_fire(*_: Any) -> None:
        if not fired:
            fired.append(time.perf_counter() - t0)

    signal.connect(on_fire)
    try:
        seen = len(errors)
        while not fired and time.perf_counter() - t0 < timeout_s and len(errors) == seen:
            app.processEvents()
            time.sleep(0.001)
    finally:
        signal.disconnect(on_fire)
    return fired[0] if fired else None


def repaint(app: Any, window: Any) -> None:
    app.processEvents()
    window.canvas.viewport().repaint()


def timed(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 5)


def gui(quick: bool) -> dict[str, Any]:
    from PIL import Image
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from benchmarks.run import test_image
    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint
    from fcnviewer.core.models import ArchSpec, build_model, randomize_weights
    from fcnviewer.core.resources import default_checkpoint_path
    from fcnviewer.qt.main_window import MainWindow

    result: dict[str, Any] = {"platform": os.environ.get("QT_QPA_PLATFORM")}
    folder = Path(tempfile.mkdtemp(prefix="fcnviewer-bench-"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat), device="cpu")
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    errors: list[str] = []
    window.error_shown.connect(errors.append)

    checkpoint: Path | None = None
    if not default_checkpoint_path().exists():
        spec = ArchSpec("fcn8s", 21, 1 / 8)
        checkpoint = save_checkpoint(
            folder / "fcn8s-w8-random.safetensors", randomize_weights(build_model(spec)), ModelInfo.default_for(spec)
        )
        result["note"] = "bundled model missing: a random width-1/8 FCN-8s stands in"
    t0 = time.perf_counter()
    window.load_model(checkpoint)
    if wait_for(app, window.model_loaded, 300, errors) is None:
        return {**result, "error": f"model did not load: {errors[-1] if errors else 'timeout'}"}
    result["model"] = window.model_label.text()
    result["load_model_s"] = round(time.perf_counter() - t0, 3)

    big, small, small_b = folder / "big-2048.png", folder / "small-512.png", folder / "small-512b.png"
    Image.fromarray(test_image(2048, 2048)).save(big)
    Image.fromarray(test_image(512, 512, seed=1)).save(small)
    Image.fromarray(test_image(512, 512, seed=2)).save(small_b)

    # Open 2048x2048: the network runs on the worker while a 5 ms heartbeat ticks here.
    heartbeat = Heartbeat(5)
    heartbeat.start()
    t0 = time.perf_counter()
    window.open_paths([big])
    waited = wait_for(app, window.prediction_shown, 900, errors)
    repaint(app, window)
    result["stall_while_network_runs_2048"] = heartbeat.stop()
    if waited is None:
        return {**result, "error": f"no prediction for the 2048x2048 image: {errors[-1] if errors else 'timeout'}"}
    result["open_2048_to_overlays_s"] = round(time.perf_counter() - t0, 3)
    result["prediction_seconds_2048"] = round(window.model.prediction.seconds, 3)
    result["tiles_2048"] = window.model.prediction.tiles

    runs = 5 if quick else 15
    layer = window.model.mask_layer

    def toggle() -> None:
        layer.visible = not layer.visible
        repaint(app, window)

    values = iter([0.2, 0.8] * runs)

    def opacity() -> None:
        layer.opacity = next(values)
        repaint(app, window)

    result["toggle_layer_s"] = timed(toggle, runs * 2)
    result["opacity_s"] = timed(opacity, runs * 2)
    stage_layers = [lay for lay in window.model.layers if lay.name.startswith("stage")]
    if stage_layers:
        stage = stage_layers[0]

        def toggle_stage() -> None:
            stage.visible = not stage.visible
            repaint(app, window)

        result["toggle_stage_layer_s"] = timed(toggle_stage, runs * 2)
        result["stage_layer"] = stage.name
    result["repaint_only_s"] = timed(lambda: repaint(app, window), runs)

    # A click: boxes now (GUI thread), effective RF when the worker sends it.
    clicks, erf = [], []
    heartbeat.start()
    for i in range(2 if quick else 4):
        y, x = 1024 + 37 * i, 700 + 53 * i
        t0 = time.perf_counter()
        boxes = window.pin_pixel(y, x)
        repaint(app, window)
        clicks.append(time.perf_counter() - t0)
        waited = wait_for(app, window.probe_shown, 300, errors)
        repaint(app, window)
        if waited is None:
            result["click_error"] = errors[-1] if errors else "no effective RF within 300 s"
            break
        erf.append(time.perf_counter() - t0)
    result["stall_while_erf_runs_2048"] = heartbeat.stop()
    result["click_to_boxes_s"] = round(statistics.median(clicks), 4) if clicks else None
    result["click_to_erf_shown_s"] = round(statistics.median(erf), 3) if erf else None
    result["boxes_drawn"] = len(boxes) if clicks else 0

    # Open a 512x512 image: to the overlays shown (two different images in turn).
    opened = []
    for i in range(2 if quick else 5):
        path = (small, small_b)[i % 2]
        t0 = time.perf_counter()
        window.open_paths([path])
        waited = wait_for(app, window.prediction_shown, 900, errors)
        repaint(app, window)
        if waited is None:
            return {**result, "error": f"no prediction for {path.name}: {errors[-1] if errors else 'timeout'}"}
        opened.append(time.perf_counter() - t0)
    result["open_512_to_overlays_s"] = round(statistics.median(opened), 3)
    result["prediction_seconds_512"] = round(window.model.prediction.seconds, 3)
    result["worker_threads_note"] = "the worker sets torch threads to cores - 1 (one core left to the GUI)"
    window.close()
    app.processEvents()
    return result


def region_erf(quick: bool) -> dict[str, Any]:
    """Ctrl+drag release to the region's ERF shown; SmoothGrad's time per noisy copy (see the module's doc)."""
    from PIL import Image
    from PySide6.QtCore import QRectF, QSettings
    from PySide6.QtWidgets import QApplication

    from benchmarks.run import test_image
    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint
    from fcnviewer.core.models import ArchSpec, build_model, randomize_weights
    from fcnviewer.qt.main_window import MainWindow

    folder = Path(tempfile.mkdtemp(prefix="fcnviewer-bench-"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat), device="cpu")
    window.controller.domain_noted = True  # no notice dialog over the timings
    window.resize(1400, 900)
    window.show()
    errors: list[str] = []
    window.error_shown.connect(errors.append)
    full = ArchSpec("fcn8s", 21)
    full_path = save_checkpoint(
        folder / "fcn8s.safetensors", randomize_weights(build_model(full)), ModelInfo.default_for(full)
    )
    copies = 2 if quick else 4
    result: dict[str, Any] = {"platform": os.environ.get("QT_QPA_PLATFORM"), "smoothgrad_copies": copies}
    for name, checkpoint, size in (("bundled_512", None, 512), ("fcn8s_full_500", full_path, 500)):
        image = folder / f"{name}.png"
        Image.fromarray(test_image(size, size, seed=3)).save(image)
        window.model.erf_layer.copies, window.model.erf_layer.noise = 1, 10.0
        window.load_model(checkpoint)
        wait_for(app, window.controller.model_loaded, 900, errors)  # else the old model's prediction may show first
        window.open_paths([image])
        if wait_for(app, window.prediction_shown, 900, errors) is None:
            return {**result, "error": f"no prediction with {name}: {errors[-1] if errors else 'timeout'}"}
        region = QRectF(size * 0.35, size * 0.4, size * 0.2, size * 0.15)  # image pixels, as the view box maps them

        def shown(region: QRectF = region) -> tuple[float, float] | None:
            """Seconds to the region's ERF drawn: wall clock, and the process's CPU time (all threads)."""
            t0, c0 = time.perf_counter(), time.process_time()
            window.canvas.view.region_dragged.emit(region)  # what releasing a Ctrl+drag does
            if wait_for(app, window.rf_tools.region_shown, 900, errors) is None:
                return None
            repaint(app, window)
            return time.perf_counter() - t0, time.process_time() - c0

        runs = [shown() for _ in range(1 if quick else 3)]
        window.model.erf_layer.copies = copies  # probes the region again: wait for it, then time it
        wait_for(app, window.rf_tools.region_shown, 900, errors)
        smoothed = shown()
        if None in runs or smoothed is None:
            return {**result, "error": f"no region ERF with {name}: {errors[-1] if errors else 'timeout'}"}
        median, cpu = (statistics.median(r[i] for r in runs) for i in (0, 1))  # type: ignore[index]
        smooth, smooth_cpu = smoothed
        window.model.erf_layer.copies = 1  # probes the region again
        wait_for(app, window.rf_tools.region_shown, 900, errors)
        t0 = time.perf_counter()
        window.pin_pixel(size // 2, size // 2)
        click = wait_for(app, window.probe_shown, 900, errors)
        result[name] = {
            "click_to_erf_shown_s": None if click is None else round(time.perf_counter() - t0, 3),
            "model": window.model_label.text(),
            "region_to_erf_shown_s": round(median, 3),
            "region_to_erf_shown_cpu_s": round(cpu, 3),
            "region_to_smoothgrad_shown_s": round(smooth, 3),
            "smoothgrad_per_copy_s": round((smooth - median) / (copies - 1), 3),
            "smoothgrad_per_copy_cpu_s": round((smooth_cpu - cpu) / (copies - 1), 3),
            "window": list(window.model.erf_layer.data.shape),
        }
    window.close()
    app.processEvents()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--startup", action="store_true", help="only time import + window construction + show")
    parser.add_argument("--region", action="store_true", help="only time region ERFs and SmoothGrad (#20)")
    args = parser.parse_args()
    try:
        result = startup() if args.startup else region_erf(args.quick) if args.region else gui(args.quick)
    except Exception as exc:  # report, never crash: run.py puts this into its JSON
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # the worker thread may be inside a long operation; do not wait for it


if __name__ == "__main__":
    main()
