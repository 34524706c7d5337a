"""Draw the app icon: ``python scripts/make_icons.py`` writes ``fcnviewer/resources/icons/fcnviewer-<size>.png``.

One disc and one ring seen three times, left to right, as an FCN refines them: in blocks of 32
and 16 pixels (the stride-32 and stride-16 maps) and at full resolution (stride 8 upsampled):
the coarse-to-fine refinement the viewer is about. Pillow and numpy only; deterministic.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "fcnviewer" / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256)
SIDE = 256
BACKGROUND = (40, 40, 44)
DISC = (230, 25, 75)
RING = (0, 130, 200)


def labels() -> np.ndarray:
    """0 background, 1 disc, 2 ring, on a SIDE x SIDE grid."""
    ys, xs = np.mgrid[0:SIDE, 0:SIDE] + 0.5
    out = np.zeros((SIDE, SIDE), np.uint8)
    out[(ys - 150) ** 2 + (xs - 118) ** 2 < 78**2] = 1
    ring = np.hypot(ys - 82, xs - 178)
    out[(ring > 34) & (ring < 50)] = 2
    return out


def coarse(label_map: np.ndarray, block: int) -> np.ndarray:
    """The majority label of each ``block`` x ``block`` cell, repeated over the cell."""
    n = SIDE // block
    cells = label_map.reshape(n, block, n, block).transpose(0, 2, 1, 3).reshape(n, n, -1)
    counts = np.stack([(cells == c).sum(-1) for c in range(3)], -1)
    return np.kron(counts.argmax(-1), np.ones((block, block), np.uint8)).astype(np.uint8)


def icon() -> Image.Image:
    fine = labels()
    bands = [coarse(fine, 32), coarse(fine, 16), fine]
    combined = np.zeros_like(fine)
    edges = [0, 86, 171, SIDE]
    for band, (x0, x1) in zip(bands, itertools.pairwise(edges), strict=True):
        combined[:, x0:x1] = band[:, x0:x1]
    palette = np.array([BACKGROUND, DISC, RING], np.uint8)
    rgb = palette[combined]
    rgb[:, edges[1] - 1 : edges[1] + 1] = rgb[:, edges[2] - 1 : edges[2] + 1] = (220, 220, 220)
    alpha = np.full((SIDE, SIDE), 255, np.uint8)
    ys, xs = np.mgrid[0:SIDE, 0:SIDE] + 0.5
    radius, inner = 40, SIDE - 40  # rounded corners
    dy, dx = np.maximum(np.maximum(radius - ys, ys - inner), 0), np.maximum(np.maximum(radius - xs, xs - inner), 0)
    alpha[np.hypot(dy, dx) > radius] = 0
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    full = icon()
    for size in SIZES:
        image = full if size == SIDE else full.resize((size, size), Image.Resampling.LANCZOS)
        image.save(OUT / f"fcnviewer-{size}.png", optimize=True)
    print(f"wrote {len(SIZES)} icons to {OUT}")


if __name__ == "__main__":
    main()
