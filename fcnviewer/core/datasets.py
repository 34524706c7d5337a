"""Labelled image folders as the viewer and ``eval`` walk them: every image, its mask if any.

:mod:`fcnviewer.core.training.data.folders` serves training, where an image without a mask
is an error. Here an image without a mask is still listed (the viewer opens it and shows
its prediction alone), and a mask that cannot be compared with the network's output is
named by :func:`mask_problem` rather than silently used.

Layouts, as in ``folders``: PASCAL VOC (``JPEGImages/``, ``SegmentationClass/``, optional
``ImageSets/Segmentation/<split>.txt``) and ``images/`` + ``masks/`` (optional ``<split>.txt``
and ``classes.txt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fcnviewer.core.dataset_layout import is_dataset, voc_root
from fcnviewer.core.labels import IGNORE_INDEX, VOC_CLASSES
from fcnviewer.core.training.data.folders import IMAGE_SUFFIXES, DatasetError, find_image, read_ids

__all__ = ["DatasetEntry", "DatasetListing", "is_dataset", "list_dataset", "mask_problem"]

#: The split a VOC folder opens with when none is named and its list exists.
DEFAULT_SPLIT = "val"


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
    def labelled(self) -> int:
        """How many entries have a mask."""
        return sum(entry.mask is not None for entry in self.entries)


def list_dataset(root: str | Path, split: str | None = None) -> DatasetListing:
    """The entries of the labelled folder ``root``.

    ``split`` picks the names in the split list; without it a VOC folder takes its ``val``
    list when there is one, and any folder otherwise takes all its images. Names a split
    list gives but whose image is missing raise :class:`DatasetError`.
    """
    root = Path(root)
    voc = voc_root(root)
    if voc is not None:
        return _listing(voc, "voc", split, voc / "JPEGImages", voc / "SegmentationClass", VOC_CLASSES)
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return _listing(root, "plain", split, root / "images", root / "masks", _class_names(root))
    raise DatasetError(
        f"{root} is not a labelled dataset: expected a PASCAL VOC folder (JPEGImages/, SegmentationClass/) "
        "or images/ and masks/ folders"
    )


def _split_file(root: Path, layout: str, split: str) -> Path:
    return root / "ImageSets" / "Segmentation" / f"{split}.txt" if layout == "voc" else root / f"{split}.txt"


def _listing(
    root: Path, layout: str, split: str | None, images: Path, masks: Path, class_names: tuple[str, ...] | None
) -> DatasetListing:
    if split is None and layout == "voc" and _split_file(root, layout, DEFAULT_SPLIT).is_file():
        split = DEFAULT_SPLIT
    if split is not None:
        listed = _split_file(root, layout, split)
        if not listed.is_file():
            raise DatasetError(f"{root} has no split {split!r}: {listed} does not exist")
        entries = [_entry(name, find_image(images, name), masks, listed) for name in read_ids(listed)]
    else:
        files = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        entries = [_entry(p.stem, p, masks, None) for p in files]
    if not entries:
        raise DatasetError(f"{root} holds no images in {images.name}/")
    return DatasetListing(root, layout, split, tuple(entries), class_names)


def _entry(name: str, image: Path | None, masks: Path, listed: Path | None) -> DatasetEntry:
    if image is None:
        raise DatasetError(f"{listed} lists {name!r} but there is no image of that name")
    mask = masks / f"{name}.png"
    return DatasetEntry(name, image, mask if mask.is_file() else None)


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
