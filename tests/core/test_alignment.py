"""Stage maps placed over image pixels: the fast path equals the defining interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fcnviewer.core.alignment import StageGeometry, upsample_to_image


def _reference(scores: torch.Tensor, geometry: StageGeometry, height: int, width: int, top: int) -> torch.Tensor:
    """The module docstring's rule, written as two dense interpolation matrices."""

    def matrix(pixels: np.ndarray, n: int) -> torch.Tensor:
        lo, hi, weight = geometry.source_indices(pixels, n)
        m = np.zeros((len(pixels), n), np.float32)
        np.add.at(m, (np.arange(len(pixels)), lo), 1 - weight)
        np.add.at(m, (np.arange(len(pixels)), hi), weight)
        return torch.from_numpy(m)

    h, w = scores.shape[-2:]
    return matrix(np.arange(top, top + height), h) @ scores @ matrix(np.arange(width), w).T


@pytest.mark.parametrize(
    "geometry", [StageGeometry(32, 12.5), StageGeometry(16, -11.5), StageGeometry(8, -23.5), StageGeometry(8, 0.0)]
)
@pytest.mark.parametrize(("height", "width", "top"), [(70, 90, 0), (20, 90, 30), (300, 400, 0), (5, 7, 120), (1, 1, 0)])
def test_upsampling_follows_the_rule(geometry: StageGeometry, height: int, width: int, top: int) -> None:
    scores = torch.randn(3, 9, 11, generator=torch.Generator().manual_seed(0))
    expected = _reference(scores, geometry, height, width, top)
    torch.testing.assert_close(
        upsample_to_image(scores, geometry, height, width, top=top), expected, rtol=1e-5, atol=1e-5
    )


def test_units_read_match_the_weights() -> None:
    geometry = StageGeometry(32, 12.5)
    assert geometry.units_read(12, 3) == (0, 0)  # left of unit 0's centre: clamped
    assert geometry.units_read(13, 3) == (0, 1)
    assert geometry.units_read(44, 3) == (0, 1) and geometry.units_read(45, 3) == (1, 2)
    assert geometry.units_read(500, 3) == (2, 2)


def test_the_nearest_unit_rounds_half_to_even_and_clamps_to_the_map() -> None:
    geometry = StageGeometry(32, 12.5)
    pixels = np.arange(-100, 500)
    found = [geometry.nearest_unit(int(p), 10) for p in pixels]
    expected = np.clip(np.rint((pixels - 12.5) / 32), 0, 9)  # the formula it replaces at every call site
    assert found == expected.astype(int).tolist()
    tie = StageGeometry(2, 0.0)
    assert [tie.nearest_unit(p, 10) for p in (1, 3, 5)] == [0, 2, 2]  # 0.5, 1.5, 2.5: to the even unit
    assert geometry.nearest_unit(10_000) == 312  # no map size: not clamped above (the layer's size is unknown)
    assert geometry.nearest_unit(-10_000) == 0 and geometry.nearest_unit(10_000, 1) == 0
