"""The Predictor's fast float32 CPU path computes what the plain network computes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from fcnviewer.core import inference
from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
from fcnviewer.core.inference import FAST_CPU_ENV, Predictor, cpu_fast_path
from fcnviewer.core.models import ArchSpec, build_model
from tests.conftest import randomize

nnpack = pytest.mark.skipif(not torch._nnpack_available(), reason="NNPACK is not available on this CPU")


def _model(arch: str = "fcn8s", width: float = 1 / 8, num_classes: int = 5) -> tuple[torch.nn.Module, ModelInfo]:
    spec = ArchSpec(arch, num_classes, width)
    return randomize(build_model(spec)), ModelInfo.default_for(spec)


def _relative_error(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    assert list(got) == list(want)
    return max(float((got[k] - want[k]).abs().max() / want[k].abs().max()) for k in want)


@nnpack
@pytest.mark.parametrize("arch", ["fcn8s", "fcn32s", "fcn8s-atonce"])
def test_fast_path_equals_the_plain_forward(arch: str) -> None:
    model, info = _model(arch)
    plain = copy.deepcopy(model)
    predictor = Predictor(LoadedModel(model, info), device="cpu", precision="float32")
    assert isinstance(predictor._net.fc6, inference._NNPACKConv2d)  # the 7x7 fc6 takes the fast path
    x = info.preprocessing.to_tensor(np.random.default_rng(0).integers(0, 256, (123, 157, 3), dtype=np.uint8))
    with torch.no_grad():
        want = plain(x)
    got = predictor.forward(x)
    assert _relative_error(got, want) < 1e-5
    assert all(v.is_contiguous() and v.dtype == torch.float32 for v in got.values())


@nnpack
def test_fast_path_leaves_the_model_itself_plain() -> None:
    model, info = _model()
    predictor = Predictor(LoadedModel(model, info), device="cpu", precision="float32")
    assert predictor.model is model and isinstance(model.fc6, torch.nn.Conv2d)
    assert predictor._net is not model and predictor._net.fc6.conv is model.fc6  # shared weights, no copy
    x = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        plain = model(x)
    torch.testing.assert_close(
        predictor.forward(x), dict(plain), rtol=1e-5, atol=1e-5 * float(plain["out"].abs().max())
    )


def test_fast_path_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAST_CPU_ENV, "0")
    model, info = _model()
    assert Predictor(LoadedModel(model, info), device="cpu", precision="float32")._net is model


@nnpack
def test_nnpack_failure_falls_back_to_the_convolution(monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = _model()
    fast = cpu_fast_path(model)
    x = torch.randn(1, 3, 70, 70)

    def refuse(*_args, **_kwargs):
        raise RuntimeError("NNPACK SpatialConvolution_updateOutput failed")

    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", refuse)
    with torch.inference_mode():
        got, want = fast(x), model(x)
    assert fast.fc6.failed
    assert _relative_error(got, want) == 0


@nnpack
def test_resnet_and_autograd_are_untouched() -> None:
    spec = ArchSpec("fcn_resnet50", 3)
    model = build_model(spec).eval()
    assert cpu_fast_path(model) is model  # no stride-1 large-kernel convolutions there
    vgg, _ = _model()
    fast = cpu_fast_path(vgg)
    x = torch.randn(1, 3, 40, 40, requires_grad=True)
    fast(x)["out"].sum().backward()  # with gradients wanted, the wrappers run the plain convolution
    assert x.grad is not None and not fast.fc6.failed
