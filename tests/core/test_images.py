"""Image loading: modes, orientation, animation, limits and broken files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcnviewer.core.images import ImageError, load_image


def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


def test_rgb_png_round_trips(tmp_path: Path, rgb_image: np.ndarray) -> None:
    loaded = load_image(_save(Image.fromarray(rgb_image), tmp_path / "a.png"))
    assert loaded.dtype == np.uint8 and loaded.flags.c_contiguous
    np.testing.assert_array_equal(loaded, rgb_image)


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("L", lambda a: Image.fromarray(a[:, :, 0])),
        ("RGBA", lambda a: Image.fromarray(np.dstack([a, np.full(a.shape[:2], 128, np.uint8)]))),
        ("P", lambda a: Image.fromarray(a).quantize(16)),
        ("LA", lambda a: Image.fromarray(a[:, :, 0]).convert("LA")),
        ("1", lambda a: Image.fromarray(a[:, :, 0]).convert("1")),
    ],
)
def test_modes_become_rgb_of_the_same_size(tmp_path: Path, rgb_image: np.ndarray, mode: str, make) -> None:
    image = make(rgb_image)
    assert image.mode == mode
    loaded = load_image(_save(image, tmp_path / f"{mode}.png"))
    assert loaded.shape == (*rgb_image.shape[:2], 3)
    if mode == "RGBA":
        np.testing.assert_array_equal(loaded, rgb_image)


def test_sixteen_bit_grayscale_is_scaled(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    loaded = load_image(_save(Image.fromarray(values), tmp_path / "g16.png"))
    np.testing.assert_array_equal(loaded[0, :, 0], [0, 100, 255])
    assert (loaded[..., 0] == loaded[..., 2]).all()


def test_cmyk_jpeg(tmp_path: Path, rgb_image: np.ndarray) -> None:
    loaded = load_image(_save(Image.fromarray(rgb_image).convert("CMYK"), tmp_path / "c.jpg"))
    assert loaded.shape == rgb_image.shape
    assert np.abs(loaded.astype(int) - rgb_image).mean() < 30


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    array = np.zeros((20, 40, 3), np.uint8)
    array[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    loaded = load_image(_save(Image.fromarray(array), tmp_path / "r.jpg", exif=exif, quality=95))
    assert loaded.shape == (40, 20, 3)
    assert loaded[:15].mean() > 200 and loaded[25:].mean() < 50  # white now on top


def test_first_frame_of_an_animation(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    loaded = load_image(path)
    assert loaded.shape == (6, 8, 3) and loaded[..., 0].mean() > 200 and loaded[..., 2].mean() < 50


def test_non_ascii_file_name(tmp_path: Path, rgb_image: np.ndarray) -> None:
    assert load_image(_save(Image.fromarray(rgb_image), tmp_path / "Straße_画像.png")).shape == rgb_image.shape


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_broken_files_name_the_file_and_the_problem(tmp_path: Path, rgb_image: np.ndarray) -> None:
    png = _png_bytes(Image.fromarray(rgb_image))
    jpeg = io.BytesIO()
    Image.fromarray(rgb_image).save(jpeg, format="JPEG")
    cases = {
        "empty.png": (b"", "the file is empty"),
        "text.png": (b"this is text, not a picture\n" * 20, "not an image Pillow can read"),
        "cut.png": (png[: len(png) // 2], "truncated or corrupt"),
        "cut.jpg": (jpeg.getvalue()[: len(jpeg.getvalue()) // 2], "truncated or corrupt"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageError, match=message) as caught:
            load_image(path)
        assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)  # 400 megapixels in a few tens of kilobytes
    assert path.stat().st_size < 200_000
    with pytest.raises(
        ImageError, match=r"400.0 megapixels, over the limit of 100 megapixels \(raise it with --max-pixels\)"
    ):
        load_image(path)


def test_pixel_limit_is_configurable(tmp_path: Path, rgb_image: np.ndarray) -> None:
    path = _save(Image.fromarray(rgb_image), tmp_path / "a.png")
    with pytest.raises(ImageError, match="over the limit"):
        load_image(path, max_pixels=100)
    assert load_image(path, max_pixels=10_000).shape == rgb_image.shape
