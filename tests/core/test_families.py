"""DeepLabV3, LRASPP and U-Net: their original state dicts load, ``predict --scores`` gives their own
forward's logits, receptive fields through dilations, global pooling and skips; foreign files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision.models import segmentation

from fcnviewer.cli import main
from fcnviewer.core.checkpoints import CheckpointError, LoadedModel, ModelInfo, load_checkpoint
from fcnviewer.core.inference import Predictor
from fcnviewer.core.models import ArchSpec, build_model, unet, unet_paper
from fcnviewer.core.models.unet import PAPER_CROPS, paper_input_size
from fcnviewer.core.preprocessing import IMAGENET_RGB
from fcnviewer.core.receptive import branch_contributions, layer_table, pixel_boxes
from tests.conftest import randomize


def with_batch_norm_statistics(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and random running statistics (a freshly built net's are trivial)."""
    randomize(model, seed)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.uniform_(0.5, 1.0, generator=generator)
    return model.eval()


def predict_scores(tmp_path: Path, checkpoint: Path, image: np.ndarray) -> np.ndarray:
    """``fcnviewer predict --scores --precision float32 --device cpu``'s logits."""
    path = tmp_path / "photo.png"
    Image.fromarray(image).save(path)
    argv = ["predict", str(path), "--checkpoint", str(checkpoint), "--scores", "--precision", "float32"]
    assert main([*argv, "--device", "cpu", "--out", str(tmp_path / "out")]) == 0
    return np.load(tmp_path / "out" / "photo_scores.npz")["logits"]


def assert_close_to_largest(found: np.ndarray, expected: torch.Tensor) -> None:
    """Equal to 1e-4 of the largest logit."""
    expected_np = expected[0].numpy()
    assert found.shape == expected_np.shape
    assert np.abs(found - expected_np).max() <= 1e-4 * np.abs(expected_np).max()


# ----------------------------------------------------------------------------- torchvision

TORCHVISION = [
    ("deeplabv3_resnet50", segmentation.deeplabv3_resnet50, {"aux_loss": True}),
    ("deeplabv3_mobilenet_v3_large", segmentation.deeplabv3_mobilenet_v3_large, {"aux_loss": False}),
    ("lraspp_mobilenet_v3_large", segmentation.lraspp_mobilenet_v3_large, {}),
]


@pytest.mark.parametrize(("arch", "builder", "options"), TORCHVISION)
def test_torchvision_state_dicts_predict_their_own_logits(tmp_path, rgb_image, arch, builder, options) -> None:
    reference = with_batch_norm_statistics(builder(weights=None, weights_backbone=None, num_classes=3, **options))
    checkpoint = tmp_path / f"{arch}.pth"
    torch.save(reference.state_dict(), checkpoint)
    loaded = load_checkpoint(checkpoint)
    assert loaded.info.spec == ArchSpec(arch, 3, aux=bool(options.get("aux_loss")))
    assert loaded.info.preprocessing == IMAGENET_RGB and loaded.info.domain == "unknown"
    with torch.no_grad():
        expected = reference(IMAGENET_RGB.to_tensor(rgb_image))["out"]
    assert_close_to_largest(predict_scores(tmp_path, checkpoint, rgb_image), expected)


@pytest.mark.parametrize("arch", ["fcn_resnet50", "lraspp_mobilenet_v3_large"])
def test_own_checkpoints_of_torchvision_nets_round_trip(tmp_path, arch) -> None:
    from fcnviewer.core.checkpoints import save_checkpoint

    spec = ArchSpec(arch, 3)
    model = randomize(build_model(spec))
    path = save_checkpoint(tmp_path / "own.safetensors", model, ModelInfo.default_for(spec))
    loaded = load_checkpoint(path)
    assert loaded.info.spec == spec
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in model.state_dict().items())


def test_resnet101_variants_and_voc_names_are_recognised(tmp_path) -> None:
    reference = segmentation.deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    torch.save({"model": reference.state_dict()}, tmp_path / "d101.pth")
    loaded = load_checkpoint(tmp_path / "d101.pth")
    assert loaded.info.spec == ArchSpec("deeplabv3_resnet101", 21, aux=True)
    assert loaded.info.class_names[15] == "person" and loaded.model.stage_names == ("8", "aux")


def test_deeplab_tables_see_the_whole_image_after_the_aspp() -> None:
    with torch.device("meta"):
        model = build_model(ArchSpec("deeplabv3_resnet50", aux=True))
    rows = {row.layer: row for row in layer_table(model)}
    head = rows["net.classifier.4"]
    assert (head.size, head.stride, head.whole_image) == (1019, 8.0, True)  # 427 backbone + 2*36*8 + 2*8
    assert rows["net.classifier.0.convs.3.0"].whole_image is False  # the dilation-36 branch alone is local
    assert (rows["aux"].size, rows["aux"].whole_image) == (283, False)
    boxes = pixel_boxes(model, 40, 50, (100, 120))
    assert boxes["8"].whole_image and boxes["final"].whole_image and not boxes["aux"].whole_image


def test_lraspp_branches_are_exact_and_gated_by_the_whole_image() -> None:
    model = randomize(build_model(ArchSpec("lraspp_mobilenet_v3_large", 4)), 3)
    rows = {row.layer: row for row in layer_table(model)}
    assert (rows["8"].stride, rows["net.classifier.high_classifier"].stride) == (8.0, 16.0)
    assert rows["8"].whole_image and rows["resized"].whole_image  # MobileNetV3's squeeze-and-excitation gates
    inputs = torch.randn(1, 3, 64, 72) * 0.1
    shares = branch_contributions(model, inputs, 20, 30, class_index=2)
    with torch.no_grad():
        logit = float(model(inputs)["out"][0, 2, 20, 30])
    assert list(shares) == ["low", "high"]
    assert sum(shares.values()) == pytest.approx(logit, rel=1e-4, abs=1e-4 * abs(logit) + 1e-6)


# ----------------------------------------------------------------------------- U-Net


def milesial_checkpoint(path: Path, model: nn.Module, mask_values: list) -> Path:
    """A checkpoint as milesial/Pytorch-UNet's train.py writes it: the state dict plus ``mask_values``."""
    state = model.state_dict()
    state["mask_values"] = mask_values
    torch.save(state, path)
    return path


@pytest.mark.parametrize(("classes", "bilinear", "channels"), [(2, False, 3), (1, True, 3), (3, False, 1)])
def test_milesial_checkpoints_predict_their_own_logits(tmp_path, rgb_image, classes, bilinear, channels) -> None:
    reference = with_batch_norm_statistics(
        unet(num_classes=classes, in_channels=channels, bilinear=bilinear, width=1 / 16)
    )
    checkpoint = milesial_checkpoint(tmp_path / "unet.pth", reference, list(range(max(classes, 2))))
    loaded = load_checkpoint(checkpoint)
    assert loaded.info.spec == ArchSpec("unet", classes, 1 / 16, in_channels=channels, bilinear=bilinear)
    assert loaded.info.training["mask_values"] == list(range(max(classes, 2)))
    x = torch.from_numpy(rgb_image).permute(2, 0, 1)[None].float() / 255
    if channels == 1:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    with torch.no_grad():
        expected = reference(x)["out"]
    assert_close_to_largest(predict_scores(tmp_path, checkpoint, rgb_image), expected)


def test_milesial_carvana_layout_is_the_full_size_net() -> None:
    """The published Carvana checkpoint: UNet(n_channels=3, n_classes=2, bilinear=False), 31,037,698 parameters."""
    model = unet(num_classes=2)
    assert sum(p.numel() for p in model.parameters()) == 31_037_698
    keys = list(model.state_dict())
    assert keys[:2] == ["inc.double_conv.0.weight", "inc.double_conv.1.weight"]
    assert {"up1.up.weight", "down4.maxpool_conv.1.double_conv.3.weight", "outc.conv.bias"} <= set(keys)


def test_a_one_class_unet_is_a_sigmoid_head(rgb_image) -> None:
    spec = ArchSpec("unet", 1, 1 / 16)
    model = with_batch_norm_statistics(build_model(spec))
    info = ModelInfo.default_for(spec)
    assert info.class_names == ("background", "foreground") and len(info.palette) == 2
    prediction = Predictor(LoadedModel(model, info), device="cpu", precision="float32").predict(rgb_image)
    z = prediction.logits[0]
    assert prediction.logits.shape == (1, *rgb_image.shape[:2])
    np.testing.assert_array_equal(prediction.labels, (z > 0).astype(np.uint8))
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(prediction.confidence, np.maximum(p, 1 - p), rtol=1e-5)
    np.testing.assert_allclose(prediction.probabilities[1], p, rtol=1e-5)


def test_unet_levels_have_boxes_and_effective_fields(rgb_image) -> None:
    spec = ArchSpec("unet", 2, 1 / 16)
    model = with_batch_norm_statistics(build_model(spec))
    rows = {row.layer: (row.size, row.stride) for row in layer_table(model)}
    assert [rows[level] for level in ("16", "8", "4", "2", "1")] == [
        (140, 16.0), (172, 8.0), (188, 4.0), (204, 2.0), (204, 1.0)
    ]  # fmt: skip
    predictor = Predictor(LoadedModel(model, ModelInfo.default_for(spec)), device="cpu", precision="float32")
    probe = predictor.probe(rgb_image, 40, 50)
    assert list(probe.fields) == ["16", "8", "4", "2", "1", "final"]
    boxes = pixel_boxes(model, 40, 50, rgb_image.shape[:2])
    for name, field in probe.fields.items():
        ys, xs = np.nonzero(field)
        box = boxes[name]
        assert ys.size and box.y0 <= ys.min() and ys.max() <= box.y1 and box.x0 <= xs.min() and xs.max() <= box.x1
    assert "not a sum of branches" in probe.note


def test_the_paper_unet_is_valid_convolutions_with_exact_boxes() -> None:
    model = randomize(unet_paper(num_classes=2, width=1 / 16))
    assert paper_input_size(388) == 572 and paper_input_size(389) == 588
    x = torch.randn(1, 1, 572, 572)
    assert model.inc(x).shape[-1] == 568
    with torch.no_grad():
        assert model(x[..., :388, :400])["out"].shape == (1, 2, 388, 400)
    rows = {row.layer: row for row in layer_table(model)}
    assert [rows[level].size for level in ("16", "8", "4", "2", "1", "outc.conv")] == [140, 172, 188, 204, 204, 204]
    assert PAPER_CROPS == (4, 16, 40, 88)
    leaf = torch.randn(1, 1, 40, 44, requires_grad=True)
    model(leaf)["out"][0, 1, 20, 22].backward()
    ys, xs = np.nonzero(leaf.grad[0, 0].numpy())
    box = pixel_boxes(model, 20, 22, (40, 44))["final"]
    assert box.y0 <= ys.min() and ys.max() <= box.y1 and box.x0 <= xs.min() and xs.max() <= box.x1


def test_rf_cli_works_for_every_new_family_and_without_a_checkpoint(tmp_path, capsys) -> None:
    spec = ArchSpec("lraspp_mobilenet_v3_large", 3)
    torch.save(randomize(build_model(spec)).net.state_dict(), tmp_path / "lraspp.pth")
    milesial_checkpoint(tmp_path / "unet.pth", randomize(unet(num_classes=1, width=1 / 16)), [0, 1])
    for checkpoint in ("lraspp.pth", "unet.pth"):
        assert main(["rf", "--checkpoint", str(tmp_path / checkpoint), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert {"resized", "1"} & {row["layer"] for row in report["layers"]}
    assert main(["rf", "--arch", "unet_paper", "--json"]) == 0
    rows = {row["layer"]: row for row in json.loads(capsys.readouterr().out)["layers"]}
    assert rows["16"]["size"] == 140 and rows["outc.conv"]["size"] == 204


# ----------------------------------------------------------------------------- foreign files


@pytest.mark.parametrize(
    ("keys", "looks_like"),
    [
        (["segformer.encoder.patch_embeddings.0.proj.weight", "decode_head.classifier.weight"], "a SegFormer"),
        (["features.0.weight", "classifier.0.weight"], "an image classifier"),
        (["backbone.conv1.weight", "classifier.weight"], "a torchvision segmentation backbone with a head"),
    ],
)
def test_foreign_checkpoints_get_one_line_naming_what_they_look_like(tmp_path, keys, looks_like) -> None:
    torch.save({key: torch.zeros(2, 2, 1, 1) for key in keys}, tmp_path / "foreign.pth")
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(tmp_path / "foreign.pth")
    message = str(raised.value)
    assert looks_like in message and "U-Net" in message and "DeepLabV3" in message and "\n" not in message
