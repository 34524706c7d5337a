"""Property-based tests: whatever bytes or images arrive, loaders answer or refuse cleanly."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fcnviewer.core.checkpoints import CheckpointError, load_checkpoint
from fcnviewer.core.images import ImageError, load_image

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".tif", ".webp"])


def _write(data: bytes, suffix: str) -> Path:
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
        handle.write(data)
    return Path(handle.name)


@FUZZ
@given(data=st.binary(max_size=2048), suffix=SUFFIXES)
def test_random_bytes_never_escape_as_anything_but_image_error(data: bytes, suffix: str) -> None:
    path = _write(data, suffix)
    try:
        image = load_image(path, max_pixels=10_000_000)
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    except ImageError as exc:
        assert str(exc).startswith(str(path))
    finally:
        path.unlink()


@FUZZ
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    mode=st.sampled_from(["RGB", "RGBA", "L", "LA", "P", "I;16", "1", "CMYK"]),
    fmt=st.sampled_from(["PNG", "TIFF", "JPEG", "GIF", "BMP"]),
    seed=st.integers(0, 2**16),
)
def test_random_valid_images_load_at_their_size(height: int, width: int, mode: str, fmt: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    image = image.convert("L").convert(mode) if mode in ("I;16", "1", "LA") else image.convert(mode)
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (OSError, ValueError, KeyError):
        return  # this format cannot store this mode: nothing to load
    path = _write(buffer.getvalue(), "." + fmt.lower())
    try:
        loaded = load_image(path)
    finally:
        path.unlink()
    assert loaded.shape == (height, width, 3) and loaded.dtype == np.uint8


@FUZZ
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".pth", ".pt", ".safetensors"]))
def test_random_bytes_as_checkpoints_are_refused_cleanly(data: bytes, suffix: str) -> None:
    path = _write(data, suffix)
    try:
        load_checkpoint(path)
        raise AssertionError("random bytes loaded as a checkpoint")
    except CheckpointError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
    finally:
        path.unlink()


KEYS = st.sampled_from(
    ["conv1_1.weight", "conv1_1.bias", "score_fr.weight", "score_fr.bias", "upscore.weight", "upscore8.weight",
     "backbone.conv1.weight", "classifier.4.weight", "fc6.weight", "something.else"]
)  # fmt: skip
SHAPES = st.lists(st.integers(1, 4), min_size=0, max_size=4)


@FUZZ
@given(state=st.dictionaries(KEYS, SHAPES, max_size=6))
def test_random_state_dicts_are_refused_cleanly(state: dict[str, list[int]]) -> None:
    path = _write(b"", ".pth")
    try:
        torch.save({key: torch.zeros(shape) for key, shape in state.items()}, path)
        load_checkpoint(path)
        raise AssertionError("a random state dict loaded")
    except CheckpointError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
    finally:
        path.unlink()
