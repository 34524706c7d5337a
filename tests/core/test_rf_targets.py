"""Readable ERFs (#20): a layer's unit, a region of the output, SmoothGrad, mass boxes; ``rf --layer/--region``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fcnviewer.core.preprocessing import CAFFE_BGR, IMAGENET_RGB, Preprocessing
from fcnviewer.core.receptive import (
    Box,
    erf_stats,
    gradient_map,
    layer_names,
    layer_table,
    layer_target,
    mass_box,
    region_target,
    smoothed_gradient_map,
    unit_box,
)
from tests.core.test_receptive import checkpoint, clipped, inside, run_cli, tiny  # noqa: F401

SIZE = (40, 56)


def _inputs(seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(seed))


def _reference_unit_gradient(model, layer: str, unit: tuple[int, int], inputs: torch.Tensor) -> np.ndarray:
    """|d(channel sum of ``layer``'s unit) / d input| by a plain forward hook and autograd."""
    module = dict(model.named_modules())[layer]
    leaf = inputs.clone().requires_grad_(True)
    seen = []
    hook = module.register_forward_hook(lambda _m, _i, o: seen.append(o[0, :, unit[0], unit[1]].sum().clone()))
    try:
        model(leaf)
    finally:
        hook.remove()
    (grad,) = torch.autograd.grad(seen[0], leaf)
    return grad[0].abs().sum(0).numpy()


@pytest.mark.parametrize("layer", ["conv3_3", "pool4", "score_fr"])
def test_layer_target_is_the_units_gradient_inside_its_box(layer: str) -> None:
    model = tiny("fcn16s", positive=True)
    row = {r.layer: r for r in layer_table(model)}[layer]
    target = layer_target(model, layer, 21, 33)
    values = gradient_map(model, target, _inputs())
    unit, box = target.unit, target.box
    assert (target.size, target.stride) == (row.size, row.stride)
    assert (box.width, box.height) == (row.size, row.size)
    assert ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2) == (
        row.center0 + row.stride * unit[1],
        row.center0 + row.stride * unit[0],
    )
    # the nearest unit: no other unit's centre is closer to the pixel
    assert abs(row.center0 + row.stride * unit[0] - 21) <= row.stride / 2
    assert abs(row.center0 + row.stride * unit[1] - 33) <= row.stride / 2
    ys, xs = np.nonzero(values)
    support = Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    assert support == clipped(box, *SIZE)  # positive weights: every pixel of the clipped box counts
    np.testing.assert_allclose(values, _reference_unit_gradient(model, layer, unit, _inputs()), rtol=1e-5, atol=1e-8)


def test_layer_target_with_signed_weights_stays_in_the_box() -> None:
    model = tiny("fcn32s", seed=3)
    target = layer_target(model, "pool3", 30, 10)
    values = gradient_map(model, target, _inputs(1))
    ys, xs = np.nonzero(values)
    assert values.dtype == np.float32 and values.shape == SIZE and values.max() > 0
    assert inside(Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())), target.box)
    np.testing.assert_allclose(values, _reference_unit_gradient(model, "pool3", target.unit, _inputs(1)), rtol=1e-5)


def test_layer_names_and_unknown_layer() -> None:
    model = tiny("fcn8s")
    names = layer_names(model)
    assert names[:2] == ("conv1_1", "conv1_2") and {"pool4", "score_fr", "16", "8", "final"} <= set(names)
    with pytest.raises(ValueError, match="the layers are conv1_1, conv1_2"):
        layer_target(model, "pool9", 1, 1)


def test_stage_and_final_targets_read_the_output() -> None:
    model = tiny("fcn16s", seed=2)
    inputs = _inputs(2)
    final = layer_target(model, "final", 7, 9)
    leaf = inputs.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(leaf)["out"][0, :, 7, 9].sum(), leaf)
    np.testing.assert_allclose(gradient_map(model, final, inputs), grad[0].abs().sum(0).numpy(), rtol=1e-5)
    assert final.unit == (7, 9)
    stage = layer_target(model, "16", 7, 9)
    values = gradient_map(model, stage, inputs)
    ys, xs = np.nonzero(values)
    assert stage.box.width <= stage.size and stage.stride == 16
    assert inside(Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())), stage.box)


def test_region_is_the_sum_of_its_pixels_gradients() -> None:
    model = tiny("fcn8s", seed=4)
    inputs, region, c = _inputs(4), Box(10, 5, 14, 8), 2
    leaf = inputs.clone().requires_grad_(True)
    (signed,) = torch.autograd.grad(region_target(model, region, c).scalar(leaf), leaf)
    per_pixel = torch.zeros_like(inputs)
    for y in range(region.y0, region.y1 + 1):
        for x in range(region.x0, region.x1 + 1):
            leaf = inputs.clone().requires_grad_(True)
            per_pixel += torch.autograd.grad(model(leaf)["out"][0, c, y, x], leaf)[0]
    torch.testing.assert_close(signed, per_pixel, rtol=1e-4, atol=1e-6)
    expected = per_pixel[0].abs().sum(0).numpy()
    target = region_target(model, region, c)
    np.testing.assert_allclose(gradient_map(model, target, inputs), expected, rtol=1e-4)
    assert target.box == unit_box(model.streams()["out"], (5, 8), (10, 14))
    ys, xs = np.nonzero(expected)
    assert inside(Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())), target.box)


def test_mass_boxes_of_known_maps() -> None:
    spot = np.zeros((50, 60), np.float32)
    spot[10, 12] = 90
    spot[30, :10] = 1  # 10 % of the mass, far away
    assert mass_box(spot, 0.9) == Box(12, 10, 12, 10) == mass_box(spot, 0.5)
    assert mass_box(spot, 0.95) == Box(5, 10, 12, 30)  # the lightest line is peeled first
    block = np.zeros((50, 60), np.float32)
    block[20:30, 5:15] = 1
    assert mass_box(block, 0.9) == Box(5, 21, 14, 29)
    assert mass_box(block, 0.5) == Box(7, 23, 14, 29)  # 8x7 = 56: lines shorten as others go, so it stays square
    stats = erf_stats(block, Box(-5, 10, 24, 39))  # clipped: 25 wide, 30 high
    assert stats.share_of_theoretical == pytest.approx(90 / 750)
    assert stats.as_dict()["mass90_box"] == [5, 21, 14, 29]
    assert mass_box(np.zeros((4, 5)), 0.9) == Box(0, 0, 4, 3)


def test_smoothgrad() -> None:
    model = tiny("fcn32s", seed=6)
    image = np.random.default_rng(6).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    target = layer_target(model, "pool4", 20, 20)
    plain = gradient_map(model, target, CAFFE_BGR.to_tensor(image))
    np.testing.assert_array_equal(smoothed_gradient_map(model, target, image, CAFFE_BGR, 1, 0.0), plain)
    smooth = smoothed_gradient_map(model, target, image, CAFFE_BGR, 3, 20.0, seed=1)
    np.testing.assert_array_equal(smooth, smoothed_gradient_map(model, target, image, CAFFE_BGR, 3, 20.0, seed=1))
    generator, pixels = torch.Generator().manual_seed(1), torch.from_numpy(image).permute(2, 0, 1)[None].float()
    mean = torch.tensor(CAFFE_BGR.mean, dtype=torch.float32).view(1, 3, 1, 1)
    noisy = [(pixels + 20.0 * torch.randn(1, 3, *SIZE, generator=generator)).flip(1) - mean for _ in range(3)]
    by_hand = np.mean([gradient_map(model, target, x) for x in noisy], axis=0)
    np.testing.assert_allclose(smooth, by_hand, rtol=1e-4, atol=1e-7)
    assert not np.allclose(smooth, plain)
    with pytest.raises(ValueError, match="at least one copy"):
        smoothed_gradient_map(model, target, image, CAFFE_BGR, 0, 1.0)


@pytest.mark.parametrize("preprocessing", [CAFFE_BGR, IMAGENET_RGB, Preprocessing("L", 1.0, (0.5,), (0.25,))])
def test_pixel_change_is_the_linear_part(preprocessing: Preprocessing) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(50, 200, (6, 7, 3), dtype=np.uint8)
    delta = rng.integers(-40, 40, (6, 7, 3))
    moved = preprocessing.to_tensor((image + delta).astype(np.uint8))
    change = preprocessing.pixel_change(torch.from_numpy(delta.transpose(2, 0, 1)[None].astype(np.float32)))
    torch.testing.assert_close(preprocessing.to_tensor(image) + change, moved, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- command line


@pytest.fixture
def image_path(tmp_path):
    path = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)).save(path)
    return path


def test_cli_layer_json_and_erf(checkpoint, image_path, tmp_path, capsys) -> None:  # noqa: F811
    base = ["--checkpoint", str(checkpoint), "--image", str(image_path), "--pixel", "12,30", "--json"]
    sizes = {}
    for layer in ("conv1_1", "pool3", "pool4", "score_fr"):
        assert run_cli([*base, "--layer", layer]) == 0
        report = json.loads(capsys.readouterr().out)
        sizes[layer] = (report["layer"]["size"], report["layer"]["stride"])
        row = next(r for r in report["layers"] if r["layer"] == layer)
        (x0, y0, x1, y1), (r, c) = report["layer"]["box"], report["layer"]["unit"]
        assert (x1 - x0 + 1, (x0 + x1) / 2, (y0 + y1) / 2) == (
            row["size"],
            row["center0"] + row["stride"] * c,
            row["center0"] + row["stride"] * r,
        )
    assert sizes == {"conv1_1": (3, 1.0), "pool3": (44, 8.0), "pool4": (100, 16.0), "score_fr": (404, 32.0)}
    erf = tmp_path / "erf.npy"
    assert run_cli([*base, "--layer", "pool4", "--erf", str(erf)]) == 0
    report = json.loads(capsys.readouterr().out)
    model = tiny("fcn16s", seed=5)
    from fcnviewer.core.checkpoints import ModelInfo
    from fcnviewer.core.images import load_image
    from fcnviewer.core.models import ArchSpec

    target = layer_target(model, "pool4", 12, 30)
    inputs = ModelInfo.default_for(ArchSpec("fcn16s", width=1 / 16)).preprocessing.to_tensor(load_image(image_path))
    expected = gradient_map(model, target, inputs)
    np.testing.assert_array_equal(np.load(erf), expected)
    assert report["pixel"]["erf"]["layer"] == "pool4"
    stats = report["erf_stats"]
    assert stats == erf_stats(expected, target.box).as_dict() and 0 < stats["share_of_theoretical"] <= 1


def test_cli_layer_errors(checkpoint, image_path, capsys) -> None:  # noqa: F811
    base = ["--checkpoint", str(checkpoint), "--image", str(image_path), "--pixel", "12,30"]
    assert run_cli([*base, "--layer", "pool9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pool9" in err and "conv1_1, conv1_2" in err and "score_fr" in err
    assert run_cli([*base, "--layer", "pool4", "--class", "1", "--erf", "x.npy"]) == 2
    assert "--class" in capsys.readouterr().err
    assert run_cli([*base, "--smooth", "3"]) == 2
    assert "--smooth" in capsys.readouterr().err


def test_cli_region(checkpoint, image_path, tmp_path, capsys) -> None:  # noqa: F811
    erf = tmp_path / "region.npy"
    base = ["--checkpoint", str(checkpoint), "--image", str(image_path), "--erf", str(erf), "--class", "2"]
    assert run_cli([*base, "--region", "30,10,33,12"]) == 0
    text = capsys.readouterr().out
    assert "90 % of its gradient mass" in text and "theoretical box" in text
    from fcnviewer.core.checkpoints import ModelInfo
    from fcnviewer.core.images import load_image
    from fcnviewer.core.models import ArchSpec

    model = tiny("fcn16s", seed=5)
    inputs = ModelInfo.default_for(ArchSpec("fcn16s", width=1 / 16)).preprocessing.to_tensor(load_image(image_path))
    leaf = inputs.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(leaf)["out"][0, 2, 10:13, 30:34].sum(), leaf)
    np.testing.assert_allclose(np.load(erf), grad[0].abs().sum(0).numpy(), rtol=1e-5, atol=1e-7)
    assert run_cli([*base, "--region", "30,10,33,12", "--json", "--smooth", "2", "--noise", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["region"]["theoretical_box"] == unit_box(model.streams()["out"], (10, 12), (30, 33)).as_list()
    assert report["region"]["erf"]["smooth"] == 2 and set(report["erf_stats"]) == {
        "mass90_box",
        "mass50_box",
        "share_of_theoretical",
    }
    for region, words in (("50,10,56,12", "not inside"), ("33,10,30,12", "inverted"), ("-1,0,3,3", "not inside")):
        assert run_cli([*base, f"--region={region}"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err
    assert run_cli([*base[:-1], "99", "--region", "30,10,33,12"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "class 99 does not exist" in err
    assert run_cli(["--checkpoint", str(checkpoint), "--image", str(image_path), "--region", "1,1,2,2"]) == 2
    assert "--region needs" in capsys.readouterr().err
