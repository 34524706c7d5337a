"""Effective receptive fields on a full-width FCN-8s, the core alone: ``python benchmarks/erf_bench.py``.

Prints one JSON line: seconds (wall clock, and the process's CPU time over all threads) of what
the viewer's worker runs after a click (``probe``: the stages' ERFs and the branch contributions),
near the image's corner too, after a dragged region (``probe_region``), for SmoothGrad with two
noisy copies, and for a selected layer's ERF (``probe_layer`` for ``conv3_3``, ``pool4``,
``score_fr`` and the final output), each given the boxes the viewer would pass. Full-width FCN-8s
(134.5 M parameters, random He-scaled weights: the time of a convolution does not depend on its
values) on a 500x500 image, float32 gradients on the CPU. Only the public functions are called, so
the same script times an older checkout (``PYTHONPATH=that checkout``); ``--repeat`` runs each
measurement that many times and keeps the median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH, which may name another checkout

SIZE = 500
LAYERS = ("conv3_3", "pool4", "score_fr", "final")


def timed(run: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median wall and CPU seconds of ``run()`` over ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"wall_s": round(statistics.median(walls), 3), "cpu_s": round(statistics.median(cpus), 3)}


def measure(repeat: int) -> dict[str, Any]:
    import torch

    from benchmarks.run import test_image
    from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.layer_probing import probe_layer
    from fcnviewer.core.models import ArchSpec, build_model, randomize_weights
    from fcnviewer.core.probing import probe, probe_region
    from fcnviewer.core.receptive import Box, Smoothing, pixel_boxes
    from fcnviewer.core.receptive.targets import layer_unit_box

    spec = ArchSpec("fcn8s", 21)
    loaded = LoadedModel(randomize_weights(build_model(spec)), ModelInfo.default_for(spec))
    predictor = Predictor(loaded, device="cpu")
    model, image, size = predictor.model, test_image(SIZE, SIZE), (SIZE, SIZE)

    def boxes(*pixels: tuple[int, int]) -> list[tuple[int, ...]]:
        return [tuple(b.as_list()) for y, x in pixels for b in pixel_boxes(model, y, x, size).values()]

    centre, corner, region = (250, 250), (30, 470), Box(220, 200, 280, 260)
    at_centre, at_corner, at_region = boxes(centre), boxes(corner), boxes((200, 220), (260, 280))
    figures: dict[str, Any] = {"threads": torch.get_num_threads(), "image": f"{SIZE}x{SIZE}"}
    figures["click_centre"] = timed(lambda: probe(predictor, image, *centre, boxes=at_centre), repeat)
    figures["click_corner"] = timed(lambda: probe(predictor, image, *corner, boxes=at_corner), repeat)
    figures["region"] = timed(lambda: probe_region(predictor, image, region, 3, boxes=at_region), repeat)
    smoothing = Smoothing(copies=2, noise=10.0)
    figures["smoothgrad_2_copies"] = timed(
        lambda: probe(predictor, image, *centre, class_index=3, boxes=at_centre, smoothing=smoothing), repeat
    )
    for layer in LAYERS:
        box = [tuple(layer_unit_box(model, layer, *centre)[1].as_list())]
        figures[f"layer_{layer}"] = timed(
            lambda b=box, n=layer: probe_layer(predictor, image, *centre, n, boxes=b), repeat
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch's threads (the viewer's worker uses cores - 1)")
    args = parser.parse_args()
    import torch

    import fcnviewer

    if args.threads:
        torch.set_num_threads(args.threads)

    print(json.dumps({"fcnviewer": str(Path(fcnviewer.__file__).parent), **measure(args.repeat)}), flush=True)


if __name__ == "__main__":
    main()
