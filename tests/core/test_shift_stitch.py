"""Shift-and-stitch (#20): the interleaved per-shift forwards, and ``predict --shift-stitch``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fcnviewer.core.shift_stitch import shift_and_stitch
from tests.core.test_receptive import tiny


@pytest.mark.parametrize("factor", [2, 4])
def test_equals_the_interleaved_shifted_forwards(factor: int) -> None:
    model = tiny("fcn32s", seed=1)
    inputs = torch.randn(1, 3, 70, 90, generator=torch.Generator().manual_seed(1))
    stitched = shift_and_stitch(model, inputs, factor)
    step = 32 // factor
    with torch.no_grad():
        shifted = {
            (a, b): model(inputs[:, :, a * step :, b * step :])["32"][0].numpy()
            for a in range(factor)
            for b in range(factor)
        }
    h = min(s.shape[1] for s in shifted.values())
    w = min(s.shape[2] for s in shifted.values())
    assert stitched.scores.shape == (21, h * factor, w * factor)
    for row in range(h * factor):
        for col in range(w * factor):
            expected = shifted[row % factor, col % factor][:, row // factor, col // factor]
            np.testing.assert_array_equal(stitched.scores[:, row, col], expected)
    with torch.no_grad():
        plain = model(inputs)["32"][0].numpy()
    np.testing.assert_array_equal(stitched.scores[:, ::factor, ::factor], plain[:, :h, :w])
    assert (stitched.stride, stitched.offset, stitched.stage) == (32 / factor, 12.5, "32")


def test_refuses_a_factor_that_does_not_divide_the_stride() -> None:
    model = tiny("fcn8s")
    with pytest.raises(ValueError, match="must divide the stage's stride 32, and 3 does not"):
        shift_and_stitch(model, torch.zeros(1, 3, 40, 40), 3)
    with pytest.raises(ValueError, match="no stage map '4'"):
        shift_and_stitch(model, torch.zeros(1, 3, 40, 40), 2, stage="4")
    assert shift_and_stitch(model, torch.zeros(1, 3, 40, 40), 4, stage="8").stride == 2
