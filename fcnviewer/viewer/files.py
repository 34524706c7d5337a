"""Which files the viewer opens as what: checkpoints by suffix; the rest are images and folders of images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors")


def is_checkpoint_path(path: str | Path) -> bool:
    """Whether ``path`` has a checkpoint suffix."""
    return Path(path).suffix.lower() in CHECKPOINT_SUFFIXES


def split_checkpoints(paths: Sequence[str | Path]) -> tuple[list[Path], list[str | Path]]:
    """``paths`` as checkpoints and the rest (images and folders), each in order."""
    return [Path(p) for p in paths if is_checkpoint_path(p)], [p for p in paths if not is_checkpoint_path(p)]
