"""Memory of the viewer over a long session: ``python benchmarks/memory_bench.py [--imports]``.

Prints one JSON line. Drives the real :class:`fcnviewer.qt.main_window.MainWindow` (in a real
window with ``DISPLAY`` set and ``QT_QPA_PLATFORM=xcb``, else offscreen) through issue #24's
scenario: a folder of ``--images`` images of random sizes (``--min-side`` to ``--max-side``
pixels, one of them a broken file), stepped through with ``step_image(+1)`` (what the Right
key does) for ``--warm-up`` laps and then ``--laps`` more, with a click (``pin_pixel``, its
effective receptive field awaited) on three images out of four. A lap shows every readable
image once. Reported: RSS and its parts (``/proc/self/smaps_rollup``, glibc's heap) after each
stage of the launch and after each lap and a ``--pause`` (a user looking at the image: the
worker is idle), ``growth_mb`` (the last lap's RSS minus the last warm-up lap's), the same of
the highest RSS seen while busy (``busy_rss`` after each step, ``busy_growth_mb``) and the
seconds taken.

``--imports`` instead measures, in this fresh process, what each step of the launch costs
(numpy and Pillow, Qt and pyqtgraph, torch, the network stack, the bundled model, a
predictor, the first predictions), with no window.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def memory() -> dict[str, float]:
    """RSS and its parts in MB: anonymous and file-backed pages, and glibc's heap (in use, free)."""
    from fcnviewer.core.memory import resident_mb

    parts = {"rss": round(resident_mb() or 0.0, 1)}
    rollup = Path("/proc/self/smaps_rollup")
    if rollup.exists():
        fields = dict(line.split(":", 1) for line in rollup.read_text().splitlines()[1:])
        kb = {name: int(value.split()[0]) for name, value in fields.items()}
        parts["anonymous"] = round(kb["Anonymous"] / 1024, 1)
        parts["file"] = round((kb["Rss"] - kb["Anonymous"]) / 1024, 1)
    heap = malloc_info()
    if heap:
        parts.update(heap)
    return parts


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def malloc_info() -> dict[str, float]:
    """glibc's heap in MB over all arenas: in use (``malloc_used``) and free but kept (``malloc_free``)."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return {}
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return {
        "malloc_used": round((info.uordblks + info.hblkhd) / 2**20, 1),
        "malloc_free": round(info.fordblks / 2**20, 1),
    }


# ---------------------------------------------------------------------- the launch, step by step


def imports() -> dict[str, Any]:
    """RSS after each step of a launch without a window (this process must be fresh)."""
    stages: dict[str, Any] = {"python": memory()}
    import numpy as np
    import PIL.Image  # noqa: F401

    stages["numpy_pillow"] = memory()
    import pyqtgraph  # noqa: F401
    import PySide6.QtWidgets  # noqa: F401

    stages["qt_pyqtgraph"] = memory()
    import torch

    stages["torch"] = memory()
    from fcnviewer.core.inference import Predictor

    stages["network_stack"] = {**memory(), "torchvision_imported": "torchvision" in sys.modules}
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.resources import default_checkpoint_path

    loaded = load_checkpoint(default_checkpoint_path())
    stages["bundled_model"] = {**memory(), "parameters_mb": round(_parameter_bytes(loaded.model) / 2**20, 1)}
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    predictor = Predictor(loaded, device="cpu")
    stages["predictor"] = {**memory(), "dtype": str(predictor.dtype)}
    from benchmarks.run import test_image

    predictor.predict(test_image(384, 384))
    stages["first_predict_384"] = memory()
    for side in (200, 333, 512, 640, 700):
        predictor.predict(test_image(side, side - 37, seed=side))
    stages["five_more_shapes"] = memory()
    predictor.probe(test_image(384, 384), 100, 100)
    stages["first_probe_384"] = memory()
    stages["torchvision_imported"] = "torchvision" in sys.modules
    stages["numpy"] = np.__version__
    stages["torch_version"] = torch.__version__
    return stages


def _parameter_bytes(model: Any) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


# ---------------------------------------------------------------------- the session


def make_folder(folder: Path, count: int, min_side: int, max_side: int, seed: int = 24) -> list[Path]:
    """``count`` PNGs of random sizes in ``folder``, the middle one a broken file; their paths."""
    import numpy as np
    from PIL import Image

    from benchmarks.run import test_image

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"img{i:03d}.png"
        if i == count // 2:
            path.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
        else:
            height, width = (int(side) for side in rng.integers(min_side, max_side + 1, 2))
            Image.fromarray(test_image(height, width, seed=i)).save(path)
        paths.append(path)
    return paths


class Session:
    """A window on a folder, stepped through and clicked in laps."""

    def __init__(self, folder: Path, timeout_s: float) -> None:
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from fcnviewer.qt.main_window import MainWindow

        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        self.window = MainWindow(settings, device="cpu")
        self.window.resize(1400, 900)
        self.window.show()
        self.timeout_s = timeout_s
        self.errors: list[str] = []
        self.window.error_shown.connect(self.errors.append)
        self.clicks = 0
        self._lap_clicks = 0

    def wait(self, signal: Any) -> float:
        """Process events until ``signal`` fires; the seconds waited (raises after the timeout)."""
        from benchmarks.gui_bench import wait_for

        waited = wait_for(self.app, signal, self.timeout_s, [])
        if waited is None:
            raise TimeoutError(f"no {signal} within {self.timeout_s} s (errors: {self.errors[-3:]})")
        return waited

    def settle(self) -> None:
        """Wait until the worker has warmed up (imported the network stack)."""
        worker = self.window.worker_thread.worker
        deadline = time.perf_counter() + self.timeout_s
        while not worker._ready and time.perf_counter() < deadline:
            self.app.processEvents()
            time.sleep(0.005)

    def lap(self, count: int, rng: Any) -> float:
        """Step through ``count`` images, clicking three out of four (an unreadable one is skipped);
        the highest RSS seen after a step, while the window is busy."""
        from fcnviewer.core.memory import resident_mb

        busy = 0.0
        for step in range(count):
            self.window.step_image(1)
            self.wait(self.window.prediction_shown)
            if step % 4 != 3:
                height, width = self.window.model.image.shape[:2]
                self.window.pin_pixel(int(rng.integers(0, height)), int(rng.integers(0, width)))
                self.wait(self.window.probe_shown)
                self.clicks += 1
            self.app.processEvents()
            self.window.canvas.viewport().repaint()
            busy = max(busy, resident_mb() or 0.0)
        return busy

    def pause(self, seconds: float) -> None:
        """Process events for ``seconds``: a user looking at the image (the worker is idle)."""
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def close(self) -> None:
        self.window.close()
        self.app.processEvents()


def session(args: argparse.Namespace) -> dict[str, Any]:
    """Issue #24's scenario (see the module's docstring); RSS and its parts along the way."""
    import gc

    import numpy as np

    result: dict[str, Any] = {
        "platform": os.environ.get("QT_QPA_PLATFORM") or "xcb",
        "images": args.images,
        "sides": [args.min_side, args.max_side],
        "launch": {"python": memory()},
    }
    folder = Path(tempfile.mkdtemp(prefix="fcnviewer-memory-"))
    paths = make_folder(folder, args.images, args.min_side, args.max_side)
    started = time.perf_counter()
    win = Session(folder, args.timeout)
    result["launch"]["window_shown"] = memory()
    win.settle()
    result["launch"]["worker_warmed_up"] = memory()
    win.window.load_model(None)
    win.wait(win.window.model_loaded)
    result["launch"]["model_loaded"] = memory()
    win.window.open_paths([folder])
    win.wait(win.window.prediction_shown)
    result["launch"]["first_prediction"] = memory()
    result["launch"]["torchvision_imported"] = "torchvision" in sys.modules
    result["launch_s"] = round(time.perf_counter() - started, 1)

    readable = len(paths) - 1
    rng = np.random.default_rng(7)
    laps: list[dict[str, float]] = []
    for _ in range(args.warm_up + args.laps):
        t0 = time.perf_counter()
        busy = win.lap(readable, rng)
        seconds = time.perf_counter() - t0
        gc.collect()
        win.pause(args.pause)
        laps.append({**memory(), "busy_rss": busy, "seconds": round(seconds, 1), "clicks": win.clicks})
    result["laps"] = laps
    for key, name in (("rss", "growth_mb"), ("busy_rss", "busy_growth_mb")):
        warm = laps[args.warm_up - 1][key]
        result[name] = round(laps[-1][key] - warm, 1)
        result[f"{name}_by_lap"] = [round(lap[key] - warm, 1) for lap in laps[args.warm_up :]]
    result["errors_shown"] = len(win.errors)
    result["session_s"] = round(time.perf_counter() - started, 1)
    win.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", action="store_true", help="only the launch's steps, without a window")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--min-side", type=int, default=90)
    parser.add_argument("--max-side", type=int, default=700)
    parser.add_argument("--warm-up", type=int, default=2, help="laps before the growth is measured")
    parser.add_argument("--laps", type=int, default=5, help="laps measured")
    parser.add_argument("--pause", type=float, default=1.5, help="seconds idle after each lap, before measuring")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for one result")
    args = parser.parse_args()
    try:
        result = imports() if args.imports else session(args)
    except Exception as exc:  # report, never crash: the caller reads the JSON
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    print(json.dumps(result), flush=True)
    os._exit(0)  # the worker thread may be inside a long operation; do not wait for it


if __name__ == "__main__":
    main()
