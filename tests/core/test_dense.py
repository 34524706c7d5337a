"""The dense map of a convolutionalised classifier equals the classifier run on every crop (no padding)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from fcnviewer.core.dense import compare_with_crops, crop_at, crop_of_unit, grid_units
from fcnviewer.core.models.classification import WindowClassifier
from fcnviewer.core.receptive import layer_table, unit_box
from fcnviewer.core.receptive.table import stream_of


class TinyVGG(nn.Module):
    """A VGG in miniature: two conv-ReLU-pool blocks, a 3x3 window of features, three linear layers."""

    def __init__(self, padding: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=padding), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 8, 3, padding=padding), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d(3)
        self.classifier = nn.Sequential(
            nn.Linear(8 * 3 * 3, 16), nn.ReLU(), nn.Dropout(),
            nn.Linear(16, 16), nn.ReLU(), nn.Dropout(),
            nn.Linear(16, 5),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _pair(padding: int) -> tuple[TinyVGG, WindowClassifier]:
    """The tiny classifier and its dense form (same weights), float64, eval mode; crops of 18 (12 padded) pixels."""
    torch.manual_seed(0)
    reference = TinyVGG(padding).double().eval()
    model = WindowClassifier("tiny-vgg", num_classes=5, net=copy.deepcopy(reference)).eval()
    model.crop_size = 12 if padding else 18  # the input whose features are exactly the 3x3 window
    return reference, model


def test_without_padding_each_location_is_exactly_the_classifier_on_its_crop() -> None:
    reference, model = _pair(padding=0)
    image = torch.randn(1, 3, 18 + 4 * 5, 18 + 4 * 7, dtype=torch.float64)
    with torch.no_grad():
        dense = model.dense(image)[0]
        assert dense.shape == (5, 6, 8)
        for i, j in grid_units((6, 8)):
            box = crop_of_unit(model, i, j)
            crop = image[:, :, box.y0 : box.y1 + 1, box.x0 : box.x1 + 1]
            assert crop.shape[-2:] == (18, 18)
            torch.testing.assert_close(dense[:, i, j], reference(crop)[0], rtol=1e-12, atol=1e-12)
    comparison = compare_with_crops(model, image)
    assert comparison.units == 48 and comparison.top1_agreement == 1.0 and comparison.max_abs_difference < 1e-12


def test_without_padding_the_crop_is_the_receptive_field() -> None:
    _, model = _pair(padding=0)
    assert layer_table(model)[-1].size == 18
    stream = stream_of(model, "32")
    for i, j in [(0, 0), (2, 5), (5, 7)]:
        assert crop_of_unit(model, i, j) == unit_box(stream, (i, i), (j, j))


def test_with_zero_padding_the_crops_border_differs_and_the_comparison_shows_it() -> None:
    reference, model = _pair(padding=1)
    image = torch.randn(1, 3, 12 + 4 * 4, 12 + 4 * 4, dtype=torch.float64)
    comparison = compare_with_crops(model, image)
    assert comparison.units == 25
    assert comparison.max_abs_difference > 1e-6  # zeros at the crop's border, true pixels in the dense run
    with torch.no_grad():  # the top-left crop starts at the image's own border: padded alike on two sides only
        assert not torch.allclose(model.dense(image)[0, :, 0, 0], reference(image[:, :, :12, :12])[0])


@pytest.mark.parametrize(
    ("pixel", "unit", "box"),
    [((0, 0), (0, 0), [0, 0, 17, 17]), ((30, 9), (5, 0), [0, 20, 17, 37]), ((20, 30), (3, 5), [20, 12, 37, 29])],
)
def test_the_crop_at_a_pixel_is_that_of_the_nearest_unit(pixel, unit, box) -> None:
    _, model = _pair(padding=0)
    found, crop = crop_at(model, *pixel, (38, 46))
    assert found == unit and crop.as_list() == box


def test_the_help_on_dense_maps_is_bundled_and_read_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from fcnviewer.core.resources import dense_classifiers_help as h; "
        "t = h(); print('torch' in sys.modules, 'fcnviewer rf' in t, '404 pixels' in t)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True", "True"]
