"""FCN-VGG and FCN-ResNet: structure, names, and a hand-built reference forward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fcnviewer.core import models
from fcnviewer.core.models import ARCHITECTURES, BUILDERS, CLASSIFIER_ARCHS, ArchSpec, SegmentationModel, build_model
from fcnviewer.core.models.fcn_vgg import VGG16_BLOCKS, bilinear_kernel
from fcnviewer.core.receptive import level_names
from tests.conftest import randomize

PORT_KEYS_8S = {
    *(f"conv{b}_{i}.{p}" for b, n, _ in VGG16_BLOCKS for i in range(1, n + 1) for p in ("weight", "bias")),
    "fc6.weight", "fc6.bias", "fc7.weight", "fc7.bias", "score_fr.weight", "score_fr.bias",
    "score_pool4.weight", "score_pool4.bias", "score_pool3.weight", "score_pool3.bias",
    "upscore2.weight", "upscore8.weight", "upscore_pool4.weight",
}  # fmt: skip


#: The segmentation families; the classifiers (full size, crops of 224 pixels) are tested in test_classification.py.
SEGMENTATION_ARCHS = tuple(arch for arch in ARCHITECTURES if arch not in CLASSIFIER_ARCHS)


@pytest.mark.parametrize("arch", SEGMENTATION_ARCHS)
def test_every_builder_runs_on_a_tiny_input(arch: str) -> None:
    model = build_model(ArchSpec(arch, num_classes=3, width=1 / 16)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 45, 61))
    assert list(out) == ["out", *model.stage_names]
    assert out["out"].shape == (1, 3, 45, 61)
    for name in model.stage_names:
        assert out[name].shape[:2] == (1, 3)


#: Each public builder, the architecture it builds, and its family's options (tiny where it can be).
PUBLIC_BUILDERS = [
    ("fcn32s", models.fcn32s, {"width": 1 / 16}, ("32",)),
    ("fcn16s", models.fcn16s, {"width": 1 / 16}, ("32", "16")),
    ("fcn8s", models.fcn8s, {"width": 1 / 16}, ("32", "16", "8")),
    ("fcn8s-atonce", models.fcn8s_atonce, {"width": 1 / 16}, ("32", "16", "8")),
    ("fcn_resnet50", models.fcn_resnet50, {"aux": True}, ("8", "aux")),
    ("fcn_resnet101", models.fcn_resnet101, {"aux": False}, ("8",)),
    ("deeplabv3_resnet50", models.deeplabv3_resnet50, {"aux": True}, ("8", "aux")),
    ("deeplabv3_resnet101", models.deeplabv3_resnet101, {"aux": False}, ("8",)),
    ("deeplabv3_mobilenet_v3_large", models.deeplabv3_mobilenet_v3_large, {"aux": True}, ("16", "aux")),
    ("lraspp_mobilenet_v3_large", models.lraspp_mobilenet_v3_large, {}, ("16", "8")),
    ("unet", models.unet, {"width": 1 / 16, "bilinear": True}, ()),
    ("unet_paper", models.unet_paper, {"width": 1 / 16, "in_channels": 3}, ()),
]


@pytest.mark.parametrize(("arch", "builder", "options", "stages"), PUBLIC_BUILDERS)
def test_public_builders_build_what_their_name_says(arch, builder, options, stages) -> None:
    torch.manual_seed(0)
    model = builder(num_classes=3, **options).eval()
    assert isinstance(model, SegmentationModel)
    assert (model.arch, model.num_classes, model.stage_names) == (arch, 3, stages)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 40, 56))
    assert list(out) == ["out", *stages]
    assert out["out"].shape == (1, 3, 40, 56)
    assert all(out[name].shape[:2] == (1, 3) for name in stages)
    assert {"out", *stages} >= set(model.streams()) - {"resized", *level_names(model)} >= set(stages)


@pytest.mark.parametrize(("arch", "builder", "options", "stages"), PUBLIC_BUILDERS)
def test_build_model_is_the_builder_of_the_spec(arch, builder, options, stages) -> None:
    torch.manual_seed(0)
    built = build_model(ArchSpec(arch, num_classes=3, **options))
    torch.manual_seed(0)
    direct = builder(num_classes=3, **options)
    assert BUILDERS[arch] is builder
    assert type(built) is type(direct) and repr(built) == repr(direct)
    assert built.state_dict().keys() == direct.state_dict().keys()
    assert all(torch.equal(v, direct.state_dict()[k]) for k, v in built.state_dict().items())


def test_builders_take_keyword_arguments_only() -> None:
    for builder in BUILDERS.values():
        with pytest.raises(TypeError):
            builder(3)


def test_the_protocol_is_structural() -> None:
    assert isinstance(build_model(ArchSpec("fcn32s", width=1 / 16)), SegmentationModel)
    assert not isinstance(torch.nn.Conv2d(3, 3, 1), SegmentationModel)


def test_state_dict_keys_are_those_of_the_pytorch_port() -> None:
    model = build_model(ArchSpec("fcn8s", width=1 / 16))
    assert set(model.state_dict()) == PORT_KEYS_8S


def test_full_width_shapes_match_the_reference() -> None:
    with torch.device("meta"):
        model = build_model(ArchSpec("fcn8s"))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["conv1_1.weight"] == (64, 3, 3, 3)
    assert model.conv1_1.padding == (100, 100)
    assert shapes["fc6.weight"] == (4096, 512, 7, 7)
    assert shapes["fc7.weight"] == (4096, 4096, 1, 1)
    assert shapes["score_pool3.weight"] == (21, 256, 1, 1)
    assert shapes["upscore8.weight"] == (21, 21, 16, 16)
    assert all(m.ceil_mode for n, m in model.named_modules() if n.startswith("pool"))


def test_width_scales_channels_not_geometry() -> None:
    small = build_model(ArchSpec("fcn16s", width=0.25))
    assert small.conv1_1.out_channels == 16 and small.fc6.out_channels == 1024
    assert small.fc6.kernel_size == (7, 7) and small.upscore16.kernel_size == (32, 32)


def test_deconvolutions_start_bilinear_and_scores_zero() -> None:
    model = build_model(ArchSpec("fcn8s", num_classes=2, width=1 / 16))
    kernel = bilinear_kernel(2, 4)
    assert torch.equal(model.upscore2.weight, kernel)
    assert torch.allclose(kernel[0, 0, 0], torch.tensor([0.0625, 0.1875, 0.1875, 0.0625]))
    assert kernel[0, 1].abs().sum() == 0
    assert model.score_fr.weight.abs().sum() == 0 and model.score_pool3.bias.abs().sum() == 0
    assert model.upscore2.bias is None


def _reference(state: dict, x: torch.Tensor, *, skips: int, at_once: bool) -> torch.Tensor:
    """The published port's forward, written out with functional ops on the state dict."""
    h = x
    taps = {}
    for block, convs, _ in VGG16_BLOCKS:
        for i in range(1, convs + 1):
            pad = 100 if (block, i) == (1, 1) else 1
            h = F.relu(F.conv2d(h, state[f"conv{block}_{i}.weight"], state[f"conv{block}_{i}.bias"], padding=pad))
        h = F.max_pool2d(h, 2, 2, ceil_mode=True)
        taps[block] = h
    h = F.relu(F.conv2d(h, state["fc6.weight"], state["fc6.bias"]))
    h = F.relu(F.conv2d(h, state["fc7.weight"], state["fc7.bias"]))
    h = F.conv2d(h, state["score_fr.weight"], state["score_fr.bias"])
    H, W = x.shape[-2:]
    if skips == 0:
        return F.conv_transpose2d(h, state["upscore.weight"], stride=32)[:, :, 19 : 19 + H, 19 : 19 + W]
    h = F.conv_transpose2d(h, state["upscore2.weight"], stride=2)
    p4 = taps[4] * (0.01 if at_once else 1)
    s4 = F.conv2d(p4, state["score_pool4.weight"], state["score_pool4.bias"])[
        :, :, 5 : 5 + h.shape[2], 5 : 5 + h.shape[3]
    ]
    h = h + s4
    if skips == 1:
        return F.conv_transpose2d(h, state["upscore16.weight"], stride=16)[:, :, 27 : 27 + H, 27 : 27 + W]
    h = F.conv_transpose2d(h, state["upscore_pool4.weight"], stride=2)
    p3 = taps[3] * (0.0001 if at_once else 1)
    s3 = F.conv2d(p3, state["score_pool3.weight"], state["score_pool3.bias"])[
        :, :, 9 : 9 + h.shape[2], 9 : 9 + h.shape[3]
    ]
    h = h + s3
    return F.conv_transpose2d(h, state["upscore8.weight"], stride=8)[:, :, 31 : 31 + H, 31 : 31 + W]


@pytest.mark.parametrize(
    ("arch", "skips", "at_once"),
    [("fcn32s", 0, False), ("fcn16s", 1, False), ("fcn8s", 2, False), ("fcn8s-atonce", 2, True)],
)
@pytest.mark.parametrize("size", [(32, 32), (67, 91), (100, 33)])
def test_forward_matches_the_hand_built_reference(arch: str, skips: int, at_once: bool, size: tuple[int, int]) -> None:
    model = randomize(build_model(ArchSpec(arch, num_classes=3, width=1 / 16)), seed=1)
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(2)) * 50
    with torch.no_grad():
        ours = model(x)["out"]
        reference = _reference(model.state_dict(), x, skips=skips, at_once=at_once)
    assert ours.shape == reference.shape == (1, 3, *size)
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)


def test_at_once_scaling_changes_the_output() -> None:
    staged = randomize(build_model(ArchSpec("fcn8s", num_classes=3, width=1 / 16)), seed=3)
    at_once = build_model(ArchSpec("fcn8s-atonce", num_classes=3, width=1 / 16)).eval()
    at_once.load_state_dict(staged.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(staged(x)["out"], at_once(x)["out"])
        assert torch.equal(staged(x)["32"], at_once(x)["32"])


def test_fcn_resnet_heads_are_stride_8_and_out_is_their_resize() -> None:
    model = build_model(ArchSpec("fcn_resnet50", num_classes=3, aux=True)).eval()
    x = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        out = model(x)
        reference = model.net(x)
    assert out["8"].shape[-2:] == (8, 10) and out["aux"].shape[-2:] == (8, 10)
    torch.testing.assert_close(out["out"], reference["out"])
    torch.testing.assert_close(out["aux"], model.net.aux_classifier(model.net.backbone(x)["aux"]))
