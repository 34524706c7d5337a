"""Which files the viewer opens as what: checkpoints by suffix, images and folders of images."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from fcnviewer.core.images import is_image_path

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors")


def is_checkpoint_path(path: str | Path) -> bool:
    """Whether ``path`` has a checkpoint suffix."""
    return Path(path).suffix.lower() in CHECKPOINT_SUFFIXES


def split_checkpoints(paths: Sequence[str | Path]) -> tuple[list[Path], list[str | Path]]:
    """``paths`` as checkpoints and the rest (images and folders), each in order."""
    return [Path(p) for p in paths if is_checkpoint_path(p)], [p for p in paths if not is_checkpoint_path(p)]


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """Images named, and the images inside folders named (sorted by name), in order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p))
        else:
            found.append(path)
    return found
