"""Which files the viewer opens as what: checkpoints by suffix; the rest are images and folders of images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fcnviewer.core.images import image_files

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors")


def is_checkpoint_path(path: str | Path) -> bool:
    """Whether ``path`` has a checkpoint suffix."""
    return Path(path).suffix.lower() in CHECKPOINT_SUFFIXES


def split_checkpoints(paths: Sequence[str | Path]) -> tuple[list[Path], list[str | Path]]:
    """``paths`` as checkpoints and the rest (images and folders), each in order."""
    return [Path(p) for p in paths if is_checkpoint_path(p)], [p for p in paths if not is_checkpoint_path(p)]


def with_siblings(paths: Sequence[str | Path]) -> tuple[list[Path], int]:
    """The images to step through and the one to show first: for one image file, every image of
    its folder (as image viewers do) and that one; otherwise the images named or inside folders."""
    if len(paths) == 1 and Path(paths[0]).is_file():
        chosen = Path(paths[0])
        siblings = image_files([chosen.parent])
        if chosen in siblings:
            return siblings, siblings.index(chosen)
    return image_files(paths), 0
