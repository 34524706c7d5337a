"""Class names and colour palettes."""

from __future__ import annotations

import functools

import numpy as np

from fcnviewer.core.resources import imagenet_classes_path

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


#: Classes of ImageNet-1k (ILSVRC 2012), the classifiers' data set.
IMAGENET_CLASS_COUNT = 1000


@functools.cache
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet class names in class-index order (torchvision's, read from the bundled list)."""
    names = tuple(imagenet_classes_path().read_text(encoding="utf-8").splitlines())
    if len(names) != IMAGENET_CLASS_COUNT:
        raise RuntimeError(f"{imagenet_classes_path()}: {len(names)} names, not {IMAGENET_CLASS_COUNT}")
    return names


def default_class_names(num_classes: int) -> tuple[str, ...]:
    """VOC names for 21 classes, ImageNet's for 1000, else ``class 0`` ... ``class N-1``."""
    if num_classes == len(VOC_CLASSES):
        return VOC_CLASSES
    if num_classes == IMAGENET_CLASS_COUNT:
        return imagenet_classes()
    return tuple(f"class {i}" for i in range(num_classes))


def default_palette(num_classes: int) -> np.ndarray:
    """The VOC palette's first ``num_classes`` colours (distinct for up to 256 classes)."""
    return voc_palette(max(num_classes, 1))[:num_classes].copy()
