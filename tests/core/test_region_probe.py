"""Probing a region (#20): its ERF at every stage, on the probe window, smoothed and averaged over images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fcnviewer.core.probing import probe, probe_region
from fcnviewer.core.receptive import Box, Smoothing, gradient_map, noisy_inputs, region_target, stage_geometry
from fcnviewer.core.receptive.regions import region_fields, region_units
from fcnviewer.core.shift_stitch import shift_and_stitch
from tests.core.test_receptive import tiny

SIZE = (200, 230)


def _image(seed: int = 0, size: tuple[int, int] = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)


@pytest.fixture
def predictor(tiny_checkpoint):  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.inference import Predictor

    return Predictor(load_checkpoint(tiny_checkpoint()), device="cpu", precision="float32")


def _whole(found, stage: str = "final", size: tuple[int, int] = SIZE) -> np.ndarray:  # type: ignore[no-untyped-def]
    values = found.fields[stage]
    whole = np.zeros(size, np.float32)
    whole[found.origin[0] : found.origin[0] + values.shape[0], found.origin[1] : found.origin[1] + values.shape[1]] = (
        values
    )
    return whole


def _close(a: np.ndarray, b: np.ndarray) -> None:
    assert b.max() > 0 and np.abs(a - b).max() <= 1e-4 * b.max()


def test_region_fields_sum_the_class_over_the_region_and_its_stage_units() -> None:
    model = tiny("fcn8s", seed=2)
    inputs = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(0))
    region = Box(60, 50, 120, 90)
    fields = region_fields(model, inputs, region, 3)
    assert list(fields) == ["32", "16", "8", "final"]
    _close(fields["final"], gradient_map(model, region_target(model, region, 3), inputs))
    leaf = inputs.clone().requires_grad_(True)
    scores = model(leaf)["16"][0, 3]
    units = region_units(stage_geometry(model)["16"], region, tuple(scores.shape))
    assert 0 <= units.x0 < units.x1 < scores.shape[1] and 0 <= units.y0 < units.y1 < scores.shape[0]
    (grad,) = torch.autograd.grad(scores[units.y0 : units.y1 + 1, units.x0 : units.x1 + 1].sum(), leaf)
    _close(fields["16"], grad[0].abs().sum(0).numpy())


def test_a_windows_noisy_copies_are_the_whole_images_cropped() -> None:
    from fcnviewer.core.preprocessing import CAFFE_BGR

    image = _image()
    whole = list(noisy_inputs(image, CAFFE_BGR, Smoothing(2, 9.0, 4)))
    cut = list(noisy_inputs(image, CAFFE_BGR, Smoothing(2, 9.0, 4), window=(32, 150, 64, 200)))
    for full, part in zip(whole, cut, strict=True):
        assert torch.equal(full[..., 32:150, 64:200], part)
    assert not torch.equal(whole[0], whole[1])


def test_the_region_probe_on_its_window_equals_the_whole_image(predictor) -> None:  # type: ignore[no-untyped-def]
    size = (560, 700)  # FCN-8s sees 404 pixels: a region in the middle needs a window of the image
    image, region = _image(size=size), Box(330, 260, 370, 300)
    found = probe_region(predictor, image, region, 1)
    assert found.origin != (0, 0) and found.fields["final"].shape < size
    inputs = predictor.info.preprocessing.to_tensor(image)
    _close(_whole(found, size=size), gradient_map(predictor.model, region_target(predictor.model, region, 1), inputs))


def test_smoothed_and_averaged_probes_are_the_mean_of_their_passes(predictor) -> None:  # type: ignore[no-untyped-def]
    images, smoothing = [_image(0), _image(1)], Smoothing(copies=2, noise=10.0, seed=3)
    passes: list[tuple[int, int]] = []
    found = probe(
        predictor,
        images[0],
        100,
        110,
        class_index=2,
        smoothing=smoothing,
        others=images[1:],
        progress=lambda *p: passes.append(p),
    )
    assert passes == [(1, 4), (2, 4), (3, 4), (4, 4)]
    target = region_target(predictor.model, Box(110, 100, 110, 100), 2)
    prep = predictor.info.preprocessing
    expected = [
        gradient_map(predictor.model, target, x) for image in images for x in noisy_inputs(image, prep, smoothing)
    ]
    _close(_whole(found), np.mean(expected, axis=0))
    plain = probe(predictor, images[0], 100, 110, class_index=2)
    assert found.contributions == plain.contributions and not np.allclose(found.fields["final"], plain.fields["final"])


def test_shift_and_stitch_reports_each_forward() -> None:
    seen: list[tuple[int, int]] = []
    shift_and_stitch(tiny("fcn32s"), torch.randn(1, 3, 70, 90), 2, progress=lambda *p: seen.append(p))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
