"""Click to a selected layer's ERF shown, offscreen: ``python benchmarks/layer_erf_bench.py [--quick]``.

Prints one JSON line. On the real :class:`fcnviewer.qt.main_window.MainWindow` on the CPU (the
window's default precision), with a layer selected in the network panel: ``pin_pixel`` (what a
click does) to the layer's box drawn (``click_to_box_s``, a repaint included), to its ERF arriving
from the worker (``click_to_layer_erf_s``, the ``layer_shown`` signal) and to the stage probe's ERF
(``click_to_stage_erf_s``; the worker runs the layer's job first). The median over clicks at a few
pixels near the centre, per layer. Two setups: the bundled model on a 512x512 image, and a
full-width FCN-8s (134.5 M parameters, random He-scaled weights: the time of a convolution does not
depend on its values) on a 500x500 image; ``--quick`` measures one layer, one click each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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

LAYERS = ("conv3_3", "pool4", "score_fr", "final")


def one_click(app: Any, window: Any, y: int, x: int, errors: list[str]) -> tuple[float, float, float] | None:
    """Seconds from ``pin_pixel(y, x)`` to the box drawn, the layer's ERF and the stages' ERF shown."""
    from benchmarks.gui_bench import repaint

    events: dict[str, float] = {}

    def on_layer() -> None:
        events.setdefault("layer", time.perf_counter())

    def on_stage() -> None:
        events.setdefault("stage", time.perf_counter())

    window.layer_view.layer_shown.connect(on_layer)
    window.probe_shown.connect(on_stage)
    try:
        t0 = time.perf_counter()
        window.pin_pixel(y, x)
        repaint(app, window)
        box = time.perf_counter() - t0
        while len(events) < 2 and time.perf_counter() - t0 < 600 and not errors:
            app.processEvents()
            time.sleep(0.001)
    finally:
        window.layer_view.layer_shown.disconnect(on_layer)
        window.probe_shown.disconnect(on_stage)
    return (box, events["layer"] - t0, events["stage"] - t0) if len(events) == 2 else None


def measure(app: Any, window: Any, layers: tuple[str, ...], clicks: int, size: int) -> dict[str, Any]:
    """Per layer: medians of click -> box, -> layer ERF, -> stage ERF, at ``clicks`` pixels near the centre."""
    errors: list[str] = []
    window.error_shown.connect(errors.append)
    view = window.layer_view
    figures: dict[str, Any] = {}
    for layer in layers:
        if not view.panel.select_layer(layer):
            return {"error": f"no layer {layer} in the panel"}
        times = []
        for i in range(clicks):
            found = one_click(app, window, size // 2 + 17 * i, size // 2 - 23 * i, errors)
            if found is None:
                return {"error": errors[-1] if errors else "no ERF within 600 s"}
            times.append(found)
        box, layer_erf, stage_erf = (statistics.median(column) for column in zip(*times, strict=True))
        figures[layer] = {
            "click_to_box_s": round(box, 4),
            "click_to_layer_erf_s": round(layer_erf, 3),
            "click_to_stage_erf_s": round(stage_erf, 3),
            "last_box": [f"{key}: {b}" for key, b in view.boxes_layer.pins[-1].boxes.items()],
        }
    return figures


def run_setup(app: Any, checkpoint: Path | None, size: int, layers: tuple[str, ...], clicks: int) -> dict[str, Any]:
    from PIL import Image
    from PySide6.QtCore import QSettings

    from benchmarks.gui_bench import wait_for
    from benchmarks.run import test_image
    from fcnviewer.qt.main_window import MainWindow

    folder = Path(tempfile.mkdtemp(prefix="fcnviewer-bench-"))
    window = MainWindow(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat), device="cpu")
    window.resize(1400, 900)
    window.show()
    errors: list[str] = []
    window.error_shown.connect(errors.append)
    image = folder / f"image-{size}.png"
    Image.fromarray(test_image(size, size)).save(image)
    window.load_model(checkpoint)
    window.open_paths([image])
    if wait_for(app, window.prediction_shown, 900, errors) is None:
        return {"error": errors[-1] if errors else "no prediction"}
    result = {"model": window.model_label.text(), "image": f"{size}x{size}"}
    result |= measure(app, window, layers, clicks, size)
    window.close()
    app.processEvents()
    return result


def full_width_checkpoint() -> Path:
    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint
    from fcnviewer.core.models import ArchSpec, build_model, randomize_weights

    spec = ArchSpec("fcn8s", 21)
    path = Path(tempfile.mkdtemp(prefix="fcnviewer-bench-")) / "fcn8s-full-random.safetensors"
    return save_checkpoint(path, randomize_weights(build_model(spec)), ModelInfo.default_for(spec))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import torch
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    layers, clicks = (LAYERS[1:2], 1) if args.quick else (LAYERS, 3)
    result: dict[str, Any] = {"cpu_threads": torch.get_num_threads(), "cores": os.cpu_count()}
    try:
        result["bundled_512"] = run_setup(app, None, 512, layers, clicks)
        result["fcn8s_full_width_500"] = run_setup(app, full_width_checkpoint(), 500, layers, clicks)
    except Exception as exc:  # report, never crash
        result |= {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    print(json.dumps(result), flush=True)
    os._exit(0)  # the worker thread may be inside a long operation; do not wait for it


if __name__ == "__main__":
    main()
