"""How closely a convolutionalised classifier's dense map matches the classifier run on each crop.

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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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
