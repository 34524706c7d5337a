"""Post-processing in bands: a classifier's labels, confidence and entropy from its coarse map, never at full size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from fcnviewer.core import postprocess
from fcnviewer.core.alignment import upsample_to_image
from fcnviewer.core.checkpoints import load_checkpoint
from fcnviewer.core.inference import Predictor
from fcnviewer.core.pixels import classes_at, top_classes


@pytest.fixture(scope="module")
def alexnet_prediction(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A random torchvision AlexNet's prediction of a 260x300 image, and the direct full-size scores."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("alexnet") / "alexnet.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    predictor = Predictor(load_checkpoint(path), device="cpu", precision="float32")
    image = np.random.default_rng(0).integers(0, 256, (260, 300, 3), dtype=np.uint8)
    prediction = predictor.predict(image)
    stage = prediction.stages["32"]
    full = upsample_to_image(torch.from_numpy(stage.scores), stage.geometry, 260, 300)
    return prediction, full, predictor, image


def test_a_classifier_holds_no_full_size_scores_and_its_labels_are_the_aligned_maps_top_class(
    alexnet_prediction,
) -> None:  # type: ignore[no-untyped-def]
    prediction, full, *_ = alexnet_prediction
    assert prediction.logits is None and prediction.output_stage == "32" and prediction.num_classes == 1000
    assert prediction.stages["32"].scores.shape[0] == 1000 and prediction.labels.dtype == np.int16
    np.testing.assert_array_equal(prediction.labels, full.argmax(0).numpy())
    expected = torch.softmax(full, 0).max(0).values.numpy()
    np.testing.assert_allclose(prediction.confidence, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(prediction.stages["32"].labels, prediction.labels)
    logp = torch.log_softmax(full, 0)
    np.testing.assert_allclose(prediction.entropy, (-(logp.exp() * logp).sum(0)).numpy(), rtol=1e-4, atol=1e-5)
    assert classes_at(prediction, 100, 150)["final"] == top_classes(full[:, 100, 150].numpy())


def test_bands_fit_the_byte_budget_and_cover_every_row() -> None:
    rows = postprocess.band_rows(1000, 451)
    assert rows * 1000 * 451 * 4 <= postprocess.BAND_BYTES and rows > 1
    assert postprocess.band_rows(21, 500) == postprocess.BAND_ROWS
    assert postprocess.bands(10, 4) == [(0, 4), (4, 4), (8, 2)]


def test_banded_labels_equal_one_pass_whatever_the_band(monkeypatch: pytest.MonkeyPatch) -> None:
    scores = torch.randn(7, 23, 9)
    whole = postprocess.labels_and_confidence(lambda top, rows: scores[:, top : top + rows], 7, 23, 9)
    monkeypatch.setattr(postprocess, "BAND_BYTES", 7 * 9 * 4 * 3)  # three rows a band
    banded = postprocess.labels_and_confidence(lambda top, rows: scores[:, top : top + rows], 7, 23, 9)
    assert torch.equal(whole[0], banded[0])
    torch.testing.assert_close(whole[1], banded[1], rtol=1e-6, atol=0)
    assert torch.equal(whole[0].long(), scores.argmax(0))


def test_the_npz_of_a_classifier_has_its_native_map_only(alexnet_prediction, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.export import score_arrays

    prediction, *_ = alexnet_prediction

    class Info:
        class_names = ("x",) * 1000

    arrays = score_arrays(prediction, Info())  # type: ignore[arg-type]
    assert set(arrays) == {"classes", "score32"}


def test_a_classifiers_final_erf_differentiates_the_shown_aligned_score(alexnet_prediction) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.receptive import effective_receptive_fields

    prediction, full, predictor, image = alexnet_prediction
    inputs = predictor.info.preprocessing.to_tensor(image, torch.device("cpu"), torch.float32)
    y, x = 130, 170
    fields = effective_receptive_fields(predictor.model, inputs, y, x)
    assert fields["final"].class_index == int(prediction.labels[y, x]) == int(full[:, y, x].argmax())
    assert fields["final"].values.shape == (260, 300) and fields["final"].values.max() > 0


def test_a_classifiers_region_field_sums_the_aligned_map_without_making_it() -> None:
    """The final score of a region is the output stage aligned to the image and summed there;
    its gradient equals that of the full-size aligned map's sum (made here, in the test only)."""
    from fcnviewer.core.models import ArchSpec, build_model
    from fcnviewer.core.receptive import stage_geometry
    from fcnviewer.core.receptive.boxes import Box
    from fcnviewer.core.receptive.regions import region_fields

    torch.manual_seed(0)
    model = build_model(ArchSpec("alexnet", 1000)).eval()
    inputs = torch.randn(1, 3, 260, 300)
    region = Box(40, 30, 250, 200)
    got = region_fields(model, inputs, region, 7, stages=["final"])["final"]
    leaf = inputs.clone().requires_grad_(True)
    geometry = stage_geometry(model)["32"]
    aligned = upsample_to_image(model.stage_maps(leaf)["32"][0], geometry, 260, 300)
    aligned[7, region.y0 : region.y1 + 1, region.x0 : region.x1 + 1].sum().backward()
    want = leaf.grad[0].abs().sum(0).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * float(want.max()))
