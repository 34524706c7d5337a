"""Labelled image folders: which images a dataset has, in which order, and the mask of each if any.

Layouts: PASCAL VOC (``JPEGImages/``, ``SegmentationClass/``, optional
``ImageSets/Segmentation/<split>.txt``; found at the folder or in ``VOCdevkit/VOC2012`` or
``VOC2012`` inside it) and ``images/`` + ``masks/`` (optional ``<split>.txt`` and ``classes.txt``).
Masks are PNGs of label values (palette indices or grey levels), 255 = ignore.

The viewer and ``eval`` walk :func:`list_dataset`'s listing, where an image without a mask is
still listed (the viewer shows its prediction alone) and a mask that cannot be compared with the
network's output is named by :func:`mask_problem` rather than silently used. Training
(:mod:`fcnviewer.core.training.data.folders`) builds its image/mask pairs on the same listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fcnviewer.core.dataset_layout import is_dataset, voc_root
from fcnviewer.core.errors import UserError
from fcnviewer.core.labels import IGNORE_INDEX, VOC_CLASSES

__all__ = ["DatasetEntry", "DatasetError", "DatasetListing", "is_dataset", "list_dataset", "mask_problem", "read_mask"]

#: The split listed when none is named and its list exists: the validation set, as ``eval`` and training read it.
DEFAULT_SPLIT = "val"
#: Image files a dataset's image folder holds, in the order a name is looked up with.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class DatasetError(UserError, ValueError):
    """A dataset folder that cannot be used; the message names the folder and the problem."""


@dataclass(frozen=True)
class DatasetEntry:
    """One image of a dataset: its name (the file stem), image file and mask file if any."""

    name: str
    image: Path
    mask: Path | None


@dataclass(frozen=True)
class DatasetListing:
    """The images of a labelled folder, in the order of its split list (else sorted by name)."""

    root: Path
    layout: str  # "voc" or "plain"
    split: str | None
    entries: tuple[DatasetEntry, ...]
    class_names: tuple[str, ...] | None  # None: the folder does not say (the model's names apply)

    @property
    def labelled(self) -> list[DatasetEntry]:
        """The entries that have a mask."""
        return [entry for entry in self.entries if entry.mask is not None]


def list_dataset(
    root: str | Path, split: str | None = None, *, default_split: str | None = DEFAULT_SPLIT
) -> DatasetListing:
    """The entries of the labelled folder ``root``.

    ``split`` picks the names in its split list, which must exist. Without it, the names in the
    ``default_split``'s list when there is one (``val``: the viewer and ``eval`` open a folder's
    validation set alike), else all its images sorted by name. Names a split list gives but whose
    image is missing raise :class:`DatasetError`.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    voc = voc_root(root)
    if voc is not None:
        found = (voc, "voc", voc / "JPEGImages", voc / "SegmentationClass", VOC_CLASSES)
    elif (root / "images").is_dir() and (root / "masks").is_dir():
        found = (root, "plain", root / "images", root / "masks", _class_names(root))
    else:
        raise DatasetError(
            f"{root} is not a labelled dataset: expected a PASCAL VOC folder (JPEGImages/, SegmentationClass/) "
            "or images/ and masks/ folders"
        )
    folder, layout, images, masks, class_names = found
    if split is None and default_split is not None and _split_file(folder, layout, default_split).is_file():
        split = default_split
    if split is not None:
        listed = _split_file(folder, layout, split)
        if not listed.is_file():
            raise DatasetError(f"{folder} has no split {split!r}: {listed} does not exist")
        entries = [_entry(name, _find_image(images, name), masks, listed) for name in _read_ids(listed)]
    else:
        files = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        entries = [_entry(p.stem, p, masks, None) for p in files]
    if not entries:
        raise DatasetError(f"{folder} holds no images in {images.name}/")
    return DatasetListing(folder, layout, split, tuple(entries), class_names)


def _split_file(root: Path, layout: str, split: str) -> Path:
    return root / "ImageSets" / "Segmentation" / f"{split}.txt" if layout == "voc" else root / f"{split}.txt"


def _entry(name: str, image: Path | None, masks: Path, listed: Path | None) -> DatasetEntry:
    if image is None:
        raise DatasetError(f"{listed} lists {name!r} but there is no image of that name")
    mask = masks / f"{name}.png"
    return DatasetEntry(name, image, mask if mask.is_file() else None)


def _read_ids(path: Path) -> list[str]:
    """The names a split list holds, one per line (the first word of each)."""
    return [line.strip().split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _find_image(folder: Path, name: str) -> Path | None:
    """The image file ``name`` with any known suffix in ``folder``, if there is one."""
    for suffix in IMAGE_SUFFIXES:
        for candidate in (folder / f"{name}{suffix}", folder / f"{name}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def read_mask(path: Path) -> np.ndarray:
    """A label PNG as ``(H, W)`` uint8 label values (palette indices for palette PNGs, not colours)."""
    with Image.open(path) as im:
        if im.mode in ("P", "L", "I", "I;16"):
            return np.asarray(im if im.mode in ("P", "L") else im.convert("L"), dtype=np.uint8).copy()
        if im.mode in ("RGB", "RGBA"):
            raise DatasetError(f"{path}: an RGB mask; label masks must hold label values (palette or grey PNG)")
        return np.asarray(im.convert("L"), dtype=np.uint8).copy()


def _class_names(root: Path) -> tuple[str, ...] | None:
    path = root / "classes.txt"
    if not path.is_file():
        return None
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def mask_problem(mask: np.ndarray, image_size: tuple[int, int], num_classes: int) -> str | None:
    """Why ``mask`` cannot be compared with a prediction of an ``image_size`` (H, W) image by a
    ``num_classes`` network, as the end of a sentence naming the file; ``None`` when it can.

    Label values other than ``0 .. num_classes - 1`` and 255 (ignore) are a problem.
    """
    if mask.shape != tuple(image_size):
        return f"is {mask.shape[1]}x{mask.shape[0]} but its image is {image_size[1]}x{image_size[0]}"
    values = np.unique(mask)
    stray = values[(values >= num_classes) & (values != IGNORE_INDEX)]
    if stray.size:
        shown = ", ".join(str(int(v)) for v in stray[:5]) + (", ..." if stray.size > 5 else "")
        return (
            f"holds class values {shown} but the network has {num_classes} classes "
            f"(0..{num_classes - 1}; {IGNORE_INDEX} = ignore)"
        )
    return None
