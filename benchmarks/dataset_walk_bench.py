"""The dataset walk in the real window, offscreen: ``python benchmarks/dataset_walk_bench.py [--count N] [--size PX]``.

Writes ``--count`` synthetic evaluation scenes (``SyntheticScenes.evaluation``, ``--size`` px square,
the model card's evaluation size by default) as an ``images/`` + ``masks/`` folder, opens it in a
:class:`~fcnviewer.qt.main_window.MainWindow` with the bundled model (device and precision
``auto``, as a user gets them; ``--precision`` sets it) and prints one JSON line:

- ``images_per_s``: images walked (predicted and scored) per second, from opening the folder
  to the last row filled;
- ``stall``: the longest gap between ticks of a 5 ms heartbeat ``QTimer`` on the GUI thread during
  the walk (``gui_bench``'s method), its 99th percentile, and ``longest_own_ms``: the longest gap
  less the time the GUI thread was runnable but waited for a core (other programs on a loaded
  machine; waiting for the GIL still counts), as ``tests/qt``'s stall bounds read it; a row is
  opened half-way (``row_opened_to_truth_s``: its image, prediction and truth shown while the walk
  goes on);
- ``mean_iu`` of the walk's summary and ``eval_mean_iu`` of :func:`fcnviewer.core.training.evaluate`
  on the same folder (equal when the forward runs in float32).
"""

from __future__ import annotations

import argparse
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
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.gui_bench import wait_for  # noqa: E402
from tests.qt.conftest import Heartbeat  # noqa: E402  (the tests' heartbeat also says when the GUI waited for a core)


def write_scenes(root: Path, count: int, size: int) -> Path:
    """``count`` evaluation scenes of ``size`` px as ``root/images`` + ``root/masks`` (+ ``classes.txt``)."""
    from PIL import Image

    from fcnviewer.core.training.data.synthetic import SyntheticScenes

    scenes = SyntheticScenes.evaluation(count, size)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    for index in range(len(scenes)):
        image, mask = scenes[index]
        Image.fromarray(image).save(root / "images" / f"scene_{index:04d}.png")
        Image.fromarray(mask.astype("uint8"), mode="L").save(root / "masks" / f"scene_{index:04d}.png")
    (root / "classes.txt").write_text("\n".join(scenes.class_names) + "\n", encoding="utf-8")
    return root


def walk(root: Path, count: int, precision: str = "auto") -> dict[str, Any]:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from fcnviewer.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = QSettings(str(root.parent / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, precision=precision)
    window.resize(1400, 900)
    window.show()
    errors: list[str] = []
    window.error_shown.connect(errors.append)
    window.load_model(None)
    if wait_for(app, window.model_loaded, 120, errors) is None:
        return {"error": f"the bundled model did not load: {errors}"}
    datasets = window.dataset_view.datasets
    heartbeat = Heartbeat()
    heartbeat.start()
    started = time.perf_counter()
    window.open_paths([root])
    opened: dict[str, float] = {}
    while datasets.table.walked < count and time.perf_counter() - started < 600:
        app.processEvents()
        time.sleep(0.001)
        if not opened and datasets.table.walked >= count // 2:
            opened["at"] = time.perf_counter()
            datasets.open_row(count - 1)  # a row the walk has not reached: its own prediction and truth
        truth_shown = datasets.truth.truth is not None and datasets.shown_row() == count - 1
        if "at" in opened and "shown" not in opened and truth_shown:
            opened["shown"] = time.perf_counter()
    seconds = time.perf_counter() - started
    heartbeat.stop()
    gaps = sorted(heartbeat.gaps)
    own = max(gap - wait for gap, wait in zip(heartbeat.gaps, heartbeat.queue_waits, strict=True))
    stall = {
        "longest_ms": round(1000 * gaps[-1], 1),
        "p99_ms": round(1000 * gaps[int(0.99 * (len(gaps) - 1))], 1),
        "longest_own_ms": round(1000 * own, 1),
        "beats": len(gaps),
        "longest_gap": heartbeat.longest_gap_report(),
        "load_average": os.getloadavg()[0],
    }
    summary = datasets.summary()
    result = {
        "images": datasets.table.walked,
        "walk_s": round(seconds, 2),
        "images_per_s": round(datasets.table.walked / seconds, 1),
        "stall": stall,
        "row_opened_to_truth_s": round(opened["shown"] - opened["at"], 3) if "shown" in opened else None,
        "mean_iu": summary.mean_iu.get("final"),
        "device": window.controller.model_text,
    }
    window.close()
    app.processEvents()
    return result


def eval_mean_iu(root: Path) -> float:
    from fcnviewer.core.training import evaluate
    from fcnviewer.core.training.data.folders import open_folder
    from fcnviewer.core.zoo import load_model

    loaded = load_model(None)
    found = evaluate(loaded.model, open_folder(root), loaded.info.preprocessing, "cpu", stages=False)
    return float(found["final"]["mean_iu"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--precision", default="auto", help="the network's (float32: the walk's numbers are eval's)")
    args = parser.parse_args()
    try:
        root = write_scenes(Path(tempfile.mkdtemp(prefix="fcnviewer-walk-")) / "data", args.count, args.size)
        result = {"count": args.count, "size": args.size, **walk(root, args.count, args.precision)}
        result["eval_mean_iu"] = eval_mean_iu(root)
    except Exception as exc:  # report, never crash
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    print(json.dumps(result), flush=True)
    os._exit(0)  # the worker thread may be inside a long operation; do not wait for it


if __name__ == "__main__":
    main()
