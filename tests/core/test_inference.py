"""The Predictor: outputs, preprocessing, stage alignment, tiling, limits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fcnviewer.core.checkpoints import LoadedModel, ModelInfo, load_checkpoint
from fcnviewer.core.images import ImageError
from fcnviewer.core.inference import Predictor
from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.preprocessing import CAFFE_BGR, IMAGENET_RGB
from tests.conftest import randomize


def _predictor(arch: str = "fcn8s", num_classes: int = 4, precision: str = "float32", **kwargs) -> Predictor:
    """A predictor of a tiny random network; float32 (exact comparisons) unless asked otherwise."""
    spec = ArchSpec(arch, num_classes, 1 / 16)
    model = randomize(build_model(spec))
    return Predictor(LoadedModel(model, ModelInfo.default_for(spec)), device="cpu", precision=precision, **kwargs)


def test_prediction_holds_every_output_as_numpy(rgb_image: np.ndarray) -> None:
    prediction = _predictor().predict(rgb_image)
    height, width = rgb_image.shape[:2]
    assert prediction.logits.shape == (4, height, width) and prediction.logits.dtype == np.float32
    assert prediction.labels.shape == (height, width) and prediction.labels.dtype == np.uint8
    np.testing.assert_array_equal(prediction.labels, prediction.logits.argmax(0))
    np.testing.assert_allclose(prediction.confidence, prediction.probabilities.max(0), rtol=1e-5)
    np.testing.assert_allclose(prediction.probabilities.sum(0), 1, rtol=1e-5)
    assert (prediction.entropy >= -1e-6).all() and (prediction.entropy <= np.log(4) + 1e-5).all()
    assert list(prediction.stages) == ["32", "16", "8"]
    assert [s.geometry.stride for s in prediction.stages.values()] == [32, 16, 8]
    for stage in prediction.stages.values():
        assert stage.labels.shape == (height, width)
        np.testing.assert_array_equal(stage.labels, stage.upsampled(height, width).argmax(0))


def test_prediction_equals_the_plain_network_on_the_preprocessed_image(rgb_image: np.ndarray) -> None:
    predictor = _predictor()
    x = CAFFE_BGR.to_tensor(rgb_image)
    with torch.no_grad():
        reference = predictor.model.float()(x)
    prediction = predictor.predict(rgb_image)
    np.testing.assert_allclose(prediction.logits, reference["out"][0].numpy(), rtol=1e-4, atol=1e-4)
    for name, stage in prediction.stages.items():
        np.testing.assert_allclose(stage.scores, reference[name][0].numpy(), rtol=1e-4, atol=1e-4)


def test_caffe_preprocessing_is_bgr_minus_mean() -> None:
    image = np.array([[[10, 20, 30]]], dtype=np.uint8)
    x = CAFFE_BGR.to_tensor(image)[0, :, 0, 0]
    torch.testing.assert_close(x, torch.tensor([30 - 104.00698793, 20 - 116.66876762, 10 - 122.67891434]))
    y = IMAGENET_RGB.to_tensor(image)[0, :, 0, 0]
    torch.testing.assert_close(
        y, torch.tensor([(10 / 255 - 0.485) / 0.229, (20 / 255 - 0.456) / 0.224, (30 / 255 - 0.406) / 0.225])
    )


@pytest.mark.parametrize("arch", ["fcn8s", "fcn32s"])
def test_tiles_match_the_whole_image(arch: str) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (330, 1100, 3), dtype=np.uint8)
    whole_predictor = _predictor(arch)
    whole = whole_predictor.predict(image)
    tiled_predictor = _predictor(arch, tile_side=_predictor(arch).overlap * 2 + 64)
    tiled = tiled_predictor.predict(image)
    assert whole.tiles == 1 and tiled.tiles >= 4
    scale = np.abs(whole.logits).max()
    np.testing.assert_allclose(tiled.logits, whole.logits, atol=1e-5 * scale, rtol=0)
    for name, stage in whole.stages.items():
        np.testing.assert_allclose(tiled.stages[name].scores, stage.scores, atol=1e-5 * scale, rtol=0)


def test_tiling_reports_progress() -> None:
    predictor = _predictor("fcn32s", tile_side=1)
    calls: list[tuple[int, int]] = []
    predictor.predict(np.zeros((200, 700, 3), dtype=np.uint8), progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] == len(calls)


def test_images_over_the_pixel_limit_are_refused_with_how_to_raise_it() -> None:
    predictor = _predictor(max_pixels=1000)
    with pytest.raises(ImageError, match=r"over the limit of 0.001 megapixels \(raise it with --max-pixels\)"):
        predictor.predict(np.zeros((40, 40, 3), dtype=np.uint8))


def test_half_precision_is_refused_on_the_cpu() -> None:
    with pytest.raises(ValueError, match="half precision"):
        _predictor(precision="float16")
    with pytest.raises(ValueError, match="unknown precision 'float8'"):
        _predictor(precision="float8")


def test_bfloat16_on_the_cpu_agrees_with_float32(rgb_image: np.ndarray) -> None:
    exact = _predictor(precision="float32").predict(rgb_image)
    fast = _predictor(precision="bfloat16")
    assert fast.dtype == torch.bfloat16 and next(fast._net.parameters()).dtype == torch.bfloat16
    assert next(fast.model.parameters()).dtype == torch.float32  # gradients (effective RFs) stay float32
    rough = fast.predict(rgb_image)
    assert rough.logits.dtype == np.float32 and rough.labels.shape == exact.labels.shape
    scale = np.abs(exact.logits).max()
    assert np.abs(rough.logits - exact.logits).max() < 0.05 * scale  # bfloat16 keeps 8 significant bits
    assert (rough.labels == exact.labels).mean() > 0.95
    for name, stage in exact.stages.items():
        assert np.abs(rough.stages[name].scores - stage.scores).max() < 0.05 * np.abs(stage.scores).max()


def test_auto_precision_is_bfloat16_only_on_cpus_that_compute_it(monkeypatch) -> None:
    from fcnviewer.core import devices

    for native, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(devices, "cpu_has_bfloat16", lambda native=native: native)
        assert devices.default_dtype(torch.device("cpu")) == expected
        assert _predictor(precision="auto").dtype == expected
    assert devices.default_dtype(torch.device("cuda")) == torch.float16


def test_resnet_prediction_has_main_and_aux_stages(tiny_checkpoint, tmp_path) -> None:
    spec = ArchSpec("fcn_resnet50", 3, aux=True)
    model = build_model(spec).eval()
    predictor = Predictor(LoadedModel(model, ModelInfo.default_for(spec)), device="cpu")
    prediction = predictor.predict(np.full((48, 40, 3), 128, dtype=np.uint8))
    assert list(prediction.stages) == ["8", "aux"]
    assert prediction.stages["8"].scores.shape == (3, 6, 5)
    assert predictor.info.preprocessing == IMAGENET_RGB


def test_loaded_checkpoint_predicts(tiny_checkpoint, rgb_image) -> None:
    loaded = load_checkpoint(tiny_checkpoint("fcn16s", num_classes=5))
    prediction = Predictor(loaded, device="cpu").predict(rgb_image)
    assert prediction.logits.shape[0] == 5 and list(prediction.stages) == ["32", "16"]
    assert prediction.device == "cpu" and prediction.seconds > 0


def test_out_of_gpu_memory_falls_back_to_tiles_then_the_cpu(monkeypatch, rgb_image) -> None:
    predictor = _predictor("fcn32s")
    sides: list[int] = []
    placed: list[str] = []
    run = predictor._run

    def short_of_memory(image, side, progress):
        sides.append(side)
        if len(sides) <= 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return run(image, side, progress)

    def place(device, precision="auto"):
        placed.append(device.type)
        predictor.device = device

    monkeypatch.setattr(predictor, "_run", short_of_memory)
    monkeypatch.setattr(predictor, "_place", place)
    predictor.device = torch.device("cuda")  # pretend the first two runs were on a GPU
    prediction = predictor.predict(rgb_image)
    assert sides[1] < sides[0] and placed == ["cpu"]
    assert prediction.notes == ("out of memory on cuda, in smaller tiles too: fell back to the CPU",)
    assert prediction.labels.shape == rgb_image.shape[:2]


def test_out_of_memory_on_the_cpu_is_not_hidden(monkeypatch, rgb_image) -> None:
    predictor = _predictor("fcn32s")

    def short_of_memory(image, side, progress):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(predictor, "_run", short_of_memory)
    with pytest.raises(torch.OutOfMemoryError):
        predictor.predict(rgb_image)
