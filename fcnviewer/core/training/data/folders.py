"""Segmentation datasets for training: the image/mask pairs of a labelled folder.

The folder is read as :func:`fcnviewer.core.datasets.list_dataset` lists it (PASCAL VOC, or
``images/`` + ``masks/``; see there); training needs a mask for every image it takes. Items are
``(image uint8 (H, W, 3) RGB, labels uint8 (H, W))``, label 255 = ignore.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from fcnviewer.core.dataset_layout import voc_root
from fcnviewer.core.datasets import DatasetError, list_dataset, read_mask
from fcnviewer.core.labels import IGNORE_INDEX, default_class_names, voc_palette


def read_image(path: Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


class SegmentationFolder:
    """Pairs of image and mask files; a map-style dataset."""

    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        *,
        class_names: Sequence[str],
        palette: Sequence[Sequence[int]],
        root: Path | None = None,
    ) -> None:
        self.pairs = list(pairs)
        self.class_names = tuple(class_names)
        self.palette = tuple(tuple(int(v) for v in c) for c in palette)
        self.root = root

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image_path, mask_path = self.pairs[index]
        image, labels = read_image(image_path), read_mask(mask_path)
        if image.shape[:2] != labels.shape:
            raise DatasetError(
                f"{mask_path}: mask is {labels.shape[1]}x{labels.shape[0]}, image is {image.shape[1]}x{image.shape[0]}"
            )
        return image, labels

    def subset(self, indices: Sequence[int] | range) -> SegmentationFolder:
        """The items at ``indices``."""
        pairs = [self.pairs[i] for i in indices]
        return SegmentationFolder(pairs, class_names=self.class_names, palette=self.palette, root=self.root)

    def resized(self, size: int) -> FixedSize:
        """This dataset with every item brought to ``size`` x ``size`` (for batching)."""
        return FixedSize(self, size)


class FixedSize:
    """Wraps a dataset: each item's shorter side scaled to ``size`` then centre-cropped square.

    Images are resized bilinearly, labels by nearest neighbour (so 255 stays 255).
    """

    def __init__(self, dataset: SegmentationFolder, size: int) -> None:
        self.dataset = dataset
        self.size = size
        self.class_names = dataset.class_names
        self.palette = dataset.palette

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image, labels = self.dataset[index]
        h, w = labels.shape
        scale = self.size / min(h, w)
        nh, nw = max(self.size, round(h * scale)), max(self.size, round(w * scale))
        image = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BILINEAR))
        labels = np.asarray(Image.fromarray(labels).resize((nw, nh), Image.Resampling.NEAREST))
        top, left = (nh - self.size) // 2, (nw - self.size) // 2
        return (
            image[top : top + self.size, left : left + self.size].copy(),
            labels[top : top + self.size, left : left + self.size].copy(),
        )


def open_folder(root: str | Path, split: str = "val", *, num_classes: int | None = None) -> SegmentationFolder:
    """The image/mask pairs of the labelled folder ``root`` for ``split``.

    A VOC folder's split list must exist; a plain folder without ``<split>.txt`` gives all its
    images that have a mask. Every image a split list names needs its mask. The classes are VOC's,
    a plain folder's ``classes.txt``, else ``num_classes``, else one more than the largest label
    found in the masks (255 excluded).
    """
    required = split if voc_root(Path(root)) is not None else None  # a plain folder's list is optional
    listing = list_dataset(root, required, default_split=split)
    unmasked = [entry.name for entry in listing.entries if entry.mask is None]
    if listing.split is not None and unmasked:
        raise DatasetError(f"{listing.root}: {listing.split} lists {unmasked[0]!r} but it has no mask")
    pairs = [(entry.image, entry.mask) for entry in listing.labelled]
    if not pairs:
        raise DatasetError(f"{listing.root}: no image/mask pairs found")
    class_names = listing.class_names or default_class_names(num_classes or _label_count(pairs))
    palette = voc_palette(max(len(class_names), 1))[: len(class_names)]
    return SegmentationFolder(pairs, class_names=class_names, palette=[tuple(c) for c in palette], root=listing.root)


def _label_count(pairs: Sequence[tuple[Path, Path]]) -> int:
    """One more than the largest label in the masks of ``pairs`` (255 excluded)."""
    top = 0
    for _, mask in pairs:
        values = np.unique(read_mask(mask))
        values = values[values != IGNORE_INDEX]
        if values.size:
            top = max(top, int(values.max()))
    return top + 1
