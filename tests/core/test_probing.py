"""Probing a pixel (effective RFs, branch contributions) and reading a prediction at one pixel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fcnviewer.core.alignment import StageGeometry, aligned_scores_at
from fcnviewer.core.pixels import classes_at, softmax, top_classes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def predictor(tiny_checkpoint):  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.inference import Predictor

    return Predictor(load_checkpoint(tiny_checkpoint()), device="cpu", precision="float32")


def test_softmax_and_top_classes() -> None:
    scores = np.array([1.0, 3.0, 2.0, 1000.0, -5.0], np.float32)
    probabilities = softmax(scores)
    assert probabilities.sum() == pytest.approx(1.0) and np.isfinite(probabilities).all()  # no overflow
    top = top_classes(np.array([0.0, 2.0, 1.0, -1.0]), k=3)
    expected = np.exp([2.0, 1.0, 0.0]) / np.exp([0.0, 2.0, 1.0, -1.0]).sum()
    assert [i for i, _ in top] == [1, 2, 0]
    assert [p for _, p in top] == pytest.approx(list(expected))


def test_aligned_scores_at_follows_the_rule_at_one_pixel() -> None:
    scores = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    geometry = StageGeometry(32, 15.0)
    assert aligned_scores_at(scores, geometry, 0, 0) == pytest.approx(scores[:, 0, 0])  # clamped at the border
    assert aligned_scores_at(scores, geometry, 15, 47) == pytest.approx(scores[:, 0, 1])  # on unit (0, 1)
    assert aligned_scores_at(scores, geometry, 15, 23) == pytest.approx(scores[:, 0, 0] + 0.25)  # a quarter along x
    halfway = aligned_scores_at(scores, geometry, 31, 15)  # halfway between rows 0 and 1, on column 0
    assert halfway == pytest.approx((scores[:, 0, 0] + scores[:, 1, 0]) / 2)


def test_pixel_reads_match_the_core_upsampling(predictor) -> None:  # type: ignore[no-untyped-def]
    image = np.random.default_rng(1).integers(0, 255, (70, 90, 3), dtype=np.uint8)
    prediction = predictor.predict(image)
    for stage in prediction.stages.values():
        full = stage.upsampled(70, 90)
        for y, x in [(0, 0), (13, 77), (69, 89), (35, 44)]:
            np.testing.assert_allclose(aligned_scores_at(stage.scores, stage.geometry, y, x), full[:, y, x], atol=1e-4)
    found = classes_at(prediction, 13, 77)
    assert list(found) == [*prediction.stages, "final"]
    assert found["final"][0][0] == int(prediction.labels[13, 77])
    assert found["final"][0][1] == pytest.approx(float(prediction.confidence[13, 77]), rel=1e-5)
    assert found["8"][0][0] == int(prediction.stages["8"].labels[13, 77])


def test_probe_window_is_whole_strides_around_every_box(predictor) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.receptive import pixel_boxes
    from fcnviewer.core.windows import VGG_PERIOD, Window, probe_window

    size = (700, 900)
    window = probe_window(predictor.model, 350, 420, size)
    assert window.origin[0] % VGG_PERIOD == 0 and window.origin[1] % VGG_PERIOD == 0
    assert (window.y1 - window.y0) * (window.x1 - window.x0) < size[0] * size[1] / 2
    for box in pixel_boxes(predictor.model, 350, 420, size).values():
        assert window.y0 <= box.y0 and box.y1 < window.y1 and window.x0 <= box.x0 and box.x1 < window.x1
    assert probe_window(predictor.model, 5, 5, (64, 64)) == Window(-100, 164, -100, 164, 100)  # the padded image


def test_a_probe_given_the_drawn_boxes_needs_no_shape_inference(predictor) -> None:  # type: ignore[no-untyped-def]
    """The viewer passes the boxes it drew (from the prediction's map shapes): the same window,
    and no forward pass on meta tensors, whose first run imports torch._dynamo (~175 MB)."""
    from fcnviewer.core.receptive import pixel_boxes
    from fcnviewer.core.windows import probe_window

    size = (700, 900)
    drawn = [tuple(box.as_list()) for box in pixel_boxes(predictor.model, 350, 420, size).values()]
    assert probe_window(predictor.model, 350, 420, size, drawn) == probe_window(predictor.model, 350, 420, size)
    code = (
        "import sys, numpy as np\n"
        "from fcnviewer.core.checkpoints import load_checkpoint\n"
        "from fcnviewer.core.inference import Predictor\n"
        "from fcnviewer.core.receptive import pixel_boxes\n"
        "from fcnviewer.core.resources import default_checkpoint_path\n"
        "p = Predictor(load_checkpoint(default_checkpoint_path()), device='cpu')\n"
        "image = np.zeros((96, 128, 3), np.uint8)\n"
        "pred = p.predict(image)\n"
        "shapes = {n: s.scores.shape[-2:] for n, s in pred.stages.items()}\n"
        "geometry = {n: s.geometry for n, s in pred.stages.items()}\n"
        "boxes = pixel_boxes(p.model, 40, 50, pred.size, shapes, geometry)\n"
        "p.probe(image, 40, 50, boxes=[tuple(b.as_list()) for b in boxes.values()])\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False", done.stderr


def test_predictor_probe_equals_the_receptive_field_functions(predictor) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.receptive import branch_contributions, effective_receptive_fields

    image = np.random.default_rng(2).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    calls: list[int] = []
    probe = predictor.probe(image, 30, 40, between=lambda: calls.append(1))
    inputs = predictor.info.preprocessing.to_tensor(image)
    fields = effective_receptive_fields(predictor.model, inputs, 30, 40)
    assert calls == [1] and probe.origin == (0, 0) and set(probe.fields) == set(fields)
    for stage, field in fields.items():
        np.testing.assert_allclose(probe.fields[stage], field.values, rtol=1e-5, atol=1e-7)
    assert probe.class_index == next(iter(fields.values())).class_index
    whole = branch_contributions(predictor.model, inputs, 30, 40, probe.class_index)
    assert probe.contributions == pytest.approx(whole, rel=1e-4, abs=1e-5)  # float rounding: window vs image
    other = predictor.probe(image, 30, 40, class_index=(probe.class_index + 1) % 4)
    assert other.class_index == (probe.class_index + 1) % 4
    assert not np.allclose(other.fields["final"], probe.fields["final"])


def test_a_probe_stops_where_between_raises(predictor) -> None:  # type: ignore[no-untyped-def]
    class Stop(Exception):
        pass

    def stop() -> None:
        raise Stop

    with pytest.raises(Stop):
        predictor.probe(np.zeros((40, 40, 3), np.uint8), 10, 10, between=stop)


def test_placing_and_reading_stage_maps_loads_no_torch() -> None:
    code = "import sys, fcnviewer.core.alignment, fcnviewer.core.pixels; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_a_resnet_probe_says_why_it_has_no_branch_contributions() -> None:
    from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.models import ArchSpec, build_model

    spec = ArchSpec("fcn_resnet50", 3)
    predictor = Predictor(LoadedModel(build_model(spec).eval(), ModelInfo.default_for(spec)), device="cpu")
    found = predictor.probe(np.full((40, 40, 3), 128, np.uint8), 20, 20)
    assert found.contributions == {} and "stream" not in found.note
    assert (
        found.note
        == "no branch contributions: the output of fcn_resnet50 is not a sum of branches (FCN-VGG's and LRASPP's are)"
    )


def test_an_absent_device_is_a_user_error_in_words() -> None:
    import torch

    from fcnviewer.core.devices import DeviceError, available_devices, resolve_device
    from fcnviewer.core.errors import UserError

    assert available_devices()[:2] == ("auto", "cpu")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert "cuda" not in available_devices()
    with pytest.raises(DeviceError, match="CUDA is not available here .* choose cpu or auto") as caught:
        resolve_device("cuda")
    assert isinstance(caught.value, UserError)
