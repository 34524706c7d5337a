"""Forward time of each model family at 500x500 on the CPU: ``python benchmarks/families.py`` prints JSON.

Randomly initialised full-size nets (the weights do not change the time), one warm-up, then the
median of ``--repeats`` :meth:`Predictor.predict` calls, at the default precision and in float32.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
from fcnviewer.core.inference import Predictor
from fcnviewer.core.models import ArchSpec, build_model, randomize_weights

FAMILIES = (
    ArchSpec("fcn8s"),
    ArchSpec("fcn_resnet50"),
    ArchSpec("deeplabv3_resnet50"),
    ArchSpec("deeplabv3_mobilenet_v3_large"),
    ArchSpec("lraspp_mobilenet_v3_large"),
    ArchSpec("unet", 2),
    ArchSpec("unet_paper", 2, in_channels=1),
)


def seconds(predictor: Predictor, image: np.ndarray, repeats: int) -> float:
    """Median wall-clock seconds of ``predictor.predict(image)`` after one warm-up."""
    predictor.predict(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict(image)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=500, help="image side in pixels (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per setting (default 3)")
    args = parser.parse_args()
    image = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    results = {}
    for spec in FAMILIES:
        loaded = LoadedModel(randomize_weights(build_model(spec)), ModelInfo.default_for(spec))
        row = {}
        for precision in ("auto", "float32"):
            predictor = Predictor(loaded, device="cpu", precision=precision)
            row[f"{precision}_s" if precision == "float32" else "default_s"] = round(
                seconds(predictor, image, args.repeats), 3
            )
            row["default_dtype"] = row.get("default_dtype", str(predictor.dtype).removeprefix("torch."))
        results[spec.arch] = row
    print(json.dumps({"size": args.size, "threads": torch.get_num_threads(), "families": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
