"""Write sample synthetic scenes (never used in training) to fcnviewer/resources/samples/ as PNG.

    .venv/bin/python scripts/make_samples.py [--size 384] [--count 8] [--out fcnviewer/resources/samples]

Seeds are taken from 2,000,000 on: outside the training seeds (0 .. 99,999) and the
evaluation seeds (1,000,000 ..). Also writes ``<name>_labels.png`` (palette PNG of the
ground truth) when ``--labels`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fcnviewer.core.training.data.synthetic import PALETTE, generate_scene

SAMPLE_SEED_BASE = 2_000_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--start", type=int, default=SAMPLE_SEED_BASE)
    samples = Path(__file__).resolve().parents[1] / "fcnviewer" / "resources" / "samples"
    parser.add_argument("--out", default=str(samples))
    parser.add_argument("--labels", action="store_true", help="also write the label maps")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    flat = [v for colour in PALETTE for v in colour]
    for seed in range(args.start, args.start + args.count):
        image, labels = generate_scene(seed, args.size)
        path = out / f"scene_{seed}.png"
        Image.fromarray(image).save(path, optimize=True)
        line = f"{path} ({path.stat().st_size // 1024} KiB)"
        if args.labels:
            mask = Image.fromarray(labels, mode="P")
            mask.putpalette(flat)
            mask.save(out / f"scene_{seed}_labels.png", optimize=True)
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
