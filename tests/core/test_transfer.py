"""Results to the host in one batch; full-size scores read lazily (the GPU path's post-processing, on the CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
from fcnviewer.core.inference import Predictor
from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.transfer import to_host
from tests.conftest import randomize


def test_to_host_keeps_names_values_and_dtypes() -> None:
    tensors = {"labels": torch.arange(6, dtype=torch.uint8).view(2, 3), "confidence": torch.rand(2, 3)}
    host = to_host(tensors)
    assert set(host) == {"labels", "confidence"}
    for name, tensor in tensors.items():
        assert isinstance(host[name], np.ndarray) and host[name].dtype == tensor.numpy().dtype
        np.testing.assert_array_equal(host[name], tensor.numpy())


def test_to_host_refuses_tensors_on_several_devices() -> None:
    with pytest.raises(ValueError, match="several devices"):
        to_host({"a": torch.zeros(2), "b": torch.zeros(2, device="meta")})


@pytest.fixture
def prediction_and_reference(rgb_image: np.ndarray):  # type: ignore[no-untyped-def]
    spec = ArchSpec("fcn8s", 5, 1 / 16)
    predictor = Predictor(
        LoadedModel(randomize(build_model(spec)), ModelInfo.default_for(spec)), device="cpu", precision="float32"
    )
    with torch.inference_mode():
        reference = predictor.forward(predictor.info.preprocessing.to_tensor(rgb_image))
    return predictor.predict(rgb_image), reference


def test_full_size_scores_stay_a_tensor_until_logits_are_read(prediction_and_reference) -> None:  # type: ignore[no-untyped-def]
    prediction, reference = prediction_and_reference
    assert isinstance(prediction.scores, torch.Tensor) and "logits" not in prediction.__dict__
    assert prediction.num_classes == 5
    np.testing.assert_array_equal(prediction.scores_at(7, 11), reference["out"][0][:, 7, 11].numpy())
    assert "logits" not in prediction.__dict__  # one pixel's scores read without the whole map
    logits = prediction.logits
    assert isinstance(logits, np.ndarray) and logits.dtype == np.float32 and "logits" in prediction.__dict__
    np.testing.assert_array_equal(logits, reference["out"][0].numpy())
    torch.testing.assert_close(prediction.final_band(3, 4), reference["out"][0][:, 3:7])


def test_the_batched_copies_equal_the_host_computation(prediction_and_reference) -> None:  # type: ignore[no-untyped-def]
    """Labels, confidence and stage labels computed where the network ran equal numpy's own from the scores."""
    prediction, reference = prediction_and_reference
    scores = reference["out"][0].numpy().astype(np.float64)
    np.testing.assert_array_equal(prediction.labels, scores.argmax(0))
    softmax = np.exp(scores - scores.max(0)) / np.exp(scores - scores.max(0)).sum(0)
    np.testing.assert_allclose(prediction.confidence, softmax.max(0), rtol=1e-5)
    height, width = prediction.size
    for name, stage in prediction.stages.items():
        np.testing.assert_array_equal(stage.scores, reference[name][0].numpy())
        np.testing.assert_array_equal(stage.labels, stage.upsampled(height, width).argmax(0))
        assert stage.labels.dtype == prediction.labels.dtype == np.uint8
