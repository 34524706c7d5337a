"""Shared fixtures: tiny random FCNs saved as checkpoints (no downloads, ever)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def randomize(model, seed: int = 0):
    """Give every parameter random He-scaled values (see ``randomize_weights``)."""
    from fcnviewer.core.models import randomize_weights

    return randomize_weights(model, seed)


@pytest.fixture
def one_thread():
    """Torch on one thread for the test (as in each ``torchrun`` process), restored after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_checkpoint(tmp_path: Path):
    """A factory: ``tiny_checkpoint(arch="fcn8s", num_classes=4) -> Path`` of a random tiny model."""
    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint
    from fcnviewer.core.models import ArchSpec, build_model

    def make(
        arch: str = "fcn8s", num_classes: int = 4, width: float = 1 / 16, suffix: str = ".safetensors", seed: int = 0
    ) -> Path:
        spec = ArchSpec(arch, num_classes, width)
        model = randomize(build_model(spec), seed)
        return save_checkpoint(tmp_path / f"{arch}-{seed}{suffix}", model, ModelInfo.default_for(spec))

    return make


@pytest.fixture
def rgb_image() -> np.ndarray:
    """A deterministic 75x101 RGB uint8 image with structure."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:75, :101]
    base = np.stack([(x * 2) % 256, (y * 3) % 256, ((x + y) * 5) % 256], axis=-1)
    return (base + rng.integers(0, 30, base.shape)).clip(0, 255).astype(np.uint8)
