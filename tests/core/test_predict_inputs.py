"""``fcnviewer predict`` on broken, odd and hostile inputs: one line each, the rest still done."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcnviewer.cli import main


def _broken_inputs(folder: Path, image: np.ndarray) -> dict[str, Path]:
    png, jpeg = io.BytesIO(), io.BytesIO()
    Image.fromarray(image).save(png, format="PNG")
    Image.fromarray(image).save(jpeg, format="JPEG")
    contents = {
        "empty.png": b"",
        "text.png": b"Dear reviewer, this is not a PNG.\n" * 4,
        "truncated.png": png.getvalue()[: len(png.getvalue()) // 3],
        "truncated.jpg": jpeg.getvalue()[: len(jpeg.getvalue()) // 3],
    }
    paths = {}
    for name, data in contents.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    paths["bomb.png"] = folder / "bomb.png"
    Image.new("1", (30000, 30000)).save(paths["bomb.png"])  # 900 megapixels in a tiny file
    paths["large.png"] = folder / "large.png"
    Image.new("RGB", (200, 100)).save(paths["large.png"])  # over the --max-pixels given below
    paths["directory"] = folder / "a_directory.png"
    paths["directory"].mkdir()
    paths["missing.png"] = folder / "missing.png"
    return paths


def test_every_broken_input_gets_one_line_and_the_good_ones_are_done(
    tmp_path: Path, tiny_checkpoint, rgb_image, capsys
):
    checkpoint = tiny_checkpoint("fcn32s")
    inputs = _broken_inputs(tmp_path, rgb_image)
    good = tmp_path / "good.png"
    Image.fromarray(rgb_image).save(good)
    args = [str(p) for p in inputs.values()] + [str(good)]
    out = tmp_path / "out"
    code = main(["predict", *args, "--checkpoint", str(checkpoint), "--out", str(out), "--max-pixels", "10000"])
    assert code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(inputs)
    for path, line in zip(inputs.values(), lines, strict=True):
        assert str(path) in line and "Traceback" not in line
    assert (out / "good_mask.png").exists()
    assert sorted(p.name for p in out.iterdir()) == ["good_mask.png", "good_overlay.png"]


def _odd_images(folder: Path) -> dict[str, tuple[Path, tuple[int, int]]]:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    cases: dict[str, tuple[Path, tuple[int, int]]] = {}

    def save(name: str, image: Image.Image, size: tuple[int, int], **kwargs) -> None:
        image.save(folder / name, **kwargs)
        cases[name] = (folder / name, size)

    save("one_pixel.png", Image.new("RGB", (1, 1), (200, 10, 10)), (1, 1))
    save("gray16.png", Image.fromarray((rng.integers(0, 65535, (30, 50))).astype(np.uint16)), (30, 50))
    save("rgba.png", Image.fromarray(np.dstack([rgb, rgb[..., 0]])), (30, 50))
    save("palette.png", Image.fromarray(rgb).quantize(8), (30, 50))
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"), (30, 50))
    frames = [Image.fromarray(rgb), Image.fromarray(255 - rgb)]
    save("animated.gif", frames[0], (30, 50), save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 8  # displayed rotated: 50 wide x 30 high becomes 30 wide x 50 high
    save("rotated.jpg", Image.fromarray(rgb), (50, 30), exif=exif)
    save("ünïcödé 图像.png", Image.fromarray(rgb), (30, 50))
    save("wide.png", Image.fromarray(rng.integers(0, 256, (3, 700, 3), dtype=np.uint8)), (3, 700))
    save("tall.png", Image.fromarray(rng.integers(0, 256, (700, 2, 3), dtype=np.uint8)), (700, 2))
    return cases


def test_odd_but_valid_images_all_work_at_their_displayed_size(tmp_path: Path, tiny_checkpoint, capsys):
    checkpoint = tiny_checkpoint("fcn8s")
    cases = _odd_images(tmp_path)
    out = tmp_path / "out"
    code = main(["predict", *(str(p) for p, _ in cases.values()), "--checkpoint", str(checkpoint), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    for path, (height, width) in cases.values():
        mask = Image.open(out / f"{path.stem}_mask.png")
        assert mask.size == (width, height), path.name


@pytest.mark.parametrize("bad", ["empty.pth", "evil.pth"])
def test_a_bad_checkpoint_stops_before_any_image(tmp_path: Path, bad: str, rgb_image, capsys) -> None:
    import os

    import torch

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    path = tmp_path / bad
    if bad == "evil.pth":
        torch.save({"w": RunsCode()}, path)
    else:
        path.write_bytes(b"")
    image = tmp_path / "a.png"
    Image.fromarray(rgb_image).save(image)
    assert main(["predict", str(image), "--checkpoint", str(path), "--out", str(tmp_path / "o")]) == 2
    assert str(path) in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "o").exists()
