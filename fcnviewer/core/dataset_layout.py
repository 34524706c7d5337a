"""Whether a folder is a labelled dataset, by its folder names alone (no torch: the viewer asks on
the GUI thread before the network stack is loaded). :mod:`fcnviewer.core.datasets` lists them."""

from __future__ import annotations

from pathlib import Path


def voc_root(path: Path) -> Path | None:
    """The PASCAL VOC folder (``JPEGImages/``, ``SegmentationClass/``) at or inside ``path``, if any."""
    for candidate in (path, path / "VOCdevkit" / "VOC2012", path / "VOC2012"):
        if (candidate / "JPEGImages").is_dir() and (candidate / "SegmentationClass").is_dir():
            return candidate
    return None


def is_dataset(path: str | Path) -> bool:
    """Whether ``path`` is a folder in one of the two layouts (cheap: looks at folder names only)."""
    path = Path(path)
    return voc_root(path) is not None or ((path / "images").is_dir() and (path / "masks").is_dir())
