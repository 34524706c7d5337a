"""Segmentation datasets stored as folders of images and label masks.

Two layouts are recognised:

- PASCAL VOC: ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png`` (palette PNGs whose
  pixel values are the labels, 255 on object borders = ignore) and
  ``ImageSets/Segmentation/{train,val,trainval}.txt`` listing the ids of each split;
- plain: ``images/<name>.<jpg|png|...>`` and ``masks/<name>.png`` (single-channel or
  palette PNGs holding label values, 255 = ignore), split by optional ``train.txt`` /
  ``val.txt`` next to them, else all pairs.

Items are ``(image uint8 (H, W, 3) RGB, labels uint8 (H, W))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from fcnviewer.core.errors import UserError
from fcnviewer.core.labels import IGNORE_INDEX, VOC_CLASSES, default_class_names, voc_palette

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class DatasetError(UserError, ValueError):
    """A dataset folder that cannot be used; the message names the folder and the problem."""


def read_image(path: Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def read_mask(path: Path) -> np.ndarray:
    """A label PNG as ``(H, W)`` uint8 label values (palette indices for palette PNGs, not colours)."""
    with Image.open(path) as im:
        if im.mode in ("P", "L", "I", "I;16"):
            return np.asarray(im if im.mode in ("P", "L") else im.convert("L"), dtype=np.uint8).copy()
        if im.mode in ("RGB", "RGBA"):
            raise DatasetError(f"{path}: an RGB mask; label masks must hold label values (palette or grey PNG)")
        return np.asarray(im.convert("L"), dtype=np.uint8).copy()


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


def read_ids(path: Path) -> list[str]:
    """The names a split list holds, one per line (the first word of each)."""
    return [line.strip().split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def voc_dataset(root: str | Path, split: str = "val") -> SegmentationFolder:
    """A PASCAL VOC layout folder (``VOCdevkit/VOC2012`` or one like it) for ``split``."""
    root = Path(root)
    list_file = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not list_file.is_file():
        raise DatasetError(f"{root}: no {list_file.relative_to(root)} (split {split!r})")
    pairs = []
    for name in read_ids(list_file):
        image = find_image(root / "JPEGImages", name)
        mask = root / "SegmentationClass" / f"{name}.png"
        if image is None or not mask.is_file():
            raise DatasetError(
                f"{root}: {split} lists {name!r} but JPEGImages/{name}.jpg or SegmentationClass/{name}.png is missing"
            )
        pairs.append((image, mask))
    palette = voc_palette(len(VOC_CLASSES))
    return SegmentationFolder(pairs, class_names=VOC_CLASSES, palette=[tuple(c) for c in palette], root=root)


def plain_dataset(root: str | Path, split: str | None = None, *, num_classes: int | None = None) -> SegmentationFolder:
    """An ``images/`` + ``masks/`` folder; ``split`` picks the names in ``<split>.txt`` when it exists.

    The class count is ``num_classes``, else read from a ``classes.txt`` (one name per line),
    else one more than the largest label found in the masks (255 excluded).
    """
    root = Path(root)
    images_dir, masks_dir = root / "images", root / "masks"
    if not images_dir.is_dir() or not masks_dir.is_dir():
        raise DatasetError(f"{root}: expected images/ and masks/ folders")
    names = None
    if split is not None and (root / f"{split}.txt").is_file():
        names = read_ids(root / f"{split}.txt")
    if names is None:
        names = sorted(p.stem for p in masks_dir.glob("*.png"))
    pairs = []
    for name in names:
        image = find_image(images_dir, name)
        mask = masks_dir / f"{name}.png"
        if image is None or not mask.is_file():
            raise DatasetError(f"{root}: no image or mask for {name!r}")
        pairs.append((image, mask))
    if not pairs:
        raise DatasetError(f"{root}: no image/mask pairs found")
    class_names: tuple[str, ...]
    if (root / "classes.txt").is_file():
        lines = (root / "classes.txt").read_text(encoding="utf-8").splitlines()
        class_names = tuple(n.strip() for n in lines if n.strip())
    else:
        if num_classes is None:
            top = 0
            for _, mask in pairs:
                values = np.unique(read_mask(mask))
                values = values[values != IGNORE_INDEX]
                if values.size:
                    top = max(top, int(values.max()))
            num_classes = top + 1
        class_names = default_class_names(num_classes)
    palette = voc_palette(max(len(class_names), 1))[: len(class_names)]
    return SegmentationFolder(pairs, class_names=class_names, palette=[tuple(c) for c in palette], root=root)


def open_folder(root: str | Path, split: str = "val") -> SegmentationFolder:
    """Whichever of the two layouts ``root`` has."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    if (root / "JPEGImages").is_dir() and (root / "SegmentationClass").is_dir():
        return voc_dataset(root, split)
    if (root / "images").is_dir():
        return plain_dataset(root, split)
    for sub in ("VOCdevkit/VOC2012", "VOC2012"):
        if (root / sub / "JPEGImages").is_dir():
            return voc_dataset(root / sub, split)
    raise DatasetError(f"{root}: neither a PASCAL VOC layout (JPEGImages/, SegmentationClass/) nor images/ + masks/")


def find_image(folder: Path, name: str) -> Path | None:
    """The image file ``name`` with any known suffix in ``folder``, if there is one."""
    for suffix in IMAGE_SUFFIXES:
        for candidate in (folder / f"{name}{suffix}", folder / f"{name}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None
