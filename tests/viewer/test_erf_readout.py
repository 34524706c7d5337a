"""Readable ERFs (#20), numpy only: mass levels and contours, mass boxes, the log scale on the layer."""

from __future__ import annotations

import numpy as np
import pytest

from fcnviewer.core.receptive import mass_levels
from fcnviewer.viewer.erf_readout import LOG_DECADES, blur, erf_readout
from fcnviewer.viewer.layers import ErfLayer
from fcnviewer.viewer.raster import edges


def _gaussian_field(height: int = 80, width: int = 100, seed: int = 0) -> np.ndarray:
    """A Gaussian blob times speckle, as ERFs look."""
    y, x = np.mgrid[:height, :width]
    blob = np.exp(-((y - 35) ** 2 + (x - 55) ** 2) / (2 * 12.0**2))
    return (blob * np.random.default_rng(seed).random((height, width))).astype(np.float32)


@pytest.mark.parametrize("share", [0.5, 0.9])
def test_the_mass_level_holds_its_share_and_no_more_than_it_needs(share: float) -> None:
    values = _gaussian_field()
    (level,) = mass_levels(values, (share,))
    total = values.sum(dtype=np.float64)
    assert values[values >= level].sum(dtype=np.float64) >= share * total * (1 - 1e-6)
    assert values[values > level].sum(dtype=np.float64) < share * total  # a higher level would hold less


def test_an_all_zero_field_has_level_zero_and_no_lines() -> None:
    readout = erf_readout(np.zeros((20, 30), np.float32), (0, 0), None)
    assert readout.levels == (0.0, 0.0) and not readout.lines.any() and readout.share_of_theoretical is None


def test_blurring_keeps_the_mass_of_a_blob_away_from_the_edges() -> None:
    values = np.zeros((60, 60), np.float32)
    values[30, 30] = 5.0
    blurred = blur(values)
    assert blurred.sum() == pytest.approx(5.0, rel=1e-5) and blurred.max() < 0.1


def test_the_readout_outlines_the_blurred_mass_and_boxes_it_in_image_pixels() -> None:
    values = _gaussian_field()
    readout = erf_readout(values, (100, 200), (190, 80, 310, 200))  # the window starts at row 100, column 200
    blurred = blur(values)
    for index, (share, level) in enumerate(zip((0.5, 0.9), readout.levels, strict=True), start=1):
        inside = blurred >= level
        assert blurred[inside].sum() >= share * blurred.sum() * (1 - 1e-6)
        assert (readout.lines == index).any() and not ((readout.lines == index) & ~edges(inside)).any()
    x0, y0, x1, y1 = readout.mass90_box
    assert 200 <= x0 < 255 < x1 < 300 and 100 <= y0 < 135 < y1 < 180
    inside = values[y0 - 100 : y1 - 100 + 1, x0 - 200 : x1 - 200 + 1].sum()
    assert inside >= 0.9 * values.sum() * (1 - 1e-6)
    clipped = 100 * 80  # the theoretical box cut to the 80x100 window
    assert readout.share_of_theoretical == pytest.approx((x1 - x0 + 1) * (y1 - y0 + 1) / clipped)


def test_log_scale_contours_and_box_change_what_the_layer_shows() -> None:
    values = _gaussian_field()
    layer = ErfLayer()
    layer.contours = False
    layer.set_fields({"final": values}, (0, 0), {"final": erf_readout(values, (0, 0), None)})
    linear = layer.rgba.copy()
    layer.scale = "log"
    high = float(np.log10(values.max()))
    assert layer.limits == pytest.approx((high - LOG_DECADES, high)) and not np.array_equal(layer.rgba, linear)
    faint = values < values.max() * 1e-2
    assert layer.rgba[faint, 3].mean() > linear[faint, 3].mean()  # the faint tail shows on a log scale
    plain = layer.rgba.copy()
    layer.contours = True
    assert (layer.rgba[layer.readout.lines == 1] == (255, 255, 255, 255)).all()
    layer.mass_box = True
    x0, y0, x1, _ = layer.readout.mass90_box
    assert tuple(layer.rgba[y0, (x0 + x1) // 2]) == (255, 60, 255, 255) and not np.array_equal(plain, layer.rgba)


def test_averaging_settings_are_validated() -> None:
    layer = ErfLayer()
    events: list[int] = []
    layer.events.copies.connect(events.append)
    layer.copies = 4
    assert events == [4]
    with pytest.raises(ValueError, match="copies must be from 1 to 256"):
        layer.copies = 0
    with pytest.raises(ValueError, match="noise must be from 0 to 255"):
        layer.noise = -1
