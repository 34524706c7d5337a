"""A probe on its window computes what the whole image does: effective RFs (stages, regions, layers,
skip paths, SmoothGrad) and branch contributions, against the plain computation of before."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
from fcnviewer.core.inference import Predictor
from fcnviewer.core.layer_probing import probe_layer, probe_paths
from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.probing import probe, probe_region
from fcnviewer.core.receptive import Box, Smoothing, layer_target, noisy_inputs, pixel_boxes, stage_geometry
from fcnviewer.core.receptive.paths import isolating, path_fields, skip_paths
from fcnviewer.core.receptive.regions import region_units
from fcnviewer.core.receptive.targets import layer_unit_box
from fcnviewer.core.windows import VGG_PERIOD, Window, probe_window
from tests.core.test_receptive import tiny

#: Larger than FCN-VGG's 404-pixel receptive field, so that windows cut the image.
SIZE = (530, 610)
CLICKS = [(265, 300), (0, 0), (529, 609), (40, 590), (500, 17), (123, 456)]


def _predictor(model: nn.Module) -> Predictor:
    spec = ArchSpec(model.arch, model.num_classes)  # type: ignore[arg-type]
    return Predictor(LoadedModel(model, ModelInfo.default_for(spec)), device="cpu", precision="float32")


def _image(seed: int = 0, size: tuple[int, int] = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)


def _nearest(model: nn.Module, name: str, y: int, x: int, shape: tuple[int, ...]) -> tuple[int, int]:
    g = stage_geometry(model)[name]
    return tuple(int(np.clip(np.rint((p - g.offset) / g.stride), 0, n - 1)) for p, n in zip((y, x), shape, strict=True))  # type: ignore[return-value]


def _grad(scalar: torch.Tensor, leaf: torch.Tensor) -> np.ndarray:
    (grad,) = torch.autograd.grad(scalar, leaf, retain_graph=True)
    return grad[0].abs().sum(0).numpy()


def _reference(model: nn.Module, inputs: torch.Tensor, y: int, x: int, class_index: int | None = None):  # type: ignore[no-untyped-def]
    """The computation of before: the whole image, one forward pass, one ``autograd.grad`` per stage
    (weights' gradients and all), contributions from one masked copy of the input per skip path."""
    leaf = inputs.clone().requires_grad_(True)
    out = model(leaf)
    c = int(out["out"][0, :, y, x].argmax()) if class_index is None else class_index
    fields = {"final": _grad(out["out"][0, c, y, x], leaf)}
    for name in model.stage_names:  # type: ignore[attr-defined]
        row, col = _nearest(model, name, y, x, out[name].shape[-2:])
        fields[name] = _grad(out[name][0, c, row, col], leaf)
    paths = skip_paths(model)
    with isolating(paths, inputs.expand(len(paths), -1, -1, -1)), torch.no_grad():
        shares = model(inputs.expand(len(paths), -1, -1, -1))["out"][:, c, y, x]
    return fields, c, {p.name: float(v) for p, v in zip(paths, shares, strict=True)}


def _placed(values: np.ndarray, origin: tuple[int, int], size: tuple[int, int] = SIZE) -> np.ndarray:
    whole = np.zeros(size, np.float32)
    whole[origin[0] : origin[0] + values.shape[0], origin[1] : origin[1] + values.shape[1]] = values
    return whole


def _same(found: np.ndarray, expected: np.ndarray) -> None:
    """Equal within float rounding (the maps are O(1); the window changes the convolutions' sizes only)."""
    assert expected.max() > 0
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5 * float(expected.max()))


@pytest.mark.parametrize(
    ("arch", "clicks", "positive"),
    [
        ("fcn8s", CLICKS, False),
        ("fcn8s", CLICKS[:3], True),
        ("fcn16s", CLICKS[:4], False),
        ("fcn32s", CLICKS[2:5], False),
        ("fcn8s-atonce", CLICKS[3:], False),
    ],
)
def test_a_click_on_its_window_equals_the_whole_image(arch: str, clicks: list[tuple[int, int]], positive: bool) -> None:
    predictor = _predictor(tiny(arch, seed=3, positive=positive))
    image = _image()
    inputs = predictor.info.preprocessing.to_tensor(image)
    for y, x in clicks:
        found = predictor.probe(image, y, x)
        fields, c, shares = _reference(predictor.model, inputs, y, x)
        assert found.class_index == c and set(found.fields) == set(fields)
        for name, expected in fields.items():
            _same(_placed(found.fields[name], found.origin), expected)
        assert found.contributions == pytest.approx(shares, rel=1e-4, abs=1e-5 * max(map(abs, shares.values())))
    window = probe_window(predictor.model, 265, 300, SIZE)
    assert (window.y1 - window.y0) * (window.x1 - window.x0) < 0.5 * (SIZE[0] + 200) * (SIZE[1] + 200)


def test_a_window_is_aligned_on_the_padded_image_and_holds_every_box() -> None:
    model = tiny("fcn8s")
    for y, x in CLICKS:
        window = probe_window(model, y, x, SIZE)
        assert window.inset == 100 and window.origin[0] % VGG_PERIOD == 0 and window.origin[1] % VGG_PERIOD == 0
        assert window.y0 >= -100 and window.y1 <= SIZE[0] + 100 and window.x0 >= -100 and window.x1 <= SIZE[1] + 100
        assert window.y1 - window.y0 >= 201 and window.x1 - window.x0 >= 201  # as a padded image of a pixel
        for box in pixel_boxes(model, y, x, SIZE).values():
            assert window.y0 <= max(box.y0, -100) and min(box.y1, SIZE[0] + 99) < window.y1
            assert window.x0 <= max(box.x0, -100) and min(box.x1, SIZE[1] + 99) < window.x1
    assert probe_window(model, 5, 5, (64, 64)) == Window(-100, 164, -100, 164, 100)  # the whole padded image
    resnet = build_model(ArchSpec("fcn_resnet50", 3))
    assert probe_window(resnet, 300, 300, SIZE) == Window(0, SIZE[0], 0, SIZE[1])


def test_a_window_past_the_border_is_the_padding_and_shows_the_image_part() -> None:
    from fcnviewer.core.preprocessing import CAFFE_BGR

    image, window = _image(size=(60, 80)), Window(-36, 40, 50, 140, 100)
    (inputs,) = noisy_inputs(image, CAFFE_BGR, Smoothing(1, 5.0, 2), window=window.bounds)
    (whole,) = noisy_inputs(image, CAFFE_BGR, Smoothing(1, 5.0, 2))
    assert (
        inputs.shape[-2:] == (76, 90) and inputs[..., :36, :].abs().sum() == 0 and inputs[..., :, 30:].abs().sum() == 0
    )
    assert torch.equal(inputs[..., 36:, :30], whole[..., :40, 50:])
    assert torch.equal(window.inputs(image, CAFFE_BGR)[..., 36:, :30], CAFFE_BGR.to_tensor(image)[..., :40, 50:])
    values = np.arange(76 * 90, dtype=np.float32).reshape(76, 90)
    assert window.corner == (0, 50) and np.array_equal(window.visible(values, (60, 80)), values[36:, :30])


def test_a_resnet_click_runs_on_the_whole_image_as_before() -> None:
    torch.manual_seed(0)
    model = build_model(ArchSpec("fcn_resnet50", 3)).eval()
    predictor = _predictor(model)
    image = _image(size=(48, 56))
    found = predictor.probe(image, 20, 30)
    leaf = predictor.info.preprocessing.to_tensor(image).requires_grad_(True)
    out = model(leaf)
    assert found.origin == (0, 0) and found.class_index == int(out["out"][0, :, 20, 30].argmax())
    _same(found.fields["final"], _grad(out["out"][0, found.class_index, 20, 30], leaf))


def test_a_region_on_its_window_equals_the_whole_image() -> None:
    predictor = _predictor(tiny("fcn8s", seed=4))
    image, region = _image(1), Box(380, 200, 430, 260)
    found = probe_region(predictor, image, region, 2)
    assert found.origin != (0, 0)
    leaf = predictor.info.preprocessing.to_tensor(image).requires_grad_(True)
    out = predictor.model(leaf)
    _same(_placed(found.fields["final"], found.origin), _grad(out["out"][0, 2, 200:261, 380:431].sum(), leaf))
    units = region_units(stage_geometry(predictor.model)["16"], region, tuple(out["16"].shape[-2:]))
    stage = out["16"][0, 2, units.y0 : units.y1 + 1, units.x0 : units.x1 + 1].sum()
    _same(_placed(found.fields["16"], found.origin), _grad(stage, leaf))


def test_smoothgrad_on_its_window_equals_the_whole_images_noisy_copies() -> None:
    predictor = _predictor(tiny("fcn16s", seed=5))
    image, smoothing = _image(2), Smoothing(3, 12.0, 7)
    found = probe(predictor, image, 480, 90, class_index=1, smoothing=smoothing)
    copies = [
        _reference(predictor.model, inputs, 480, 90, 1)[0]
        for inputs in noisy_inputs(image, predictor.info.preprocessing, smoothing)
    ]
    for name in ("16", "final"):
        _same(_placed(found.fields[name], found.origin), np.mean([copy[name] for copy in copies], axis=0))
    plain = _reference(predictor.model, predictor.info.preprocessing.to_tensor(image), 480, 90, 1)[2]
    assert found.contributions == pytest.approx(plain, rel=1e-4, abs=1e-5 * max(map(abs, plain.values())))


@pytest.mark.parametrize("layer", ["conv1_1", "conv3_3", "pool4", "score_pool3", "score_pool4", "fc7", "16", "final"])
def test_a_layer_on_its_window_equals_the_whole_image(layer: str) -> None:
    predictor = _predictor(tiny("fcn8s", seed=6))
    image, (y, x) = _image(3), (300, 420)
    (row, col), box = layer_unit_box(predictor.model, layer, y, x)
    found = probe_layer(predictor, image, y, x, layer, boxes=[tuple(box.as_list())])  # type: ignore[list-item]
    inputs = predictor.info.preprocessing.to_tensor(image)
    target = layer_target(predictor.model, layer, y, x)
    leaf = inputs.clone().requires_grad_(True)
    expected = _grad(target.scalar(leaf), leaf)
    assert found.unit == target.unit == (row, col) and found.boxes[layer] == tuple(box.as_list())
    assert found.origin != (0, 0)
    _same(_placed(found.fields[layer], found.origin), expected)
    whole = probe_layer(predictor, image, y, x, layer)
    assert whole.origin == (0, 0) and whole.unit == found.unit
    _same(whole.fields[layer], expected)


def test_the_skip_paths_on_their_window_equal_the_whole_image() -> None:
    predictor = _predictor(tiny("fcn8s", seed=7))
    image, (y, x) = _image(4), (100, 500)
    prediction = predictor.predict(image)
    shapes = {name: stage.scores.shape[-2:] for name, stage in prediction.stages.items()}
    found = probe_paths(predictor, image, y, x, 2, shapes)  # type: ignore[arg-type]
    shares, fields = path_fields(predictor.model, predictor.info.preprocessing.to_tensor(image), y, x, 2)
    assert found.origin != (0, 0) and found.shares == pytest.approx(shares, rel=1e-4, abs=1e-6)
    for name, expected in fields.items():
        _same(_placed(found.fields[name], found.origin), expected)


def test_a_windows_first_convolution_gives_the_whole_images_very_numbers() -> None:
    """Not merely equal within rounding: a ReLU or max-pool switch would amplify any difference."""
    from fcnviewer.core.preprocessing import CAFFE_BGR

    model, image = tiny("fcn8s", seed=8), _image(5)
    window = probe_window(model, 300, 400, SIZE)
    top, left = window.y0 + window.inset, window.x0 + window.inset  # in the image padded by conv1_1
    leaf = window.inputs(image, CAFFE_BGR).requires_grad_(True)
    with window.running(model):
        inner = model.conv1_1(leaf)
    whole = model.conv1_1(CAFFE_BGR.to_tensor(image))
    assert top > 0 and left > 0 and inner.shape[-2:] == (window.y1 - window.y0 - 2, window.x1 - window.x0 - 2)
    assert torch.equal(inner, whole[..., top : top + inner.shape[-2], left : left + inner.shape[-1]])
    (grad,) = torch.autograd.grad(inner.sum(), leaf)
    (plain,) = torch.autograd.grad(torch.nn.functional.conv2d(leaf, model.conv1_1.weight).sum(), leaf)
    torch.testing.assert_close(grad, plain)
    assert model.conv1_1(leaf).shape[-2:] == (leaf.shape[-2] + 198, leaf.shape[-1] + 198)  # the hook is gone
