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


def test_predict_writes_the_stitched_map(tmp_path, tiny_checkpoint, rgb_image, capsys) -> None:
    from PIL import Image

    from fcnviewer.cli import main
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.images import load_image

    checkpoint = tiny_checkpoint("fcn32s")
    image = tmp_path / "cat.png"
    Image.fromarray(rgb_image).save(image)
    args = ["predict", str(image), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o"), "--device", "cpu"]
    assert main([*args, "--shift-stitch", "4"]) == 0
    assert "cat_shiftstitch.npz" in capsys.readouterr().out
    saved = np.load(tmp_path / "o" / "cat_shiftstitch.npz")
    loaded = load_checkpoint(checkpoint)
    expected = shift_and_stitch(loaded.model, loaded.info.preprocessing.to_tensor(load_image(image)), 4)
    # the predictor's model runs channels-last: other convolution kernels, float32 rounding apart
    np.testing.assert_allclose(saved["scores"], expected.scores, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(saved["mask"], saved["scores"].argmax(0))
    assert (float(saved["stride"]), int(saved["factor"]), str(saved["stage"])) == (8.0, 4, "32")
    assert main([*args, "--shift-stitch", "4"]) == 1  # exists, no --force
    assert "exists; not overwritten" in capsys.readouterr().err
    assert main([*args, "--shift-stitch", "3", "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "3 does not" in err
