"""Class names and colour palettes."""

from __future__ import annotations

import numpy as np

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip

#: Label value that marks "don't care" pixels in VOC masks; ignored by losses and metrics.
IGNORE_INDEX = 255


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: ``(n, 3)`` uint8, entry ``i`` the colour of label ``i``."""
    palette = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette


def default_class_names(num_classes: int) -> tuple[str, ...]:
    """VOC names for 21 classes, else ``class 0`` ... ``class N-1``."""
    if num_classes == len(VOC_CLASSES):
        return VOC_CLASSES
    return tuple(f"class {i}" for i in range(num_classes))


def default_palette(num_classes: int) -> np.ndarray:
    """The VOC palette's first ``num_classes`` colours (distinct for up to 256 classes)."""
    return voc_palette(max(num_classes, 1))[:num_classes].copy()
