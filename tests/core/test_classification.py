"""Convolutionalised ImageNet classifiers: structure, recognition, the same numbers as torchvision's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from fcnviewer.core.checkpoints import load_checkpoint, save_checkpoint
from fcnviewer.core.labels import default_class_names, imagenet_classes
from fcnviewer.core.models import BUILDERS, CLASSIFIER_ARCHS, SegmentationModel, build_model
from fcnviewer.core.models.classification import InputTooSmallError, LinearConv
from fcnviewer.core.preprocessing import IMAGENET_RGB
from fcnviewer.core.receptive import layer_table, stage_geometry
from fcnviewer.core.recognition import detect_spec

#: The receptive field (pixels) and stride of each dense map, walked from the modules.
DENSE_RF = {
    "vgg11": 342,
    "vgg16": 404,
    "vgg19": 460,
    "alexnet": 355,
    "googlenet": 379,
    "resnet18": 435,
    "resnet50": 427,
}


def _torchvision_net(arch: str, **options) -> nn.Module:
    extra = {"aux_logits": True, "init_weights": False} if arch == "googlenet" else {}
    return getattr(torchvision.models, arch)(weights=None, **(extra | options))


@pytest.mark.parametrize("arch", CLASSIFIER_ARCHS)
def test_each_classifier_is_torchvisions_net_and_is_recognised_from_its_keys(arch: str) -> None:
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        state = _torchvision_net(arch).state_dict()
        ours = BUILDERS[arch](**({"aux": True} if arch == "googlenet" else {}))
    spec = detect_spec(state)
    assert (spec.arch, spec.num_classes, spec.aux) == (arch, 1000, arch == "googlenet")
    mine = ours.net.state_dict()
    assert mine.keys() == state.keys()
    assert all(mine[key].shape == state[key].shape for key in state)
    assert isinstance(ours, SegmentationModel) and ours.stage_names == ("32",)
    # a unit stands for one 224x224 crop where a window slides (VGG, AlexNet), not behind a global pool
    assert hasattr(ours, "crop_size") == (arch.startswith("vgg") or arch == "alexnet")
    assert stage_geometry(ours)["32"].stride == 32
    if arch in DENSE_RF:
        assert layer_table(ours)[-1].size == DENSE_RF[arch]


def test_vgg16s_dense_map_sees_404_pixels_at_stride_32() -> None:
    with torch.device("meta"):
        model = build_model_spec("vgg16")
    last = layer_table(model)[-1]
    assert (last.layer, last.size, last.stride, last.center0) == ("net.classifier.6", 404, 32.0, 111.5)


def build_model_spec(arch: str) -> nn.Module:
    from fcnviewer.core.models import ArchSpec

    return build_model(ArchSpec(arch, 1000))


def test_linear_conv_holds_the_same_numbers_and_saves_the_matrix() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(8 * 3 * 3, 5)
    conv = LinearConv(linear, 3)
    assert conv.weight.shape == (5, 8, 3, 3)
    assert torch.equal(conv.weight.flatten(1), linear.weight) and torch.equal(conv.bias, linear.bias)
    saved = conv.state_dict()
    assert saved["weight"].shape == (5, 72) and torch.equal(saved["weight"], linear.weight)
    other = LinearConv(nn.Linear(72, 5), 3)
    other.load_state_dict(linear.state_dict())
    assert torch.equal(other.weight, conv.weight)
    x = torch.randn(2, 8, 3, 3)
    assert torch.allclose(conv(x)[:, :, 0, 0], linear(x.flatten(1)), atol=1e-6)


@pytest.mark.parametrize("arch", ["vgg11", "alexnet", "resnet18", "googlenet"])
def test_at_224_the_dense_map_is_torchvisions_logits(arch: str) -> None:
    """The converted net computes torchvision's own forward: a 1x1 map (VGG, AlexNet), or a 7x7 map whose
    mean is the logits (ResNet, GoogLeNet: the 1x1 ``fc`` commutes with the global average pool)."""
    torch.manual_seed(0)
    model = (build_model_spec(arch) if arch != "googlenet" else BUILDERS[arch](aux=True)).eval()
    with torch.device("meta"):  # initialised once, ours: the reference gets our weights as torchvision saves them
        reference = _torchvision_net(arch, **({"transform_input": True} if arch == "googlenet" else {}))
    reference = reference.to_empty(device="cpu").eval()
    reference.load_state_dict(model.net.state_dict())
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = reference(x)
        out = model(x)
    dense = out["32"]
    assert dense.shape[-2:] == ((1, 1) if arch in ("vgg11", "alexnet") else (7, 7))
    assert out["out"].shape == (2, 1000, 224, 224)
    torch.testing.assert_close(dense.mean((-2, -1)), expected, rtol=1e-4, atol=1e-5)


def test_a_larger_image_gives_a_map_of_crops_and_a_small_one_one_sentence() -> None:
    torch.manual_seed(0)
    model = build_model_spec("alexnet").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 288, 352))["32"].shape == (1, 1000, 3, 5)
        with pytest.raises(InputTooSmallError, match=r"the image is 200x100, smaller than the 224x224 crop"):
            model(torch.randn(1, 3, 100, 200))


def test_imagenet_names_are_torchvisions_and_any_1000_class_net_gets_them() -> None:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    assert imagenet_classes() == tuple(_IMAGENET_CATEGORIES)
    assert default_class_names(1000) == tuple(_IMAGENET_CATEGORIES)


def test_a_saved_torchvision_state_dict_loads_with_names_and_preprocessing(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = _torchvision_net("resnet18").eval()
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(reference.state_dict(), path)
    loaded = load_checkpoint(path)
    assert loaded.info.spec.arch == "resnet18"
    assert loaded.info.class_names[:2] == ("tench", "goldfish") and len(loaded.info.class_names) == 1000
    assert loaded.info.preprocessing == IMAGENET_RGB
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x)["32"].mean((-2, -1)), reference(x), rtol=1e-4, atol=1e-5)
    saved = loaded.model.net.state_dict()
    assert saved["fc.weight"].shape == (1000, 512) and torch.equal(saved["fc.weight"], reference.fc.weight)
    again = load_checkpoint(save_checkpoint(tmp_path / "ours.safetensors", loaded.model, loaded.info))
    assert again.info == loaded.info and torch.equal(again.model.net.fc.weight, loaded.model.net.fc.weight)
