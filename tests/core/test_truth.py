"""Scoring one prediction against its truth: the paper's metrics per stage, and masks that cannot be compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcnviewer.core.alignment import StageGeometry
from fcnviewer.core.datasets import DatasetEntry
from fcnviewer.core.prediction import Prediction, StageMap
from fcnviewer.core.training.metrics import fast_hist, scores
from fcnviewer.core.truth import entry_truth, image_scores, read_truth


def test_image_scores_are_the_metrics_of_each_stage_against_the_truth() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, (8, 9)).astype(np.uint8)
    truth[0] = 255
    final, coarse = (rng.integers(0, 3, (8, 9)).astype(np.uint8) for _ in range(2))
    stage = StageMap("32", np.zeros((3, 1, 1), np.float32), StageGeometry(32, 15.5), coarse)
    prediction = Prediction(np.zeros((3, 8, 9), np.float32), final, np.ones((8, 9)), {"32": stage}, "cpu", 0.0)
    found = image_scores(prediction.labels_by_stage(), truth, 3)
    assert list(found.confusion) == ["final", "32"]
    for name, labels in (("final", final), ("32", coarse)):
        expected = scores(fast_hist(truth, labels, 3))
        assert found.mean_iu[name] == expected["mean_iu"] and found.pixel_acc[name] == expected["pixel_acc"]
        assert found.confusion[name].sum() == 8 * 9 - 9  # the ignored row is not counted


def test_masks_that_cannot_be_compared_say_why(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(np.ones((4, 5), np.uint8), mode="L").save(good)
    truth, note = read_truth(good, (4, 5), 3)
    assert truth is not None and note == ""
    assert read_truth(good, (5, 5), 3) == (None, "good.png is 5x4 but its image is 5x5")
    stray = tmp_path / "stray.png"
    Image.fromarray(np.full((4, 5), 7, np.uint8), mode="L").save(stray)
    assert "holds class values 7" in read_truth(stray, (4, 5), 3)[1]
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(rgb)
    assert "an RGB mask" in read_truth(rgb, (4, 5), 3)[1]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert read_truth(broken, (4, 5), 3)[1].startswith("broken.png cannot be read")
    assert entry_truth(DatasetEntry("x", tmp_path / "x.png", None), (4, 5), 3) == (None, "no mask")


@pytest.mark.parametrize("module", ["fcnviewer.core.truth", "fcnviewer.core.training.evaluation", "fcnviewer.cli.eval"])
def test_each_module_imports_first_in_a_fresh_process(module: str) -> None:
    """No import cycle between the truth and the training package, whichever comes first."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
