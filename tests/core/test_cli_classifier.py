"""The command line on a torchvision VGG16 state dict: ``predict --scores`` (the dense map) and ``rf`` (its crops)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

from fcnviewer.cli import main

#: A 256x288 image: VGG16's dense map is 2x3 (fc6's 7x7 window over a 8x9 pool5).
HEIGHT, WIDTH = 256, 288


@pytest.fixture(scope="module")
def vgg16_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, torch.nn.Module]:
    """A randomly initialised torchvision VGG16 saved as its bare state dict, an image, and the net."""
    folder = tmp_path_factory.mktemp("vgg16")
    torch.manual_seed(0)
    net = torchvision.models.vgg16(weights=None).eval()
    checkpoint = folder / "vgg16.pth"
    torch.save(net.state_dict(), checkpoint)
    rng = np.random.default_rng(0)
    image = folder / "scene.png"
    Image.fromarray(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)).save(image)
    return checkpoint, image, net


def _spec_scores(net: torch.nn.Module, image: Path) -> torch.Tensor:
    """The contract, by hand: ``features`` on the ImageNet-normalised image, then classifier.0 as a 7x7
    convolution, ReLU, classifier.3 as 1x1, ReLU, classifier.6 as 1x1."""
    pixels = torch.from_numpy(np.array(Image.open(image).convert("RGB"))).permute(2, 0, 1).double() / 255
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = ((pixels - mean.double()[:, None, None]) / std.double()[:, None, None]).float()[None]
    fc6, fc7, fc8 = net.classifier[0], net.classifier[3], net.classifier[6]
    with torch.no_grad():
        h = F.relu(F.conv2d(net.features(x), fc6.weight.view(4096, 512, 7, 7), fc6.bias))
        h = F.relu(F.conv2d(h, fc7.weight[:, :, None, None], fc7.bias))
        return F.conv2d(h, fc8.weight[:, :, None, None], fc8.bias)[0]


def test_predict_scores_writes_vgg16s_native_dense_map_and_the_imagenet_names(vgg16_files, tmp_path, capsys) -> None:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    checkpoint, image, net = vgg16_files
    out = tmp_path / "out"
    argv = ["predict", str(image), "--checkpoint", str(checkpoint), "--scores", "--precision", "float32"]
    assert main([*argv, "--device", "cpu", "--out", str(out)]) == 0
    scores = np.load(out / "scene_scores.npz")
    assert set(scores.files) == {"score32", "classes"}
    assert scores["score32"].dtype == np.float32 and scores["score32"].shape == (1000, 2, 3)
    expected = _spec_scores(net, image).numpy()
    np.testing.assert_allclose(scores["score32"], expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert list(scores["classes"]) == _IMAGENET_CATEGORIES
    mask = np.asarray(Image.open(out / "scene_mask.png"))
    assert mask.shape == (HEIGHT, WIDTH)
    assert "scene.png" in capsys.readouterr().out


def test_rf_reports_vgg16s_404_pixel_field_and_the_crop_a_location_stands_for(vgg16_files, capsys) -> None:
    checkpoint, image, _ = vgg16_files
    assert main(["rf", "--checkpoint", str(checkpoint), "--image", str(image), "--pixel", "200,150", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    last = report["layers"][-1]
    assert (last["layer"], last["size"], last["stride"]) == ("net.classifier.6", 404, 32.0)
    crop = report["pixel"]["crop"]
    # rows: (200 - 111.5) / 32 = 2.8, clamped to the map's last row 1; columns: (150 - 111.5) / 32 = 1.2 -> 1
    assert crop["unit"] == [1, 1] and crop["box"] == [32, 32, 255, 255] and crop["size"] == 224


def test_an_image_smaller_than_a_crop_gets_one_line(vgg16_files, tmp_path, capsys) -> None:
    checkpoint, _, _ = vgg16_files
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((100, 150, 3), dtype=np.uint8)).save(small)
    assert main(["predict", str(small), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err.strip()
    assert error.endswith(
        f"{small}: the image is 150x100, smaller than the 224x224 crop that vgg16's fully "
        "connected layers see; open a larger image"
    )
    assert "\n" not in error
