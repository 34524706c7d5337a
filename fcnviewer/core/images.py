"""Reading images from disk into RGB uint8 arrays, as they are meant to be displayed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fcnviewer.core.errors import UserError

#: Default refusal limit, in pixels (width x height); ``max_pixels`` raises it.
DEFAULT_MAX_PIXELS = 100_000_000
# Our limit, checked on the header before decoding, replaces Pillow's fixed bomb check.
Image.MAX_IMAGE_PIXELS = None

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".tga", ".ico"}
)


class ImageError(UserError, ValueError):
    """An image that cannot be used; the message names the file and the problem."""


def is_image_path(path: str | Path) -> bool:
    """Whether ``path`` has an image file suffix."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, and the images inside the folders named (sorted by name), in order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p))
        else:
            found.append(path)
    return found


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of the image at ``path``, oriented as displayed.

    EXIF orientation is applied; the first frame of an animation is used; alpha is dropped
    (the colour channels are kept as they are); 16-bit and float images are scaled to 0..255;
    palette, grayscale and CMYK images are converted. Images of more than ``max_pixels``
    pixels are refused before they are decoded.
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        with Image.open(path) as image:  # reads the header only
            pixels = image.width * image.height
            if pixels > max_pixels:
                raise ImageError(
                    f"{path}: {image.width}x{image.height} is {pixels / 1e6:.1f} megapixels, over the limit of "
                    f"{max_pixels / 1e6:g} megapixels (raise it with --max-pixels)"
                )
            image.seek(0)
            image.load()
            return to_rgb(ImageOps.exif_transpose(image))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{path}: cannot decode the image (truncated or corrupt?): {exc}") from None


def to_rgb(image: Image.Image) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of a decoded Pillow image of any mode."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16"):
            values = values / 257.0
        else:
            low, high = float(values.min()), float(values.max())
            values = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode != "RGB":
        image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
    return np.array(np.asarray(image)[:, :, :3], order="C")  # a writable copy
