"""How closely a convolutionalised classifier's dense map matches the classifier run on each crop,
and how much faster it is (:func:`dense_vs_crops`, the ``dense`` section of ``benchmarks/run.py``).

``python benchmarks/conv_equivalence.py [--checkpoint vgg16-397923af.pth] [--image IMG] [--size N]
[--units N] [--seed S]`` prints JSON: top-1 agreement between each dense-map location and the
classifier on the 224x224 crop that location stands for, and the largest score difference. Without
``--checkpoint``, torchvision's VGG16 randomly initialised with ``--seed`` (nothing downloads); the
image defaults to a seeded random one, resized (bilinear) to ``--size`` square. The two differ only by
the convolutions' zero padding at each crop's border (see ``fcnviewer.core.dense``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def dense_vs_crops(size: int = 500, seed: int = 0) -> dict[str, Any]:
    """VGG16 (torchvision's random initialisation, float32, this process's threads) on a ``size`` square:
    its dense map against the classifier on every crop of the same grid (batches of 8 crops of 224x224),
    one run each after a warm-up at 224; ``ratio`` = crops / dense (wall time)."""
    import torch

    from fcnviewer.core.dense import crop_scores, dense_scores, grid_units
    from fcnviewer.core.models import ArchSpec, build_model

    torch.manual_seed(seed)
    model = build_model(ArchSpec("vgg16", 1000)).eval()
    inputs = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))
    dense_scores(model, inputs[..., :224, :224])
    wall, cpu = time.perf_counter(), time.process_time()
    dense = dense_scores(model, inputs)
    dense_wall, dense_cpu = time.perf_counter() - wall, time.process_time() - cpu
    units = grid_units((int(dense.shape[1]), int(dense.shape[2])))
    wall, cpu = time.perf_counter(), time.process_time()
    crops = crop_scores(model, inputs, units)
    crops_wall, crops_cpu = time.perf_counter() - wall, time.process_time() - cpu
    at_units = torch.stack([dense[:, i, j] for i, j in units])
    return {
        "network": "vgg16 (torchvision's random initialisation), float32, CPU",
        "size": size,
        "map": list(dense.shape[1:]),
        "crops": len(units),
        "threads": torch.get_num_threads(),
        "dense_s": round(dense_wall, 3),
        "crops_s": round(crops_wall, 3),
        "ratio": round(crops_wall / dense_wall, 2),
        "cpu_ratio": round(crops_cpu / dense_cpu, 2),
        "top1_agreement": round((at_units.argmax(1) == crops.argmax(1)).double().mean().item(), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a torchvision VGG/AlexNet state dict (default: random VGG16)")
    parser.add_argument("--image", help="an image file (default: seeded random pixels)")
    parser.add_argument("--size", type=int, default=512, help="square side the image is resized to (default 512)")
    parser.add_argument("--units", type=int, default=100, help="about this many locations compared (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and image (default 0)")
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from PIL import Image

    from fcnviewer.core.checkpoints import LoadedModel, ModelInfo, load_checkpoint
    from fcnviewer.core.dense import compare_with_crops
    from fcnviewer.core.images import load_image
    from fcnviewer.core.models import ArchSpec, build_model

    torch.manual_seed(args.seed)
    if args.checkpoint:
        loaded = load_checkpoint(args.checkpoint)
    else:
        spec = ArchSpec("vgg16", 1000)
        loaded = LoadedModel(build_model(spec).eval(), ModelInfo.default_for(spec))
    if args.image:
        image = np.asarray(Image.fromarray(load_image(args.image)).resize((args.size, args.size), Image.BILINEAR))
    else:
        image = np.random.default_rng(args.seed).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    inputs = loaded.info.preprocessing.to_tensor(image)
    start = time.perf_counter()
    comparison = compare_with_crops(loaded.model, inputs, args.units)
    report = {
        "network": loaded.info.spec.arch,
        "weights": args.checkpoint or f"random (torchvision's initialisation, seed {args.seed})",
        "image": args.image or f"random pixels (seed {args.seed})",
        "size": args.size,
        **comparison.as_dict(),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
